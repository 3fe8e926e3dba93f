// SPDX-License-Identifier: Apache-2.0
// What the trainer tells the outside world: StepInfo after every optimizer step, a Callback
// interface to act on it (custom logging, early stopping, evaluation every N steps), and the
// result of a run.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pretext::train {

struct StepInfo {
  long step = 0;  ///< optimizer steps done, 1-based after the first step
  long total_steps = 0;
  std::int64_t epoch = 0;
  double loss = 0;       ///< mean loss over the step's micro-batches
  double grad_norm = 0;  ///< global gradient norm before clipping (0 when not computed)
  double lr_scale = 1;   ///< the schedule's multiplier used for this step
  double seconds = 0;    ///< since fit() started
  double samples_per_second = 0;
  const std::vector<std::pair<std::string, double>>* metrics = nullptr;  ///< the objective's
};

struct TrainResult {
  long steps = 0;            ///< optimizer steps done in total (including before a resume)
  double last_loss = 0;      ///< the mean loss of the last logging window
  double seconds = 0;        ///< wall time of this fit() call
  bool interrupted = false;  ///< stopped by SIGINT/SIGTERM or request_stop() (checkpoint written)
  std::vector<std::pair<long, double>> loss_curve;  ///< (step, mean loss) at every log point
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_step_end(const StepInfo&) {}
  /// At each logging point (every log_every steps), with window-averaged loss and metrics.
  virtual void on_log(const StepInfo&) {}
  virtual void on_train_end(const TrainResult&) {}
};

}  // namespace pretext::train
