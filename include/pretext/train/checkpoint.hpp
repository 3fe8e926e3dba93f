// SPDX-License-Identifier: Apache-2.0
// Training checkpoints: one safetensors file, written atomically, with everything a resumed run
// needs to continue bit for bit on the same thread count:
//   model.<name>          the objective's parameters and buffers (encoder, heads, teachers)
//   optim.step, optim.*   the optimizer's step counter and state tensors
//   trainer.step          optimizer steps taken (the schedule is a function of it)
//   rng.objective         the objective's Generator (seed, offset) as two int64
//   rng.default           the process-wide Generator (dropout without its own)
//   loader.position       (epoch, batch) of the next batch the loader hands out
// Needs the pretext::io target.
#pragma once

#include "pretext/core/random.hpp"
#include "pretext/io/safetensors.hpp"
#include "pretext/nn/state_dict.hpp"
#include "pretext/optim/state_io.hpp"

#include <bit>
#include <cstdint>
#include <string>

namespace pretext::train {

namespace detail {

inline Tensor<std::int64_t, 1> int64_pair(std::int64_t a, std::int64_t b) {
  Tensor<std::int64_t, 1> t(Shape<1>{2});
  t.data()[0] = a;
  t.data()[1] = b;
  return t;
}

inline Tensor<std::int64_t, 1> generator_state(const Generator& g) {
  return int64_pair(std::bit_cast<std::int64_t>(g.seed()), std::bit_cast<std::int64_t>(g.offset()));
}

inline Tensor<std::int64_t, 1> read_pair(const io::SafetensorsFile& f, const std::string& name) {
  PRETEXT_CHECK(f.contains(name), io_error, "pretext::train::load_checkpoint: '", f.path(),
                "' has no '", name, "'; is it a checkpoint written by pretext::train?");
  auto t = f.get<std::int64_t, 1>(name);
  PRETEXT_CHECK(t.numel() == 2, io_error, "pretext::train::load_checkpoint: '", name, "' in '",
                f.path(), "' has ", t.numel(), " values, expected 2");
  return t;
}

inline void restore_generator(Generator& g, const io::SafetensorsFile& f, const std::string& name) {
  const auto t = read_pair(f, name);
  g.manual_seed(std::bit_cast<std::uint64_t>(t.data()[0]));
  g.set_offset(std::bit_cast<std::uint64_t>(t.data()[1]));
}

}  // namespace detail

/// Writes a checkpoint of the run to `path` atomically (the old file stays until the new one
/// is complete).
template <class Objective, class Opt, class Loader>
void save_checkpoint(const std::string& path, Objective& objective, const Opt& optimizer,
                     const Loader& loader, long step, const Generator& rng) {
  io::SafetensorsWriter w;
  nn::add_state_dict(w, objective, "model.");
  optim::add_optimizer_state(w, optimizer, "optim.");
  w.add("trainer.step", detail::int64_pair(step, 0));
  w.add("rng.objective", detail::generator_state(rng));
  w.add("rng.default", detail::generator_state(default_generator()));
  const auto pos = loader.position();
  w.add("loader.position", detail::int64_pair(pos.epoch, pos.batch));
  w.metadata("format", "pretext.checkpoint.v1").metadata("step", std::to_string(step));
  w.write(path);
}

/// Restores a checkpoint written by save_checkpoint; returns the step it was taken at.
template <class Objective, class Opt, class Loader>
long load_checkpoint(const std::string& path, Objective& objective, Opt& optimizer, Loader& loader,
                     Generator& rng) {
  const auto f = io::SafetensorsFile::open(path);
  nn::load_state_dict(objective, f, "model.");
  optim::load_optimizer_state(optimizer, f, "optim.");
  const long step = static_cast<long>(detail::read_pair(f, "trainer.step").data()[0]);
  detail::restore_generator(rng, f, "rng.objective");
  detail::restore_generator(default_generator(), f, "rng.default");
  const auto pos = detail::read_pair(f, "loader.position");
  auto p = loader.position();
  p.epoch = pos.data()[0];
  p.batch = pos.data()[1];
  loader.seek(p);
  return step;
}

}  // namespace pretext::train
