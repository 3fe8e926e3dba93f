// SPDX-License-Identifier: Apache-2.0
// Backward functors of the pointwise ops: each maps (incoming gradient g, saved value) to the
// input's gradient, on scalars and on simd::batch values alike (see activation.hpp).
// "Of y" functors take the op's output, "of x" ones its input; whichever is cheaper is saved.
#pragma once

#include <type_traits>

#include "pretext/backend/cpu/functors.hpp"

namespace pretext::cpu::grad {

using cpu::detail::gelu_erf;
using cpu::detail::gelu_tanh_cubic;
using cpu::detail::gelu_tanh_gate;
using cpu::detail::gelu_tanh_scale;
using cpu::detail::splat;

/// c ? a : b on scalars and batches.
template <class M, class X>
PRETEXT_ALWAYS_INLINE X where(const M& c, const X& a, const X& b) {
  if constexpr (std::is_arithmetic_v<X>)
    return c ? a : b;
  else
    return xsimd::select(c, a, b);
}

#define PRETEXT_GRAD_FUNCTOR(Name, expr)                               \
  struct Name {                                                        \
    template <class X>                                                 \
    PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& v) const { \
      return expr;                                                     \
    }                                                                  \
  };

PRETEXT_GRAD_FUNCTOR(ExpOfY, g* v)                                         // y = exp x
PRETEXT_GRAD_FUNCTOR(LogOfX, g / v)                                        // y = log x
PRETEXT_GRAD_FUNCTOR(SqrtOfY, g* splat<X>(0.5) / v)                        // y = sqrt x
PRETEXT_GRAD_FUNCTOR(RsqrtOfY, g* splat<X>(-0.5) * v * v * v)              // y = x^-1/2
PRETEXT_GRAD_FUNCTOR(TanhOfY, g*(splat<X>(1.0) - v * v))                   // y = tanh x
PRETEXT_GRAD_FUNCTOR(SigmoidOfY, g* v*(splat<X>(1.0) - v))                 // y = sigmoid x
PRETEXT_GRAD_FUNCTOR(ReciprocalOfY, -g* v* v)                              // y = 1 / x
PRETEXT_GRAD_FUNCTOR(SquareOfX, splat<X>(2.0) * g * v)                     // y = x^2
PRETEXT_GRAD_FUNCTOR(ReluOfX, where(v > splat<X>(0.0), g, splat<X>(0.0)))  // y = max(x, 0)
#undef PRETEXT_GRAD_FUNCTOR

/// y = |x|: sign(x) g, and 0 at x = 0 (as torch.abs).
struct AbsOfX {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& x) const {
    const X zero = splat<X>(0.0);
    return where(x > zero, g, where(x < zero, -g, zero));
  }
};

/// y = x sigmoid(x): sigmoid(x) (1 + x (1 - sigmoid(x))).
struct SiluOfX {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& x) const {
    const X s = Sigmoid{}(x);
    return g * s * (splat<X>(1.0) + x * (splat<X>(1.0) - s));
  }
};

/// y = x Phi(x): Phi(x) + x phi(x), phi the standard normal density.
struct GeluOfX {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& x) const {
    const X cdf = splat<X>(0.5) * (splat<X>(1.0) + gelu_erf(x * splat<X>(0.70710678118654752440)));
    const X pdf = splat<X>(0.39894228040143267794) * xsimd::exp(splat<X>(-0.5) * x * x);
    return g * (cdf + x * pdf);
  }
};

/// y = 0.5 x (1 + tanh u) = x s, s = sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3):
/// s + 2 x s (1 - s) du/dx (as 1 + tanh u = 2s and 1 - tanh^2 u = 4 s (1 - s)).
struct GeluTanhOfX {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& x) const {
    const X s = gelu_tanh_gate(x);
    const X du =
        splat<X>(gelu_tanh_scale) * (splat<X>(1.0) + splat<X>(3.0 * gelu_tanh_cubic) * x * x);
    return g * (s + splat<X>(2.0) * x * s * (splat<X>(1.0) - s) * du);
  }
};

/// y = x^p: p x^(p-1).
template <class T>
struct PowOfX {
  T p;
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& x) const {
    return g * X(p) * Pow<T>{p - T(1)}(x);
  }
};

/// The share of the gradient of max(a, b) going to a: where a wins; ties split evenly (as
/// torch.maximum). Swap the operands for b's share, and use ALoses for minimum.
struct AWins {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return where(a > b, splat<X>(1.0), where(a == b, splat<X>(0.5), splat<X>(0.0)));
  }
};
struct ALoses {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& a, const X& b) const {
    return where(a < b, splat<X>(1.0), where(a == b, splat<X>(0.5), splat<X>(0.0)));
  }
};

}  // namespace pretext::cpu::grad
