// SPDX-License-Identifier: Apache-2.0
// Pointwise math functors of the unary and binary kernels (activations are in activation.hpp).
// Each is callable on scalars and on simd::batch values.
#pragma once

#include <cmath>
#include <type_traits>

#include "pretext/backend/cpu/activation.hpp"

namespace pretext::cpu {

#define PRETEXT_UNARY_FUNCTOR(Name, expr)                  \
  struct Name {                                            \
    template <class X>                                     \
    PRETEXT_ALWAYS_INLINE X operator()(const X& x) const { \
      return expr;                                         \
    }                                                      \
  };

PRETEXT_UNARY_FUNCTOR(Exp, xsimd::exp(x))
PRETEXT_UNARY_FUNCTOR(Log, xsimd::log(x))
PRETEXT_UNARY_FUNCTOR(Sqrt, xsimd::sqrt(x))
PRETEXT_UNARY_FUNCTOR(Rsqrt, detail::splat<X>(1.0) / xsimd::sqrt(x))
PRETEXT_UNARY_FUNCTOR(Tanh, xsimd::tanh(x))
PRETEXT_UNARY_FUNCTOR(Abs, xsimd::abs(x))
PRETEXT_UNARY_FUNCTOR(Neg, -x)
PRETEXT_UNARY_FUNCTOR(Square, x* x)
PRETEXT_UNARY_FUNCTOR(Reciprocal, detail::splat<X>(1.0) / x)
#undef PRETEXT_UNARY_FUNCTOR

/// x raised to a fixed exponent; the common exponents avoid the general pow.
template <class T>
struct Pow {
  T p;
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    if (p == T(2)) return x * x;
    if (p == T(1)) return x;
    if (p == T(0.5)) return xsimd::sqrt(x);
    if (p == T(-1)) return detail::splat<X>(1.0) / x;
    return xsimd::pow(x, X(p));
  }
};

struct Add {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return a + b;
  }
};
struct Sub {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return a - b;
  }
};
struct Mul {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return a * b;
  }
};
struct Div {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return a / b;
  }
};

/// Larger of a and b; NaN if either is NaN (as torch.maximum).
struct Maximum {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    if constexpr (std::is_arithmetic_v<X>) {
      return (a != a || b != b) ? a + b : (a > b ? a : b);
    } else {
      return xsimd::select(simd::is_nan(a) | simd::is_nan(b), a + b, xsimd::select(a > b, a, b));
    }
  }
};

/// Smaller of a and b; NaN if either is NaN (as torch.minimum).
struct Minimum {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    if constexpr (std::is_arithmetic_v<X>) {
      return (a != a || b != b) ? a + b : (a < b ? a : b);
    } else {
      return xsimd::select(simd::is_nan(a) | simd::is_nan(b), a + b, xsimd::select(a < b, a, b));
    }
  }
};

/// Wraps a binary functor with a fixed right operand: x op s.
template <class Op, class T>
struct BindRight {
  Op op;
  T s;
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    return op(x, X(s));
  }
};

/// Wraps a binary functor with a fixed left operand: s op x.
template <class Op, class T>
struct BindLeft {
  Op op;
  T s;
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    return op(X(s), x);
  }
};

}  // namespace pretext::cpu
