// SPDX-License-Identifier: Apache-2.0
// Differentiable softmax, log_softmax and layer normalisation on Vars.
//   softmax:      dx = y * (g - sum(g * y))        (sums along the softmax axis)
//   log_softmax:  dx = g - exp(y) * sum(g)
//   layer_norm:   the fused row kernel (ops/rowwise.hpp) computes dx, dgamma and dbeta together.
#pragma once

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/ops/rowwise.hpp"

namespace pretext {

template <floating T, int R>
requires(R >= 1) Var<T, R> softmax(const Var<T, R>& x, int axis = -1) {
  auto y = pretext::softmax(x.data(), axis);
  auto sy = autograd::detail::save(y);
  return autograd::detail::record(
      "softmax", std::move(y),
      [sy, axis](const Tensor<T, R>& g, const auto&) {
        const auto& yy = sy.get("softmax");
        const auto dot = pretext::sum(pretext::mul(g, yy), axis, keepdim);
        return zip3(
            yy, g, dot, [](auto p, auto gg, auto d) { return p * (gg - d); }, "softmax");
      },
      x);
}

template <floating T, int R>
requires(R >= 1) Var<T, R> log_softmax(const Var<T, R>& x, int axis = -1) {
  auto y = pretext::log_softmax(x.data(), axis);
  auto sy = autograd::detail::save(y);
  return autograd::detail::record(
      "log_softmax", std::move(y),
      [sy, axis](const Tensor<T, R>& g, const auto&) {
        const auto total = pretext::sum(g, axis, keepdim);
        return zip3(
            g, sy.get("log_softmax"), total,
            [](auto gg, auto l, auto s) { return gg - xsimd::exp(l) * s; }, "log_softmax");
      },
      x);
}

namespace autograd::detail {
template <class T, int R>
Var<T, R> layer_norm_impl(const Var<T, R>& x, const Var<T, 1>* gamma, const Var<T, 1>* beta,
                          T eps) {
  auto out = layer_norm_forward(x.data(), gamma ? &gamma->data() : nullptr,
                                beta ? &beta->data() : nullptr, eps);
  auto sx = save(x.data());
  auto sg = save(gamma ? gamma->data() : Tensor<T, 1>());
  auto fn = [sx, sg, mean = out.mean, rstd = out.rstd](const Tensor<T, R>& g, const auto& need) {
    constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<decltype(need)>>;
    const auto& gm = sg.get("layer_norm");
    auto grads =
        layer_norm_backward(g, sx.get("layer_norm"), mean, rstd, gm.defined() ? &gm : nullptr,
                            n >= 2 && need[1], n >= 3 && need[2]);
    if constexpr (n == 3)
      return std::tuple(std::move(grads.dx), std::move(grads.dgamma), std::move(grads.dbeta));
    else if constexpr (n == 2)
      return std::tuple(std::move(grads.dx), std::move(grads.dgamma));
    else
      return std::tuple(std::move(grads.dx));
  };
  if (gamma && beta) return record("layer_norm", std::move(out.y), fn, x, *gamma, *beta);
  if (gamma) return record("layer_norm", std::move(out.y), fn, x, *gamma);
  return record("layer_norm", std::move(out.y), fn, x);
}
}  // namespace autograd::detail

/// Layer normalisation over the last axis with learned scale gamma and shift beta (D each).
template <floating T, int R>
requires(R >= 1) Var<T, R> layer_norm(const Var<T, R>& x, const Var<T, 1>& gamma,
                                      const Var<T, 1>& beta,
                                      std::type_identity_t<T> eps = T(1e-5)) {
  return autograd::detail::layer_norm_impl(x, &gamma, &beta, eps);
}
/// Layer normalisation with a scale and no shift (as nn.LayerNorm(bias=False)).
template <floating T, int R>
requires(R >= 1) Var<T, R> layer_norm(const Var<T, R>& x, const Var<T, 1>& gamma,
                                      std::type_identity_t<T> eps = T(1e-5)) {
  return autograd::detail::layer_norm_impl(x, &gamma, static_cast<const Var<T, 1>*>(nullptr), eps);
}
/// Layer normalisation without learned parameters.
template <floating T, int R>
requires(R >= 1) Var<T, R> layer_norm(const Var<T, R>& x, std::type_identity_t<T> eps = T(1e-5)) {
  return autograd::detail::layer_norm_impl(x, static_cast<const Var<T, 1>*>(nullptr),
                                           static_cast<const Var<T, 1>*>(nullptr), eps);
}

}  // namespace pretext
