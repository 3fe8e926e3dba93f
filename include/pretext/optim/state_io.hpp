// SPDX-License-Identifier: Apache-2.0
// An optimizer's state (step counter and per-parameter tensors such as exp_avg) to and from
// safetensors, for exact resume. Names are "<parameter>.<slot>" and "step"; writing is atomic.
// Needs the pretext::io target.
#pragma once

#include "pretext/io/safetensors.hpp"
#include "pretext/optim/optimizer.hpp"

#include <string>

namespace pretext::optim {

/// Adds the optimizer's step counter and state tensors to a writer as "<prefix>step" and
/// "<prefix><parameter>.<slot>".
template <class Opt>
void add_optimizer_state(io::SafetensorsWriter& w, const Opt& opt, const std::string& prefix = "") {
  Tensor<std::int64_t, 1> step(Shape<1>{1});
  step.data()[0] = opt.steps_taken();
  w.add(prefix + "step", step);
  for (const auto& [name, t] : opt.state_tensors()) w.add(prefix + name, t);
}

template <class Opt>
void save_optimizer_state(const Opt& opt, const std::string& path) {
  io::SafetensorsWriter w;
  add_optimizer_state(w, opt);
  w.write(path);
}

/// Restores what add_optimizer_state wrote under `prefix` in an open file.
template <class Opt>
void load_optimizer_state(Opt& opt, const io::SafetensorsFile& f, const std::string& prefix) {
  using T = typename Opt::value_type;
  PRETEXT_CHECK(f.contains(prefix + "step"), io_error, "pretext::optim::load_optimizer_state: '",
                f.path(), "' has no '", prefix, "step'; is it an optimizer state file?");
  const auto step = f.template get<std::int64_t, 1>(prefix + "step");
  opt.load_state(static_cast<long>(step.data()[0]), [&](const std::string& name) {
    return f.contains(prefix + name) ? f.template get<T, 1>(prefix + name) : Tensor<T, 1>();
  });
}

template <class Opt>
void load_optimizer_state(Opt& opt, const std::string& path) {
  load_optimizer_state(opt, io::SafetensorsFile::open(path), "");
}

}  // namespace pretext::optim
