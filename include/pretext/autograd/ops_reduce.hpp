// SPDX-License-Identifier: Apache-2.0
// Differentiable reductions of Vars: sum, mean, max, min, logsumexp, var, stddev, norm, over all
// elements (a rank-0 result), over one axis keeping it (extent 1), or over one axis removing it.
#pragma once

#include <cmath>
#include <limits>

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/ops/reduce.hpp"

namespace pretext {

namespace autograd::detail {

/// g * where(x == m) / (number of ties): the gradient of max or min reaches every element equal
/// to the extremum, shared evenly (as torch.amax).
template <class T, int R, int RM>
Tensor<T, R> extremum_grad(const Tensor<T, RM>& g, const Tensor<T, R>& x, const Tensor<T, RM>& m,
                           int axis) {
  auto hit = zip(
      x, m,
      [](auto a, auto b) {
        using X = decltype(a);
        return cpu::grad::where(a == b, cpu::detail::splat<X>(1.0), cpu::detail::splat<X>(0.0));
      },
      "max/min backward");
  Tensor<T, RM> count;
  if constexpr (RM == 0)
    count = pretext::sum(hit);
  else
    count = pretext::sum(hit, axis, keepdim);
  return zip3(
      hit, g, count, [](auto h, auto gg, auto c) { return h * gg / c; }, "max/min backward");
}

}  // namespace autograd::detail

// ---- sum and mean -------------------------------------------------------------------------------

template <floating T, int R>
Var<T, 0> sum(const Var<T, R>& x) {
  return autograd::detail::record(
      "sum", pretext::sum(x.data()),
      [s = x.shape()](const Tensor<T, 0>& g, const auto&) { return g.expand(s); }, x);
}
template <floating T, int R>
Var<T, R> sum(const Var<T, R>& x, int axis, keepdim_t) {
  return autograd::detail::record(
      "sum", pretext::sum(x.data(), axis, keepdim),
      [s = x.shape()](const Tensor<T, R>& g, const auto&) { return g.expand(s); }, x);
}
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> sum(const Var<T, R>& x, int axis) {
  return squeeze(sum(x, axis, keepdim), axis);
}

template <floating T, int R>
Var<T, 0> mean(const Var<T, R>& x) {
  return mul(sum(x), T(1) / static_cast<T>(x.numel()));
}
template <floating T, int R>
Var<T, R> mean(const Var<T, R>& x, int axis, keepdim_t) {
  return mul(sum(x, axis, keepdim), T(1) / static_cast<T>(x.size(axis)));
}
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> mean(const Var<T, R>& x, int axis) {
  return squeeze(mean(x, axis, keepdim), axis);
}

// ---- max and min --------------------------------------------------------------------------------

#define PRETEXT_VAR_EXTREMUM(name)                                                       \
  template <floating T, int R>                                                           \
  Var<T, 0> name(const Var<T, R>& x) {                                                   \
    auto m = pretext::name(x.data());                                                    \
    auto sx = autograd::detail::save(x.data());                                          \
    auto sm = autograd::detail::save(m);                                                 \
    return autograd::detail::record(                                                     \
        #name, std::move(m),                                                             \
        [sx, sm](const Tensor<T, 0>& g, const auto&) {                                   \
          return autograd::detail::extremum_grad(g, sx.get(#name), sm.get(#name), 0);    \
        },                                                                               \
        x);                                                                              \
  }                                                                                      \
  template <floating T, int R>                                                           \
  Var<T, R> name(const Var<T, R>& x, int axis, keepdim_t) {                              \
    auto m = pretext::name(x.data(), axis, keepdim);                                     \
    auto sx = autograd::detail::save(x.data());                                          \
    auto sm = autograd::detail::save(m);                                                 \
    return autograd::detail::record(                                                     \
        #name, std::move(m),                                                             \
        [sx, sm, axis](const Tensor<T, R>& g, const auto&) {                             \
          return autograd::detail::extremum_grad(g, sx.get(#name), sm.get(#name), axis); \
        },                                                                               \
        x);                                                                              \
  }                                                                                      \
  template <floating T, int R>                                                           \
  requires(R >= 1) Var<T, R - 1> name(const Var<T, R>& x, int axis) {                    \
    return squeeze(name(x, axis, keepdim), axis);                                        \
  }

PRETEXT_VAR_EXTREMUM(max)
PRETEXT_VAR_EXTREMUM(min)
#undef PRETEXT_VAR_EXTREMUM

// ---- logsumexp ----------------------------------------------------------------------------------

/// log(sum(exp(x))) along axis, stable; its gradient is softmax(x) along that axis.
template <floating T, int R>
Var<T, R> logsumexp(const Var<T, R>& x, int axis, keepdim_t) {
  auto y = pretext::logsumexp(x.data(), axis, keepdim);
  auto sx = autograd::detail::save(x.data());
  auto sy = autograd::detail::save(y);
  return autograd::detail::record(
      "logsumexp", std::move(y),
      [sx, sy](const Tensor<T, R>& g, const auto&) {
        return zip3(
            g, sx.get("logsumexp"), sy.get("logsumexp"),
            [](auto gg, auto a, auto l) { return gg * xsimd::exp(a - l); }, "logsumexp");
      },
      x);
}
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> logsumexp(const Var<T, R>& x, int axis) {
  return squeeze(logsumexp(x, axis, keepdim), axis);
}

// ---- variance and standard deviation (composites) -----------------------------------------------

/// Variance along axis, dividing by n - correction (Bessel's correction by default).
template <floating T, int R>
Var<T, R> var(const Var<T, R>& x, int axis, keepdim_t, int correction = 1) {
  const auto d = sub(x, mean(x, axis, keepdim));
  return mul(sum(square(d), axis, keepdim), T(1) / static_cast<T>(x.size(axis) - correction));
}
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> var(const Var<T, R>& x, int axis, int correction = 1) {
  return squeeze(var(x, axis, keepdim, correction), axis);
}
/// Variance of all elements, with Bessel's correction (as the Tensor form).
template <floating T, int R>
Var<T, 0> var(const Var<T, R>& x) {
  return squeeze(var(flatten(x), 0, keepdim, 1), 0);
}
template <floating T, int R>
Var<T, R> stddev(const Var<T, R>& x, int axis, keepdim_t, int correction = 1) {
  return sqrt(var(x, axis, keepdim, correction));
}
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> stddev(const Var<T, R>& x, int axis, int correction = 1) {
  return sqrt(var(x, axis, correction));
}
template <floating T, int R>
Var<T, 0> stddev(const Var<T, R>& x) {
  return sqrt(var(x));
}

// ---- norms --------------------------------------------------------------------------------------

namespace autograd::detail {
/// The 2-norm along axis (or of everything for RN == 0), with gradient x / ||x|| and 0 where the
/// norm is 0 (a subgradient, as PyTorch).
template <class T, int R, int RN>
Var<T, RN> norm2(const Var<T, R>& x, Tensor<T, RN> n, int axis) {
  auto sx = save(x.data());
  auto sn = save(n);
  return record(
      "norm", std::move(n),
      [sx, sn, axis](const Tensor<T, RN>& g, const auto&) {
        (void)axis;
        return zip3(
            sx.get("norm"), g, sn.get("norm"),
            [](auto v, auto gg, auto nn) {
              using X = decltype(v);
              const X zero = cpu::detail::splat<X>(0.0);
              return cpu::grad::where(nn == zero, zero, v * gg / nn);
            },
            "norm");
      },
      x);
}
}  // namespace autograd::detail

/// p-norm of all elements: p = 2 (default), 1, infinity or any p > 0.
template <floating T, int R>
Var<T, 0> norm(const Var<T, R>& x, double p = 2) {
  PRETEXT_CHECK(p > 0, config_error, "pretext::norm: p ", p, " must be positive");
  if (p == 2) return autograd::detail::norm2(x, pretext::norm(x.data(), 2.0), 0);
  if (p == 1) return sum(abs(x));
  if (std::isinf(p)) return max(abs(x));
  return pow(sum(pow(abs(x), static_cast<T>(p))), static_cast<T>(1 / p));
}
/// p-norm along axis, kept with extent 1.
template <floating T, int R>
Var<T, R> norm(const Var<T, R>& x, int axis, keepdim_t, double p = 2) {
  PRETEXT_CHECK(p > 0, config_error, "pretext::norm: p ", p, " must be positive");
  if (p == 2) return autograd::detail::norm2(x, pretext::norm(x.data(), axis, keepdim, 2.0), axis);
  if (p == 1) return sum(abs(x), axis, keepdim);
  if (std::isinf(p)) return max(abs(x), axis, keepdim);
  return pow(sum(pow(abs(x), static_cast<T>(p)), axis, keepdim), static_cast<T>(1 / p));
}
/// p-norm along axis, axis removed.
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> norm(const Var<T, R>& x, int axis, double p) {
  return squeeze(norm(x, axis, keepdim, p), axis);
}

}  // namespace pretext
