// SPDX-License-Identifier: Apache-2.0
// Batch normalisation of x (B, C, ...) per channel (axis 1), on the layout it comes in (no
// permute to channels-last; see backend/cpu/batch_norm.hpp). With M = B * (product of the axes
// after 1) values per channel, xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps):
//   y      = xhat * gamma + beta
//   dbeta  = sum(dy),  dgamma = sum(dy * xhat)                    (sums over all but axis 1)
//   dx     = gamma * rstd * dy                                     (given statistics: eval)
//   dx     = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M)    (the batch's own statistics)
#pragma once

#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>

#include "pretext/autograd/variable.hpp"
#include "pretext/backend/cpu/batch_norm.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext {

/// Per-channel mean and biased variance of x (B, C, ...) over every axis but 1.
template <floating T, int R>
requires(R >= 2) std::pair<Tensor<T, 1>, Tensor<T, 1>> batch_norm_moments(const Tensor<T, R>& x) {
  const index_t B = x.size(0), C = x.size(1);
  PRETEXT_CHECK(x.numel() > 0, shape_error, "pretext::batch_norm_moments: x of shape ",
                detail::shape_string(x.shape()), " has no values to take statistics of");
  const auto xc = x.contiguous();
  std::pair<Tensor<T, 1>, Tensor<T, 1>> out{Tensor<T, 1>(Shape<1>{C}), Tensor<T, 1>(Shape<1>{C})};
  cpu::batch_norm_moments(xc.data(), B, C, x.numel() / (B * C), out.first.data(),
                          out.second.data());
  return out;
}

/// Normalises x (B, C, ...) with per-channel mean and var (C each), then scales by gamma and
/// shifts by beta (null: 1 and 0; beta needs gamma). batch_statistics says mean and var are x's own
/// (from batch_norm_moments(x.data()), training mode): the gradient then flows through them too.
template <floating T, int R>
requires(R >= 2) Var<T, R> batch_norm(const Var<T, R>& x, const Tensor<T, 1>& mean,
                                      const Tensor<T, 1>& var,
                                      std::type_identity_t<const Var<T, 1>*> gamma,
                                      std::type_identity_t<const Var<T, 1>*> beta,
                                      std::type_identity_t<T> eps, bool batch_statistics) {
  const index_t B = x.size(0), C = x.size(1);
  auto check = [&](const char* what, const auto& t) {
    PRETEXT_CHECK(t.numel() == C, shape_error, "pretext::batch_norm: ", what, " has shape ",
                  detail::shape_string(t.shape()), " but x has shape ",
                  detail::shape_string(x.shape()), "; it needs one value per channel (", C, ")");
  };
  check("mean", mean);
  check("var", var);
  if (gamma) check("gamma", gamma->data());
  if (beta) check("beta", beta->data());
  PRETEXT_CHECK(!beta || gamma, config_error,
                "pretext::batch_norm: beta without gamma is not supported; pass a gamma of ones");
  const index_t S = B * C > 0 ? x.numel() / (B * C) : 0;

  // y = (x - mean) * scale + shift with scale = gamma * rstd, shift = beta.
  Tensor<T, 1> rstd(Shape<1>{C}), scale(Shape<1>{C}), shift(Shape<1>{C});
  // A copy of the mean: the backward pass must not see running statistics updated since.
  const auto mc = mean.clone(), vc = var.contiguous();
  const auto gc = gamma ? gamma->data().contiguous() : Tensor<T, 1>();
  const auto bc = beta ? beta->data().contiguous() : Tensor<T, 1>();
  for (index_t c = 0; c < C; ++c) {
    rstd.data()[c] = T(1) / std::sqrt(vc.data()[c] + eps);
    scale.data()[c] = rstd.data()[c] * (gamma ? gc.data()[c] : T(1));
    shift.data()[c] = beta ? bc.data()[c] : T(0);
  }
  const auto xc = x.data().contiguous();
  Tensor<T, R> y(x.shape());
  cpu::batch_norm_affine(xc.data(), B, C, S, mc.data(), scale.data(), shift.data(), y.data());

  auto sx = autograd::detail::save(xc);
  auto fn = [sx, mc, rstd, scale, B, C, S, batch_statistics](const Tensor<T, R>& g,
                                                             const auto& need) {
    constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<decltype(need)>>;
    const auto& xs = sx.get("batch_norm");
    const auto gc2 = g.contiguous();
    Tensor<T, 1> sum_dy(Shape<1>{C}), sum_dy_xmu(Shape<1>{C});
    const bool sums = (batch_statistics && need[0]) || (n >= 2 && need[1]) || (n >= 3 && need[2]);
    if (sums)
      cpu::batch_norm_grad_sums(gc2.data(), xs.data(), B, C, S, mc.data(), sum_dy.data(),
                                sum_dy_xmu.data());
    Tensor<T, R> dx;
    if (need[0]) {
      dx = Tensor<T, R>(xs.shape());
      Tensor<T, 1> k1 = Tensor<T, 1>::zeros(Shape<1>{C}), k2 = Tensor<T, 1>::zeros(Shape<1>{C});
      if (batch_statistics) {
        const T inv_m = T(1) / static_cast<T>(B * S);
        for (index_t c = 0; c < C; ++c) {
          const T r = rstd.data()[c];
          k1.data()[c] = sum_dy.data()[c] * inv_m;
          k2.data()[c] = r * r * sum_dy_xmu.data()[c] * inv_m;
        }
      }
      cpu::batch_norm_input_grad(gc2.data(), xs.data(), B, C, S, mc.data(), scale.data(), k1.data(),
                                 k2.data(), dx.data());
    }
    if constexpr (n == 1) {
      return std::tuple(std::move(dx));
    } else {
      Tensor<T, 1> dgamma;
      if (need[1]) {
        dgamma = Tensor<T, 1>(Shape<1>{C});
        for (index_t c = 0; c < C; ++c) dgamma.data()[c] = sum_dy_xmu.data()[c] * rstd.data()[c];
      }
      if constexpr (n == 2)
        return std::tuple(std::move(dx), std::move(dgamma));
      else
        return std::tuple(std::move(dx), std::move(dgamma), need[2] ? sum_dy : Tensor<T, 1>());
    }
  };
  if (gamma && beta)
    return autograd::detail::record("batch_norm", std::move(y), fn, x, *gamma, *beta);
  if (gamma) return autograd::detail::record("batch_norm", std::move(y), fn, x, *gamma);
  return autograd::detail::record("batch_norm", std::move(y), fn, x);
}

}  // namespace pretext
