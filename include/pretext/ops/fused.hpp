// SPDX-License-Identifier: Apache-2.0
// Fused in-place updates on tensors (optimizers, EMA teachers). All operands must be contiguous
// and of one shape: these run on parameter and state tensors, which always are.
#pragma once

#include <utility>

#include "pretext/backend/cpu/fused.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext {

namespace detail {
template <class T, int R, class... More>
void check_fused(const char* op, const Tensor<T, R>& first, const More&... more) {
  auto one = [&](const Tensor<T, R>& t) {
    PRETEXT_CHECK(t.shape() == first.shape(), shape_error, op, ": shapes ",
                  detail::shape_string(first.shape()), " and ", detail::shape_string(t.shape()),
                  " differ; fused updates need operands of one shape");
    PRETEXT_CHECK(t.is_contiguous(), shape_error, op,
                  ": operands must be contiguous (call contiguous() on views first)");
  };
  one(first);
  (one(more), ...);
}
}  // namespace detail

/// y += alpha * x.
template <floating T, int R>
const Tensor<T, R>& axpy_(const Tensor<T, R>& y, T alpha, const Tensor<T, R>& x) {
  detail::check_fused("pretext::axpy_", y, x);
  cpu::axpy(y.numel(), alpha, x.data(), y.data());
  y.bump_version();
  return y;
}

/// a += w * (b - a): with w = 1 - momentum, the EMA update of a teacher's parameters.
template <floating T, int R>
const Tensor<T, R>& lerp_(const Tensor<T, R>& a, const Tensor<T, R>& b, T w) {
  detail::check_fused("pretext::lerp_", a, b);
  cpu::lerp(a.numel(), a.data(), b.data(), w);
  a.bump_version();
  return a;
}

/// One AdamW step on parameter p with gradient g and moment buffers m, v (see cpu::adamw_step).
template <floating T, int R>
void adamw_step_(const Tensor<T, R>& p, const Tensor<T, R>& g, const Tensor<T, R>& m,
                 const Tensor<T, R>& v, const cpu::AdamWStep<T>& h) {
  detail::check_fused("pretext::adamw_step_", p, g, m, v);
  cpu::adamw_step(p.numel(), p.data(), g.data(), m.data(), v.data(), h);
  p.bump_version();
}

/// One SGD step; buf is the momentum buffer (undefined tensor when momentum is 0).
template <floating T, int R>
void sgd_step_(const Tensor<T, R>& p, const Tensor<T, R>& g, const Tensor<T, R>& buf,
               const cpu::SgdStep<T>& h) {
  if (buf.defined())
    detail::check_fused("pretext::sgd_step_", p, g, buf);
  else
    detail::check_fused("pretext::sgd_step_", p, g);
  PRETEXT_CHECK(buf.defined() || h.momentum == T(0), config_error, "pretext::sgd_step_: momentum ",
                h.momentum, " needs a momentum buffer");
  cpu::sgd_step(p.numel(), p.data(), g.data(), buf.defined() ? buf.data() : nullptr, h);
  p.bump_version();
}

}  // namespace pretext
