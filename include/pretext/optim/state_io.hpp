// SPDX-License-Identifier: Apache-2.0
// An optimizer's state (step counter and per-parameter tensors such as exp_avg) to and from
// safetensors, for exact resume. Names are "<parameter>.<slot>" and "step"; writing is atomic.
// Needs the pretext::io target.
#pragma once

#include "pretext/io/safetensors.hpp"
#include "pretext/optim/optimizer.hpp"

#include <string>

namespace pretext::optim {

template <class Opt>
void save_optimizer_state(const Opt& opt, const std::string& path) {
  io::SafetensorsWriter w;
  Tensor<std::int64_t, 1> step(Shape<1>{1});
  step.data()[0] = opt.steps_taken();
  w.add("step", step);
  for (const auto& [name, t] : opt.state_tensors()) w.add(name, t);
  w.write(path);
}

template <class Opt>
void load_optimizer_state(Opt& opt, const std::string& path) {
  using T = typename Opt::value_type;
  const auto f = io::SafetensorsFile::open(path);
  PRETEXT_CHECK(f.contains("step"), io_error, "pretext::optim::load_optimizer_state: '", path,
                "' has no 'step'; is it an optimizer state file?");
  const auto step = f.template get<std::int64_t, 1>("step");
  opt.load_state(static_cast<long>(step.data()[0]), [&](const std::string& name) {
    return f.contains(name) ? f.template get<T, 1>(name) : Tensor<T, 1>();
  });
}

}  // namespace pretext::optim
