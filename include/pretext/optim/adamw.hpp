// SPDX-License-Identifier: Apache-2.0
// AdamW (Loshchilov & Hutter) as torch.optim.AdamW: decoupled weight decay p *= 1 - lr wd, then
// Adam's bias-corrected update p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
#pragma once

#include "pretext/ops/fused.hpp"
#include "pretext/optim/optimizer.hpp"

namespace pretext::optim {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

template <floating T = float>
class AdamW : public Optimizer<AdamW<T>, T, AdamWOptions, 2> {
  using Base = Optimizer<AdamW<T>, T, AdamWOptions, 2>;

 public:
  static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_avg_sq"};
  using Base::Base;

  static void check(const AdamWOptions& o) {
    PRETEXT_CHECK(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0, config_error,
                  "pretext::optim::AdamW: lr ", o.lr, ", eps ", o.eps, " and weight_decay ",
                  o.weight_decay, " must not be negative");
    PRETEXT_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, config_error,
                  "pretext::optim::AdamW: betas (", o.beta1, ", ", o.beta2, ") must be in [0, 1)");
  }

  void update(const AdamWOptions& o, const ParamRef<T>& p, Tensor<T, 1>* state, long step, bool) {
    const cpu::AdamWStep<T> h{static_cast<T>(o.lr),           static_cast<T>(o.beta1),
                              static_cast<T>(o.beta2),        static_cast<T>(o.eps),
                              static_cast<T>(o.weight_decay), step};
    adamw_step_(p.data(), p.grad(), state[0], state[1], h);
  }
};

}  // namespace pretext::optim
