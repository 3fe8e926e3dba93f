// SPDX-License-Identifier: Apache-2.0
// softmax, log_softmax and layer normalisation on tensors. The normalised axis is the last one
// (D); leading axes are rows (M = product of the others). softmax over another axis moves it
// last, which costs two copies.
#pragma once

#include <type_traits>  // std::type_identity_t: gamma and beta may be nullptr

#include "pretext/backend/cpu/rowwise.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/ops/checks.hpp"

namespace pretext {

namespace detail {

template <floating T, int R, class Kernel>
Tensor<T, R> along_axis(const Tensor<T, R>& x, int axis, const char* name, Kernel&& kernel) {
  const int a = normalize_axis(axis, R, name);
  if (a != R - 1) {
    const auto moved = along_axis(x.transpose(a, R - 1), R - 1, name, kernel);
    return moved.transpose(a, R - 1).contiguous();
  }
  const auto xc = x.contiguous();
  Tensor<T, R> y(x.shape());
  const index_t D = x.shape()[R - 1];
  kernel(xc.data(), y.data(), D ? x.numel() / D : 0, D);
  return y;
}

}  // namespace detail

/// exp(x) / sum(exp(x)) along axis (default the last), stable for any magnitudes.
template <floating T, int R>
requires(R >= 1) Tensor<T, R> softmax(const Tensor<T, R>& x, int axis = -1) {
  return detail::along_axis(
      x, axis, "pretext::softmax",
      [](const T* in, T* out, index_t M, index_t D) { cpu::softmax_rows(in, out, M, D); });
}

/// x - logsumexp(x) along axis (default the last).
template <floating T, int R>
requires(R >= 1) Tensor<T, R> log_softmax(const Tensor<T, R>& x, int axis = -1) {
  return detail::along_axis(
      x, axis, "pretext::log_softmax",
      [](const T* in, T* out, index_t M, index_t D) { cpu::log_softmax_rows(in, out, M, D); });
}

/// Output of layer_norm_forward: y, and the per-row statistics the backward pass needs.
template <floating T, int R>
struct LayerNormOutput {
  Tensor<T, R> y;         ///< same shape as x
  Tensor<T, R - 1> mean;  ///< one per row
  Tensor<T, R - 1> rstd;  ///< 1 / sqrt(var + eps), one per row
};

/// Gradients from layer_norm_backward.
template <floating T, int R>
struct LayerNormGrads {
  Tensor<T, R> dx;
  Tensor<T, 1> dgamma;  ///< undefined when no gamma was given
  Tensor<T, 1> dbeta;   ///< undefined when no beta was given
};

namespace detail {
template <floating T, int R>
void check_ln_param(const Tensor<T, R>& x, const Tensor<T, 1>* p, const char* what) {
  PRETEXT_CHECK(!p || p->shape()[0] == x.shape()[R - 1], shape_error, "pretext::layer_norm: ", what,
                " has shape ", detail::shape_string(p->shape()), " but x has shape ",
                detail::shape_string(x.shape()),
                "; it needs one value per element of the last axis");
}
}  // namespace detail

/// Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta.
/// gamma and beta are optional (null: 1 and 0).
template <floating T, int R>
requires(R >= 1) LayerNormOutput<T, R> layer_norm_forward(
    const Tensor<T, R>& x, std::type_identity_t<const Tensor<T, 1>*> gamma,
    std::type_identity_t<const Tensor<T, 1>*> beta, T eps = T(1e-5)) {
  detail::check_ln_param(x, gamma, "gamma");
  detail::check_ln_param(x, beta, "beta");
  Shape<R - 1> rows{};
  for (int i = 0; i < R - 1; ++i)
    rows[static_cast<std::size_t>(i)] = x.shape()[static_cast<std::size_t>(i)];
  LayerNormOutput<T, R> out{Tensor<T, R>(x.shape()), Tensor<T, R - 1>(rows),
                            Tensor<T, R - 1>(rows)};
  const auto xc = x.contiguous();
  const auto g = gamma ? gamma->contiguous() : Tensor<T, 1>();
  const auto b = beta ? beta->contiguous() : Tensor<T, 1>();
  const index_t D = x.shape()[R - 1];
  cpu::layer_norm_forward(xc.data(), g.data(), b.data(), out.y.data(), out.mean.data(),
                          out.rstd.data(), D ? x.numel() / D : 0, D, eps);
  return out;
}

/// layer_norm_forward's y alone.
template <floating T, int R>
requires(R >= 1) Tensor<T, R> layer_norm(const Tensor<T, R>& x,
                                         std::type_identity_t<const Tensor<T, 1>*> gamma,
                                         std::type_identity_t<const Tensor<T, 1>*> beta,
                                         T eps = T(1e-5)) {
  return layer_norm_forward(x, gamma, beta, eps).y;
}

/// Gradients of layer normalisation given dy, the input x and layer_norm_forward's statistics.
/// dgamma / dbeta are computed when want_dgamma / want_dbeta.
template <floating T, int R>
requires(R >= 1) LayerNormGrads<T, R> layer_norm_backward(
    const Tensor<T, R>& dy, const Tensor<T, R>& x, const Tensor<T, R - 1>& mean,
    const Tensor<T, R - 1>& rstd, std::type_identity_t<const Tensor<T, 1>*> gamma, bool want_dgamma,
    bool want_dbeta) {
  PRETEXT_CHECK(dy.shape() == x.shape(), shape_error, "pretext::layer_norm_backward: dy has shape ",
                detail::shape_string(dy.shape()), " but x has shape ",
                detail::shape_string(x.shape()));
  detail::check_ln_param(x, gamma, "gamma");
  const index_t D = x.shape()[R - 1];
  const index_t M = D ? x.numel() / D : 0;
  PRETEXT_CHECK(mean.numel() == M && rstd.numel() == M, shape_error,
                "pretext::layer_norm_backward: mean and rstd need one value per row (", M,
                "); got shapes ", detail::shape_string(mean.shape()), " and ",
                detail::shape_string(rstd.shape()));
  LayerNormGrads<T, R> g{Tensor<T, R>(x.shape()), {}, {}};
  if (want_dgamma) g.dgamma = Tensor<T, 1>(Shape<1>{D});
  if (want_dbeta) g.dbeta = Tensor<T, 1>(Shape<1>{D});
  const auto dyc = dy.contiguous(), xc = x.contiguous();
  const auto mc = mean.contiguous(), rc = rstd.contiguous();
  const auto gc = gamma ? gamma->contiguous() : Tensor<T, 1>();
  cpu::layer_norm_backward(dyc.data(), xc.data(), mc.data(), rc.data(), gc.data(), g.dx.data(),
                           g.dgamma.data(), g.dbeta.data(), M, D);
  return g;
}

}  // namespace pretext
