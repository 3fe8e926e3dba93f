// SPDX-License-Identifier: Apache-2.0
// Reductions over one axis or over all elements: sum, mean, max, min, argmax, logsumexp,
// var / stddev, norm.
//
// f(x) reduces everything to a rank-0 tensor; f(x, axis) removes the axis (rank R-1);
// f(x, axis, keepdim) keeps it with extent 1 (rank R), ready to broadcast against x.
// Non-contiguous inputs are first copied to a contiguous block.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "pretext/backend/cpu/reduce.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/ops/checks.hpp"
#include "pretext/ops/elementwise.hpp"

namespace pretext {

namespace detail {

struct AxisSplit {
  index_t outer = 1, n = 1, inner = 1;
};

template <std::size_t R>
AxisSplit split_at(const std::array<index_t, R>& s, std::size_t a) {
  AxisSplit r;
  for (std::size_t i = 0; i < R; ++i) (i < a ? r.outer : i == a ? r.n : r.inner) *= s[i];
  return r;
}

template <class Red, floating T, int R>
Tensor<T, R> reduce_keep(const Tensor<T, R>& x, int axis, const char* name, bool empty_ok) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, R, name));
  PRETEXT_CHECK(empty_ok || x.shape()[a] > 0, shape_error, name, ": cannot reduce axis ", a,
                " of shape ", detail::shape_string(x.shape()),
                " because it is empty; this reduction has no identity");
  auto shape = x.shape();
  shape[a] = 1;
  Tensor<T, R> out(shape);
  const auto xc = x.contiguous();
  const auto s = split_at(x.shape(), a);
  if (s.n == 0) {
    out.fill_(Red::template init<T>());
    return out;
  }
  cpu::reduce_axis<Red>(xc.data(), out.data(), s.outer, s.n, s.inner);
  return out;
}

template <class Red, floating T, int R>
Tensor<T, 0> reduce_all(const Tensor<T, R>& x, const char* name, bool empty_ok) {
  PRETEXT_CHECK(empty_ok || x.numel() > 0, shape_error, name, ": the tensor of shape ",
                detail::shape_string(x.shape()), " is empty; this reduction has no identity");
  const auto xc = x.contiguous();
  return scalar_tensor<T>(cpu::reduce_all<Red>(xc.data(), xc.numel()));
}

}  // namespace detail

// Each reduction comes in three forms; this macro writes the axis-removing one from the
// keepdim one.
#define PRETEXT_REDUCTION_DROP_AXIS(name)                                   \
  template <floating T, int R>                                              \
  requires(R >= 1) Tensor<T, R - 1> name(const Tensor<T, R>& x, int axis) { \
    const int a = normalize_axis(axis, R, "pretext::" #name);               \
    return name(x, a, keepdim).select(a, 0);                                \
  }

/// Sum of all elements.
template <floating T, int R>
Tensor<T, 0> sum(const Tensor<T, R>& x) {
  return detail::reduce_all<cpu::SumReducer>(x, "pretext::sum", true);
}
template <floating T, int R>
Tensor<T, R> sum(const Tensor<T, R>& x, int axis, keepdim_t) {
  return detail::reduce_keep<cpu::SumReducer>(x, axis, "pretext::sum", true);
}
PRETEXT_REDUCTION_DROP_AXIS(sum)

/// Mean of all elements (NaN for an empty tensor, as PyTorch).
template <floating T, int R>
Tensor<T, 0> mean(const Tensor<T, R>& x) {
  auto s = sum(x);
  *s.data() /= static_cast<T>(x.numel());
  return s;
}
template <floating T, int R>
Tensor<T, R> mean(const Tensor<T, R>& x, int axis, keepdim_t) {
  auto s = sum(x, axis, keepdim);
  const index_t n = x.size(axis);
  return mul_(s, T(1) / static_cast<T>(n));
}
PRETEXT_REDUCTION_DROP_AXIS(mean)

/// Largest element; NaN if any element is NaN. Throws shape_error on an empty reduction.
template <floating T, int R>
Tensor<T, 0> max(const Tensor<T, R>& x) {
  return detail::reduce_all<cpu::MaxReducer>(x, "pretext::max", false);
}
template <floating T, int R>
Tensor<T, R> max(const Tensor<T, R>& x, int axis, keepdim_t) {
  return detail::reduce_keep<cpu::MaxReducer>(x, axis, "pretext::max", false);
}
PRETEXT_REDUCTION_DROP_AXIS(max)

/// Smallest element; NaN if any element is NaN. Throws shape_error on an empty reduction.
template <floating T, int R>
Tensor<T, 0> min(const Tensor<T, R>& x) {
  return detail::reduce_all<cpu::MinReducer>(x, "pretext::min", false);
}
template <floating T, int R>
Tensor<T, R> min(const Tensor<T, R>& x, int axis, keepdim_t) {
  return detail::reduce_keep<cpu::MinReducer>(x, axis, "pretext::min", false);
}
PRETEXT_REDUCTION_DROP_AXIS(min)

/// Index of the first largest element along axis (NaN counts as largest), as int64.
template <floating T, int R>
requires(R >= 1) Tensor<std::int64_t, R - 1> argmax(const Tensor<T, R>& x, int axis) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, R, "pretext::argmax"));
  PRETEXT_CHECK(x.shape()[a] > 0, shape_error, "pretext::argmax: axis ", a, " of shape ",
                detail::shape_string(x.shape()), " is empty");
  Shape<R - 1> shape{};
  for (std::size_t i = 0, j = 0; i < R; ++i)
    if (i != a) shape[j++] = x.shape()[i];
  Tensor<std::int64_t, R - 1> out(shape);
  const auto xc = x.contiguous();
  const auto s = detail::split_at(x.shape(), a);
  cpu::argmax_axis(xc.data(), out.data(), s.outer, s.n, s.inner);
  return out;
}

/// log(sum(exp(x))) along axis, computed stably by subtracting the maximum first.
template <floating T, int R>
Tensor<T, R> logsumexp(const Tensor<T, R>& x, int axis, keepdim_t) {
  auto m = max(x, axis, keepdim);
  // An all -inf (or +inf) slice would give inf - inf; shift by 0 there instead.
  map_(m, [](auto v) {
    using X = decltype(v);
    if constexpr (std::is_arithmetic_v<X>)
      return std::isinf(v) ? X(0) : v;
    else
      return xsimd::select(xsimd::isinf(v), X(0), v);
  });
  auto s = sum(exp(x - m), axis, keepdim);
  return add_(log_(s), m);
}
PRETEXT_REDUCTION_DROP_AXIS(logsumexp)

/// Variance along axis with Bessel's correction by default (divides by n - correction).
template <floating T, int R>
Tensor<T, R> var(const Tensor<T, R>& x, int axis, keepdim_t, int correction = 1) {
  const auto d = x - mean(x, axis, keepdim);
  auto s = sum(square_(d), axis, keepdim);
  const auto n = static_cast<T>(x.size(axis) - correction);
  return mul_(s, T(1) / n);
}
template <floating T, int R>
requires(R >= 1) Tensor<T, R - 1> var(const Tensor<T, R>& x, int axis, int correction = 1) {
  const int a = normalize_axis(axis, R, "pretext::var");
  return var(x, a, keepdim, correction).select(a, 0);
}
/// Variance of all elements, with Bessel's correction.
template <floating T, int R>
Tensor<T, 0> var(const Tensor<T, R>& x) {
  return var(x.flatten(), 0, 1);
}

/// Standard deviation: sqrt(var).
template <floating T, int R>
Tensor<T, R> stddev(const Tensor<T, R>& x, int axis, keepdim_t, int correction = 1) {
  return sqrt_(var(x, axis, keepdim, correction));
}
template <floating T, int R>
requires(R >= 1) Tensor<T, R - 1> stddev(const Tensor<T, R>& x, int axis, int correction = 1) {
  return sqrt_(var(x, axis, correction));
}
template <floating T, int R>
Tensor<T, 0> stddev(const Tensor<T, R>& x) {
  return sqrt_(var(x));
}

/// p-norm of all elements: p = 2 (default), 1, infinity, or any p > 0.
template <floating T, int R>
Tensor<T, 0> norm(const Tensor<T, R>& x, double p = 2) {
  PRETEXT_CHECK(p > 0, config_error, "pretext::norm: p ", p, " must be positive");
  if (p == 2) return sqrt_(sum(square(x)));
  if (p == 1) return sum(abs(x));
  if (std::isinf(p)) return x.numel() ? max(abs(x)) : scalar_tensor<T>(0);
  return pow(sum(pow(abs(x), static_cast<T>(p))), static_cast<T>(1 / p));
}
/// p-norm along axis.
template <floating T, int R>
Tensor<T, R> norm(const Tensor<T, R>& x, int axis, keepdim_t, double p = 2) {
  PRETEXT_CHECK(p > 0, config_error, "pretext::norm: p ", p, " must be positive");
  if (p == 2) return sqrt_(sum(square(x), axis, keepdim));
  if (p == 1) return sum(abs(x), axis, keepdim);
  if (std::isinf(p)) return max(abs(x), axis, keepdim);
  return pow(sum(pow(abs(x), static_cast<T>(p)), axis, keepdim), static_cast<T>(1 / p));
}
/// p-norm along axis, axis removed. (p is required here so that norm(x, 1) stays the 1-norm of
/// all elements.)
template <floating T, int R>
requires(R >= 1) Tensor<T, R - 1> norm(const Tensor<T, R>& x, int axis, double p) {
  const int a = normalize_axis(axis, R, "pretext::norm");
  return norm(x, a, keepdim, p).select(a, 0);
}

#undef PRETEXT_REDUCTION_DROP_AXIS

/// Sums g (shape S) down to `target`, a shape that broadcasts to S: the leading axes S has in
/// addition are summed away, and axes where target has extent 1 are summed with keepdim. This
/// is the gradient of broadcasting. Returns g itself when the shapes already agree.
template <floating T, int R, std::size_t N>
Tensor<T, static_cast<int>(N)> sum_to(const Tensor<T, R>& g, const std::array<index_t, N>& target) {
  constexpr int RT = static_cast<int>(N);
  static_assert(RT <= R, "pretext::sum_to: the target cannot have a higher rank");
  constexpr int lead = R - RT;
  for (int i = 0; i < RT; ++i) {
    const index_t t = target[static_cast<std::size_t>(i)],
                  s = g.shape()[static_cast<std::size_t>(i + lead)];
    PRETEXT_CHECK(t == s || t == 1, shape_error, "pretext::sum_to: shape ",
                  detail::shape_string(target), " does not broadcast to ",
                  detail::shape_string(g.shape()));
  }
  if constexpr (RT == R) {
    if (g.shape() == target) return g;
  }
  Tensor<T, R> cur = g;
  for (int a = 0; a < R; ++a) {
    const bool lead_axis = a < lead;
    if (lead_axis || (target[static_cast<std::size_t>(a - lead)] == 1 &&
                      cur.shape()[static_cast<std::size_t>(a)] != 1))
      cur = sum(cur, a, keepdim);
  }
  return cur.reshape(target);
}

}  // namespace pretext
