// SPDX-License-Identifier: Apache-2.0
// The Objective concept: what the trainer runs. An objective is a module (it owns the encoder,
// heads, teachers and queues it needs, so one state dict checkpoints all of it) with
//
//   Var<T, 0> loss(const Batch& batch, StepContext& ctx);   // required: forward to a scalar
//   void after_step(StepContext& ctx);                      // optional: after the optimizer step
//                                                           // (EMA teachers, queues of keys)
//
// ctx gives the step, the epoch, the micro-batch within gradient accumulation, the objective's
// own random stream (masks, noise, views) and a place to report extra metrics ("accuracy").
// Supervised classification (classifier.hpp) is one objective; the pre-training objectives are
// others, and a user's own objective is their peer.
#pragma once

#include "pretext/autograd.hpp"
#include "pretext/nn/module.hpp"

#include <concepts>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pretext::train {

/// Named scalars an objective reports for one step; the trainer averages them over a log window.
class StepMetrics {
 public:
  void set(const std::string& name, double value) {
    for (auto& [n, v] : items_)
      if (n == name) {
        v = value;
        return;
      }
    items_.emplace_back(name, value);
  }
  const std::vector<std::pair<std::string, double>>& items() const noexcept { return items_; }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

/// What an objective sees besides its batch.
struct StepContext {
  long step = 0;         ///< optimizer steps taken before this one
  long total_steps = 0;  ///< the run's length in optimizer steps (for schedules inside objectives)
  std::int64_t epoch = 0;    ///< the loader's epoch of this batch
  int micro_batch = 0;       ///< index within gradient accumulation, 0 .. accumulate - 1
  Generator* rng = nullptr;  ///< the objective's stream; checkpointed with the run
  StepMetrics* metrics = nullptr;

  Generator& generator() const { return rng ? *rng : default_generator(); }
  void report(const std::string& name, double value) const {
    if (metrics) metrics->set(name, value);
  }
};

/// The scalar loss type of an objective.
template <class O>
using loss_type = Var<nn::param_type_t<O>, 0>;

template <class O, class Batch>
concept Objective = nn::module<O> && requires(O& o, const Batch& batch, StepContext& ctx) {
  { o.loss(batch, ctx) } -> std::convertible_to<loss_type<O>>;
};

/// Objectives that update state after the optimizer step (EMA teachers, queues).
template <class O>
concept HasAfterStep = requires(O& o, StepContext& ctx) {
  o.after_step(ctx);
};

}  // namespace pretext::train
