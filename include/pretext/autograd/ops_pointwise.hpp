// SPDX-License-Identifier: Apache-2.0
// Differentiable pointwise operations on Vars: unary math and activations, binary arithmetic
// with NumPy broadcasting (gradients are summed back to each input's shape), scalar forms and
// operators. A plain Tensor mixes with a Var as a constant.
#pragma once

#include <type_traits>

#include "pretext/autograd/variable.hpp"
#include "pretext/backend/cpu/derivatives.hpp"
#include "pretext/ops/elementwise.hpp"
#include "pretext/ops/reduce.hpp"

namespace pretext {

/// A Var or a Tensor (a Tensor taking part in an operation with a Var is a constant).
template <class X>
concept var_or_tensor = var_like<X> || tensor_like<X>;

namespace autograd::detail {

template <class T, int R>
Var<T, R> as_var(const Var<T, R>& v) {
  return v;
}
template <class T, int R>
Var<T, R> as_var(const Tensor<T, R>& t) {
  return Var<T, R>(t);
}

/// y = fwd(x); dx = bwd(g, y) when OfOutput, else bwd(g, x).
template <bool OfOutput, class Fwd, class Bwd, floating T, int R>
Var<T, R> unary(const char* name, const Var<T, R>& x, const Fwd& fwd, const Bwd& bwd) {
  Tensor<T, R> y = map(x.data(), fwd);
  auto saved = save(OfOutput ? y : x.data());
  return record(
      name, std::move(y),
      [saved, bwd, name](const Tensor<T, R>& g, const auto&) {
        return zip(g, saved.get(name), bwd, name);
      },
      x);
}

/// Multiplies g by a pointwise function of (a, b): the backward of maximum and minimum.
template <class Share>
struct TimesShare {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& a, const X& b) const {
    return g * Share{}(a, b);
  }
};
/// -g a / b^2: the gradient of a / b with respect to b.
struct DivGradB {
  template <class X>
  PRETEXT_ALWAYS_INLINE X operator()(const X& g, const X& a, const X& b) const {
    return -g * a / (b * b);
  }
};

enum class Binary { add, sub, mul, div, maximum, minimum };

template <Binary K>
constexpr const char* binary_name() {
  constexpr const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum"};
  return names[static_cast<int>(K)];
}

template <Binary K, class T, int RA, int RB>
Var<T, std::max(RA, RB)> binary(const Var<T, RA>& a, const Var<T, RB>& b) {
  constexpr const char* name = binary_name<K>();
  constexpr int R = std::max(RA, RB);
  const auto& x = a.data();
  const auto& y = b.data();
  Tensor<T, R> out;
  if constexpr (K == Binary::add) out = pretext::add(x, y);
  if constexpr (K == Binary::sub) out = pretext::sub(x, y);
  if constexpr (K == Binary::mul) out = pretext::mul(x, y);
  if constexpr (K == Binary::div) out = pretext::div(x, y);
  if constexpr (K == Binary::maximum) out = pretext::maximum(x, y);
  if constexpr (K == Binary::minimum) out = pretext::minimum(x, y);
  // add and sub need no saved values; the others keep both operands.
  constexpr bool keeps = K != Binary::add && K != Binary::sub;
  auto sa = save(keeps ? x : Tensor<T, RA>());
  auto sb = save(keeps ? y : Tensor<T, RB>());
  const auto shape_a = x.shape();
  const auto shape_b = y.shape();
  return record(
      name, std::move(out),
      [=](const Tensor<T, R>& g, const std::array<bool, 2>& need) {
        Tensor<T, RA> ga;
        Tensor<T, RB> gb;
        if constexpr (K == Binary::add) {
          if (need[0]) ga = sum_to(g, shape_a);
          if (need[1]) gb = sum_to(g, shape_b);
        } else if constexpr (K == Binary::sub) {
          if (need[0]) ga = sum_to(g, shape_a);
          if (need[1]) gb = sum_to(pretext::neg(g), shape_b);
        } else if constexpr (K == Binary::mul) {
          if (need[0]) ga = sum_to(pretext::mul(g, sb.get(name)), shape_a);
          if (need[1]) gb = sum_to(pretext::mul(g, sa.get(name)), shape_b);
        } else if constexpr (K == Binary::div) {
          if (need[0]) ga = sum_to(pretext::div(g, sb.get(name)), shape_a);
          if (need[1]) gb = sum_to(zip3(g, sa.get(name), sb.get(name), DivGradB{}, name), shape_b);
        } else {
          using Wins =
              std::conditional_t<K == Binary::maximum, cpu::grad::AWins, cpu::grad::ALoses>;
          const auto& va = sa.get(name);
          const auto& vb = sb.get(name);
          if (need[0]) ga = sum_to(zip3(g, va, vb, TimesShare<Wins>{}, name), shape_a);
          if (need[1]) gb = sum_to(zip3(g, vb, va, TimesShare<Wins>{}, name), shape_b);
        }
        return std::tuple(std::move(ga), std::move(gb));
      },
      a, b);
}

}  // namespace autograd::detail

// ---- unary ------------------------------------------------------------------------------------

#define PRETEXT_VAR_UNARY(name, Fwd, Bwd, of_output)                                   \
  template <floating T, int R>                                                         \
  Var<T, R> name(const Var<T, R>& x) {                                                 \
    return autograd::detail::unary<of_output>(#name, x, cpu::Fwd{}, cpu::grad::Bwd{}); \
  }

PRETEXT_VAR_UNARY(exp, Exp, ExpOfY, true)
PRETEXT_VAR_UNARY(log, Log, LogOfX, false)
PRETEXT_VAR_UNARY(sqrt, Sqrt, SqrtOfY, true)
PRETEXT_VAR_UNARY(rsqrt, Rsqrt, RsqrtOfY, true)
PRETEXT_VAR_UNARY(tanh, Tanh, TanhOfY, true)
PRETEXT_VAR_UNARY(sigmoid, Sigmoid, SigmoidOfY, true)
PRETEXT_VAR_UNARY(relu, Relu, ReluOfX, false)
PRETEXT_VAR_UNARY(gelu, Gelu, GeluOfX, false)
PRETEXT_VAR_UNARY(gelu_tanh, GeluTanh, GeluTanhOfX, false)
PRETEXT_VAR_UNARY(silu, Silu, SiluOfX, false)
PRETEXT_VAR_UNARY(abs, Abs, AbsOfX, false)
PRETEXT_VAR_UNARY(square, Square, SquareOfX, false)
PRETEXT_VAR_UNARY(reciprocal, Reciprocal, ReciprocalOfY, true)
#undef PRETEXT_VAR_UNARY

template <floating T, int R>
Var<T, R> neg(const Var<T, R>& x) {
  return autograd::detail::record(
      "neg", pretext::neg(x.data()),
      [](const Tensor<T, R>& g, const auto&) { return pretext::neg(g); }, x);
}

/// x^p elementwise.
template <floating T, int R>
Var<T, R> pow(const Var<T, R>& x, std::type_identity_t<T> p) {
  return autograd::detail::unary<false>("pow", x, cpu::Pow<T>{p}, cpu::grad::PowOfX<T>{p});
}

// ---- binary, with broadcasting ----------------------------------------------------------------

#define PRETEXT_VAR_BINARY(name, kind)                                                            \
  template <var_or_tensor A, var_or_tensor B>                                                     \
  requires(var_like<A> || var_like<B>) auto name(const A& a, const B& b) {                        \
    static_assert(std::is_same_v<typename A::value_type, typename B::value_type>,                 \
                  "pretext::" #name                                                               \
                  ": operands must have the same element type; convert one first");               \
    return autograd::detail::binary<autograd::detail::Binary::kind>(autograd::detail::as_var(a),  \
                                                                    autograd::detail::as_var(b)); \
  }

PRETEXT_VAR_BINARY(add, add)
PRETEXT_VAR_BINARY(sub, sub)
PRETEXT_VAR_BINARY(mul, mul)
PRETEXT_VAR_BINARY(div, div)
PRETEXT_VAR_BINARY(maximum, maximum)
PRETEXT_VAR_BINARY(minimum, minimum)
#undef PRETEXT_VAR_BINARY

// ---- with a scalar ----------------------------------------------------------------------------

template <floating T, int R>
Var<T, R> add(const Var<T, R>& x, std::type_identity_t<T> s) {
  return autograd::detail::record(
      "add", pretext::add(x.data(), s), [](const Tensor<T, R>& g, const auto&) { return g; }, x);
}
template <floating T, int R>
Var<T, R> add(std::type_identity_t<T> s, const Var<T, R>& x) {
  return add(x, s);
}
template <floating T, int R>
Var<T, R> sub(const Var<T, R>& x, std::type_identity_t<T> s) {
  return add(x, -s);
}
template <floating T, int R>
Var<T, R> sub(std::type_identity_t<T> s, const Var<T, R>& x) {
  return add(neg(x), s);
}
template <floating T, int R>
Var<T, R> mul(const Var<T, R>& x, std::type_identity_t<T> s) {
  return autograd::detail::record(
      "mul", pretext::mul(x.data(), s),
      [s](const Tensor<T, R>& g, const auto&) { return pretext::mul(g, s); }, x);
}
template <floating T, int R>
Var<T, R> mul(std::type_identity_t<T> s, const Var<T, R>& x) {
  return mul(x, s);
}
template <floating T, int R>
Var<T, R> div(const Var<T, R>& x, std::type_identity_t<T> s) {
  return mul(x, T(1) / s);
}
template <floating T, int R>
Var<T, R> div(std::type_identity_t<T> s, const Var<T, R>& x) {
  return mul(reciprocal(x), s);
}
template <floating T, int R>
Var<T, R> maximum(const Var<T, R>& x, std::type_identity_t<T> s) {
  return maximum(x, scalar_tensor<T>(s));
}
template <floating T, int R>
Var<T, R> minimum(const Var<T, R>& x, std::type_identity_t<T> s) {
  return minimum(x, scalar_tensor<T>(s));
}

// ---- operators --------------------------------------------------------------------------------
// Var with Var, Var with scalar. Tensor with Var goes through the Tensor operators, which call
// the functions above.

#define PRETEXT_VAR_OPERATOR(op, name)                                                         \
  template <class A, class B>                                                                  \
  requires((var_like<A> || var_like<B>)&&!tensor_like<A> && !tensor_like<B>) auto operator op( \
      const A& a, const B& b)                                                                  \
      ->decltype(name(a, b)) {                                                                 \
    return name(a, b);                                                                         \
  }
PRETEXT_VAR_OPERATOR(+, add)
PRETEXT_VAR_OPERATOR(-, sub)
PRETEXT_VAR_OPERATOR(*, mul)
PRETEXT_VAR_OPERATOR(/, div)
#undef PRETEXT_VAR_OPERATOR

template <var_like A>
auto operator-(const A& a) {
  return neg(a);
}

}  // namespace pretext
