// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules as multipliers of each group's base learning rate, applied per step:
//   opt.set_lr_scale(schedule(step)); opt.step();
// (torch.optim.lr_scheduler.LambdaLR works the same way.) Steps count from 0.
#pragma once

#include "pretext/core/error.hpp"

#include <cmath>
#include <concepts>
#include <numbers>

namespace pretext::optim {

/// Anything that maps a step to a learning-rate multiplier.
template <class S>
concept schedule = requires(const S& s, long step) {
  { s(step) } -> std::convertible_to<double>;
};

/// The base learning rate throughout.
struct ConstantSchedule {
  double operator()(long) const noexcept { return 1.0; }
};

/// Multiplies by gamma every step_size steps (torch's StepLR).
struct StepSchedule {
  long step_size;
  double gamma = 0.1;
  double operator()(long step) const {
    PRETEXT_CHECK(step_size > 0, config_error, "pretext::optim::StepSchedule: step_size ",
                  step_size, " must be positive");
    return std::pow(gamma, static_cast<double>(step / step_size));
  }
};

/// Linear warm-up from 1/warmup to 1 over the first `warmup` steps, then a cosine from 1 down
/// to final_scale at step `total` (and final_scale after it).
struct WarmupCosineSchedule {
  long warmup;
  long total;
  double final_scale = 0.0;
  double operator()(long step) const {
    PRETEXT_CHECK(warmup >= 0 && total > warmup, config_error,
                  "pretext::optim::WarmupCosineSchedule: needs 0 <= warmup < total; got warmup ",
                  warmup, ", total ", total);
    if (step < warmup) return static_cast<double>(step + 1) / static_cast<double>(warmup);
    if (step >= total) return final_scale;
    const double t = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
    return final_scale + (1.0 - final_scale) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }
};

/// The momentum of an EMA teacher rising from base to 1 along a half cosine (BYOL, DINO):
/// 1 - (1 - base) (cos(pi step / total) + 1) / 2.
inline double cosine_momentum(double base, long step, long total) {
  PRETEXT_CHECK(total > 0 && base >= 0 && base <= 1, config_error,
                "pretext::optim::cosine_momentum: needs total > 0 and base in [0, 1]; got base ",
                base, ", total ", total);
  const double t = std::min(1.0, static_cast<double>(step) / static_cast<double>(total));
  return 1.0 - (1.0 - base) * (std::cos(std::numbers::pi * t) + 1.0) / 2.0;
}

}  // namespace pretext::optim
