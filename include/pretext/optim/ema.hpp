// SPDX-License-Identifier: Apache-2.0
// Exponential moving average of a module's parameters into a teacher of the same structure
// (BYOL, MoCo, DINO): teacher = momentum * teacher + (1 - momentum) * student, parameter by
// parameter, under no gradient; buffers (running statistics) are copied. The teacher usually
// starts as student.clone() with requires_grad_(false). Momentum 1 leaves it unchanged.
#pragma once

#include "pretext/nn/module.hpp"

namespace pretext::optim {

template <nn::module M>
void ema_update_(M& teacher, M& student, double momentum) {
  PRETEXT_CHECK(momentum >= 0 && momentum <= 1, config_error,
                "pretext::optim::ema_update_: ", "momentum ", momentum, " must be in [0, 1]");
  const auto tp = teacher.named_parameters(), sp = student.named_parameters();
  PRETEXT_CHECK(tp.size() == sp.size(), config_error, "pretext::optim::ema_update_: the teacher ",
                "has ", tp.size(), " parameters, the student ", sp.size());
  using T = nn::param_type_t<M>;
  const T m = static_cast<T>(momentum), s = static_cast<T>(1.0 - momentum);
  for (std::size_t i = 0; i < tp.size(); ++i) {
    const Tensor<T, 1> t = tp[i].data(), x = sp[i].data();
    PRETEXT_CHECK(t.numel() == x.numel() && tp[i].name() == sp[i].name(), shape_error,
                  "pretext::optim::ema_update_: teacher '", tp[i].name(), "' (", t.numel(),
                  " values) does not match student '", sp[i].name(), "' (", x.numel(), ")");
    if (momentum == 1) continue;
    T* pt = t.data();
    const T* px = x.data();
    for (index_t j = 0; j < t.numel(); ++j) pt[j] = m * pt[j] + s * px[j];
    t.bump_version();
  }
  const auto tb = teacher.named_buffers(), sb = student.named_buffers();
  for (std::size_t i = 0; i < tb.size() && i < sb.size(); ++i) tb[i].data().copy_(sb[i].data());
}

}  // namespace pretext::optim
