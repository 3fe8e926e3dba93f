// SPDX-License-Identifier: Apache-2.0
// SGD with momentum, Nesterov momentum and (coupled) weight decay, as torch.optim.SGD:
//   g' = g + wd p;  buf = momentum buf + (1 - dampening) g'  (buf = g' on the first step);
//   p -= lr (nesterov ? g' + momentum buf : buf).
#pragma once

#include "pretext/ops/fused.hpp"
#include "pretext/optim/optimizer.hpp"

namespace pretext::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <floating T = float>
class SGD : public Optimizer<SGD<T>, T, SgdOptions, 1> {
  using Base = Optimizer<SGD<T>, T, SgdOptions, 1>;

 public:
  static constexpr std::array<const char*, 1> state_names{"momentum_buffer"};
  using Base::Base;

  static void check(const SgdOptions& o) {
    PRETEXT_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0, config_error,
                  "pretext::optim::SGD: lr ", o.lr, ", momentum ", o.momentum, " and weight_decay ",
                  o.weight_decay, " must not be negative");
    PRETEXT_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), config_error,
                  "pretext::optim::SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  }

  void update(const SgdOptions& o, const ParamRef<T>& p, Tensor<T, 1>* state, long, bool fresh) {
    // A fresh momentum buffer starts as the gradient, as in PyTorch.
    const bool first = fresh;
    const cpu::SgdStep<T> h{static_cast<T>(o.lr),
                            static_cast<T>(o.momentum),
                            static_cast<T>(o.dampening),
                            static_cast<T>(o.weight_decay),
                            o.nesterov,
                            first};
    sgd_step_(p.data(), p.grad(), o.momentum != 0 ? state[0] : Tensor<T, 1>(), h);
  }
};

}  // namespace pretext::optim
