// SPDX-License-Identifier: Apache-2.0
// Pointwise math functors shared by the unary kernels and the GEMM epilogue.
//
// Each functor is callable on a scalar (float, double) and on a simd::batch of it, so one
// definition serves the vector body of a loop and its scalar tail, and both give the same values
// up to the last ulp of xsimd's vector math.
#pragma once

#include <cmath>
#include <type_traits>

#include "pretext/backend/cpu/simd.hpp"

namespace pretext::cpu {

namespace detail {
template <class X>
struct value_of {
  using type = X;
};
template <class T, class A>
struct value_of<xsimd::batch<T, A>> {
  using type = T;
};
template <class X>
using value_t = typename value_of<X>::type;

template <class X>
PRETEXT_ALWAYS_INLINE X splat(double v) {
  return X(static_cast<value_t<X>>(v));
}
}  // namespace detail

struct Identity {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    return x;
  }
};

struct Relu {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    // Written as a select so NaN propagates (max(NaN, 0) would give 0 on x86).
    if constexpr (std::is_arithmetic_v<X>)
      return x < X(0) ? X(0) : x;
    else
      return xsimd::select(x < X(0), X(0), x);
  }
};

/// x * sigmoid(x), also called swish.
struct Silu {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    return x / (detail::splat<X>(1.0) + xsimd::exp(-x));
  }
};

struct Sigmoid {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    return detail::splat<X>(1.0) / (detail::splat<X>(1.0) + xsimd::exp(-x));
  }
};

/// GELU, exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
struct Gelu {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    const X h = detail::splat<X>(0.5) * x;
    return h + h * xsimd::erf(x * detail::splat<X>(0.70710678118654752440));
  }
};

/// GELU, tanh approximation (PyTorch's approximate='tanh'):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct GeluTanh {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    const X inner =
        detail::splat<X>(0.79788456080286535588) * (x + detail::splat<X>(0.044715) * x * x * x);
    const X h = detail::splat<X>(0.5) * x;
    return h + h * xsimd::tanh(inner);
  }
};

/// Activation fused into kernels (GEMM epilogues): chosen at run time once per call, then the
/// kernel runs the matching functor.
enum class Activation { none, relu, gelu, gelu_tanh, silu };

/// Calls fn(functor) with the functor of act.
template <class Fn>
decltype(auto) with_activation(Activation act, Fn&& fn) {
  switch (act) {
    case Activation::relu:
      return fn(Relu{});
    case Activation::gelu:
      return fn(Gelu{});
    case Activation::gelu_tanh:
      return fn(GeluTanh{});
    case Activation::silu:
      return fn(Silu{});
    case Activation::none:
      break;
  }
  return fn(Identity{});
}

}  // namespace pretext::cpu
