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

/// erf in float: z P(z^2) / Q(z^2) with z clamped to +-3.92 (beyond, erf is 1 in float); at
/// most 4.3e-7 from erf in float arithmetic. One division and eleven multiply-adds where xsimd's
/// erf evaluates two polynomial branches and an exp and selects: it made GELU compute-bound.
/// Coefficients and the check: scripts/fit_erf.py. NaN stays NaN through the callers' x factor.
template <class X>
PRETEXT_ALWAYS_INLINE X erf_rational(const X& x) {
  const X lim = splat<X>(3.92);
  X z;
  if constexpr (std::is_arithmetic_v<X>)
    z = x < -lim ? -lim : (x > lim ? lim : x);
  else
    z = xsimd::min(xsimd::max(x, -lim), lim);
  const X t = z * z;
  X num = splat<X>(1.9916174156321721e-08);
  num = num * t + splat<X>(-1.9758269005125972e-06);
  num = num * t + splat<X>(0.00014542457215312773);
  num = num * t + splat<X>(0.0038374679271679325);
  num = num * t + splat<X>(0.050983938307854942);
  num = num * t + splat<X>(0.20302759783118421);
  num = num * t + splat<X>(1.1283789332144216);
  X den = splat<X>(0.00099016713064800773);
  den = den * t + splat<X>(0.014620896599242646);
  den = den * t + splat<X>(0.11628292775730124);
  den = den * t + splat<X>(0.51325862845967085);
  den = den * t + splat<X>(1.0);
  return z * num / den;
}

/// erf for the GELU family: the rational form in float, xsimd's (to double precision) otherwise.
template <class X>
PRETEXT_ALWAYS_INLINE X gelu_erf(const X& x) {
  if constexpr (std::is_same_v<value_t<X>, float>)
    return erf_rational(x);
  else
    return xsimd::erf(x);
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
    return h + h * detail::gelu_erf(x * detail::splat<X>(0.70710678118654752440));
  }
};

namespace detail {
/// The tanh-form GELU's u = gelu_tanh_scale (x + gelu_tanh_cubic x^3), shared by its forward, its
/// gate and its gradient.
inline constexpr double gelu_tanh_scale = 0.79788456080286535588;  // sqrt(2 / pi)
inline constexpr double gelu_tanh_cubic = 0.044715;

/// sigmoid(2u) for the tanh-form GELU, u = sqrt(2/pi) (x + 0.044715 x^3): since
/// 0.5 (1 + tanh u) = sigmoid(2u), one exp and one division instead of a tanh (xsimd's tanh made
/// the kernel twice as slow as a memcpy; this costs what SiLU does). It also avoids the
/// cancellation in 1 + tanh u for negative x.
template <class X>
PRETEXT_ALWAYS_INLINE X gelu_tanh_gate(const X& x) {
  return Sigmoid{}(splat<X>(2 * gelu_tanh_scale) * (x + splat<X>(gelu_tanh_cubic) * x * x * x));
}
}  // namespace detail

/// GELU, tanh approximation (PyTorch's approximate='tanh'):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
///   = x / (1 + exp(x (a + b x^2))),  a = -2 sqrt(2/pi), b = 0.044715 a.
/// Written out rather than as x * gelu_tanh_gate(x): the polynomial as one multiply-add and one
/// divide instead of a divide and a multiply make it about a tenth cheaper, and the kernel is
/// compute-bound (the gate's form stays for the gradient).
struct GeluTanh {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& x) const {
    constexpr double a = -2 * detail::gelu_tanh_scale, b = detail::gelu_tanh_cubic * a;
    const X e = xsimd::exp(x * xsimd::fma(x * x, detail::splat<X>(b), detail::splat<X>(a)));
    return x / (detail::splat<X>(1.0) + e);
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
