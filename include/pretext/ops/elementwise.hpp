// SPDX-License-Identifier: Apache-2.0
// Elementwise tensor operations: unary math, activations, and binary arithmetic with NumPy
// broadcasting (shapes right-aligned; extent-1 axes stretch). Results are new contiguous tensors;
// the names ending in _ write into their first argument.
#pragma once

#include <algorithm>
#include <array>

#include "pretext/backend/cpu/activation.hpp"
#include "pretext/backend/cpu/elementwise.hpp"
#include "pretext/backend/cpu/functors.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/ops/checks.hpp"

namespace pretext {

namespace detail {

template <int R, std::size_t N>
Strides<R> broadcast_strides(const std::array<index_t, N>& shape,
                             const std::array<index_t, N>& strides) {
  // Right-aligns a rank-N operand inside rank R; stretched axes get stride 0.
  static_assert(static_cast<int>(N) <= R);
  Strides<R> out{};
  for (std::size_t i = 0; i < N; ++i) {
    out[R - N + i] = shape[i] == 1 ? 0 : strides[i];
  }
  return out;
}

}  // namespace detail

/// out = op(x) elementwise, as a new contiguous tensor.
template <class Op, floating T, int R>
Tensor<T, R> map(const Tensor<T, R>& x, const Op& op) {
  Tensor<T, R> out(x.shape());
  cpu::map<T, 1>(out.data(), out.strides(), std::array<const T*, 1>{x.data()},
                 std::array<Strides<R>, 1>{x.strides()}, x.shape(), op);
  return out;
}

/// x = op(x) in place; x may be any view that does not overlap itself.
template <class Op, floating T, int R>
const Tensor<T, R>& map_(const Tensor<T, R>& x, const Op& op) {
  cpu::map<T, 1>(x.data(), x.strides(), std::array<const T*, 1>{x.data()},
                 std::array<Strides<R>, 1>{x.strides()}, x.shape(), op);
  x.bump_version();
  return x;
}

/// out = op(a, b) with broadcasting; the result has the larger rank.
template <class Op, floating T, int RA, int RB>
Tensor<T, std::max(RA, RB)> zip(const Tensor<T, RA>& a, const Tensor<T, RB>& b, const Op& op,
                                const char* name) {
  constexpr int R = std::max(RA, RB);
  const auto shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor<T, R> out(shape);
  cpu::map<T, 2>(out.data(), out.strides(), std::array<const T*, 2>{a.data(), b.data()},
                 std::array<Strides<R>, 2>{detail::broadcast_strides<R>(a.shape(), a.strides()),
                                           detail::broadcast_strides<R>(b.shape(), b.strides())},
                 shape, op);
  return out;
}

/// out = op(a, b, c) with broadcasting of all three (the backward passes of binary ops use it).
template <class Op, floating T, int RA, int RB, int RC>
Tensor<T, std::max({RA, RB, RC})> zip3(const Tensor<T, RA>& a, const Tensor<T, RB>& b,
                                       const Tensor<T, RC>& c, const Op& op, const char* name) {
  constexpr int R = std::max({RA, RB, RC});
  const auto shape =
      broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), name), c.shape(), name);
  Tensor<T, R> out(shape);
  cpu::map<T, 3>(out.data(), out.strides(), std::array<const T*, 3>{a.data(), b.data(), c.data()},
                 std::array<Strides<R>, 3>{detail::broadcast_strides<R>(a.shape(), a.strides()),
                                           detail::broadcast_strides<R>(b.shape(), b.strides()),
                                           detail::broadcast_strides<R>(c.shape(), c.strides())},
                 shape, op);
  return out;
}

/// a = op(a, b) in place; b broadcasts to a's shape (a itself does not grow).
template <class Op, floating T, int RA, int RB>
const Tensor<T, RA>& zip_(const Tensor<T, RA>& a, const Tensor<T, RB>& b, const Op& op,
                          const char* name) {
  static_assert(RB <= RA,
                "pretext: an in-place operation cannot broadcast its target to a "
                "higher rank");
  const auto shape = broadcast_shapes(a.shape(), b.shape(), name);
  PRETEXT_CHECK(shape == a.shape(), shape_error, name, ": operand of shape ",
                detail::shape_string(b.shape()), " does not broadcast to the target's shape ",
                detail::shape_string(a.shape()), "; an in-place result cannot change shape");
  cpu::map<T, 2>(a.data(), a.strides(), std::array<const T*, 2>{a.data(), b.data()},
                 std::array<Strides<RA>, 2>{a.strides(),
                                            detail::broadcast_strides<RA>(b.shape(), b.strides())},
                 shape, op);
  a.bump_version();
  return a;
}

// ---- unary math and activations ------------------------------------------------------------

#define PRETEXT_UNARY_OP(name, Functor)          \
  template <tensor_like X>                       \
  auto name(const X& x) {                        \
    PRETEXT_STATIC_CHECK_FLOATING(#name, X);     \
    PRETEXT_STATIC_CHECK_CPU(#name, X);          \
    return map(x, cpu::Functor{});               \
  }                                              \
  template <tensor_like X>                       \
  const X& name##_(const X& x) {                 \
    PRETEXT_STATIC_CHECK_FLOATING(#name "_", X); \
    PRETEXT_STATIC_CHECK_CPU(#name "_", X);      \
    return map_(x, cpu::Functor{});              \
  }

PRETEXT_UNARY_OP(exp, Exp)
PRETEXT_UNARY_OP(log, Log)
PRETEXT_UNARY_OP(sqrt, Sqrt)
PRETEXT_UNARY_OP(rsqrt, Rsqrt)
PRETEXT_UNARY_OP(tanh, Tanh)
PRETEXT_UNARY_OP(sigmoid, Sigmoid)
PRETEXT_UNARY_OP(relu, Relu)
PRETEXT_UNARY_OP(gelu, Gelu)
PRETEXT_UNARY_OP(gelu_tanh, GeluTanh)
PRETEXT_UNARY_OP(silu, Silu)
PRETEXT_UNARY_OP(abs, Abs)
PRETEXT_UNARY_OP(neg, Neg)
PRETEXT_UNARY_OP(square, Square)
PRETEXT_UNARY_OP(reciprocal, Reciprocal)
#undef PRETEXT_UNARY_OP

/// x to the power p, elementwise.
template <floating T, int R>
Tensor<T, R> pow(const Tensor<T, R>& x, T p) {
  return map(x, cpu::Pow<T>{p});
}

// ---- binary arithmetic with broadcasting -------------------------------------------------

#define PRETEXT_BINARY_OP(name, Functor)                                         \
  template <tensor_like A, tensor_like B>                                        \
  auto name(const A& a, const B& b) {                                            \
    PRETEXT_STATIC_CHECK_SAME_KIND(#name, A, B);                                 \
    PRETEXT_STATIC_CHECK_FLOATING(#name, A);                                     \
    PRETEXT_STATIC_CHECK_CPU(#name, A);                                          \
    return zip(a, b, cpu::Functor{}, "pretext::" #name);                         \
  }                                                                              \
  template <tensor_like A>                                                       \
  auto name(const A& a, typename A::value_type s) {                              \
    PRETEXT_STATIC_CHECK_FLOATING(#name, A);                                     \
    return map(a, cpu::BindRight<cpu::Functor, typename A::value_type>{{}, s});  \
  }                                                                              \
  template <tensor_like B>                                                       \
  auto name(typename B::value_type s, const B& b) {                              \
    PRETEXT_STATIC_CHECK_FLOATING(#name, B);                                     \
    return map(b, cpu::BindLeft<cpu::Functor, typename B::value_type>{{}, s});   \
  }                                                                              \
  template <tensor_like A, tensor_like B>                                        \
  const A& name##_(const A& a, const B& b) {                                     \
    PRETEXT_STATIC_CHECK_SAME_KIND(#name "_", A, B);                             \
    PRETEXT_STATIC_CHECK_FLOATING(#name "_", A);                                 \
    return zip_(a, b, cpu::Functor{}, "pretext::" #name "_");                    \
  }                                                                              \
  template <tensor_like A>                                                       \
  const A& name##_(const A& a, typename A::value_type s) {                       \
    PRETEXT_STATIC_CHECK_FLOATING(#name "_", A);                                 \
    return map_(a, cpu::BindRight<cpu::Functor, typename A::value_type>{{}, s}); \
  }

PRETEXT_BINARY_OP(add, Add)
PRETEXT_BINARY_OP(sub, Sub)
PRETEXT_BINARY_OP(mul, Mul)
PRETEXT_BINARY_OP(div, Div)
PRETEXT_BINARY_OP(maximum, Maximum)
PRETEXT_BINARY_OP(minimum, Minimum)
#undef PRETEXT_BINARY_OP

// Operators, for readable formulas: tensor with tensor (broadcasting) and with a scalar.
template <tensor_like A, class B>
auto operator+(const A& a, const B& b) -> decltype(add(a, b)) {
  return add(a, b);
}
template <class A, tensor_like B>
requires(!tensor_like<A>) auto operator+(const A& a, const B& b) -> decltype(add(a, b)) {
  return add(a, b);
}
template <tensor_like A, class B>
auto operator-(const A& a, const B& b) -> decltype(sub(a, b)) {
  return sub(a, b);
}
template <class A, tensor_like B>
requires(!tensor_like<A>) auto operator-(const A& a, const B& b) -> decltype(sub(a, b)) {
  return sub(a, b);
}
template <tensor_like A, class B>
auto operator*(const A& a, const B& b) -> decltype(mul(a, b)) {
  return mul(a, b);
}
template <class A, tensor_like B>
requires(!tensor_like<A>) auto operator*(const A& a, const B& b) -> decltype(mul(a, b)) {
  return mul(a, b);
}
template <tensor_like A, class B>
auto operator/(const A& a, const B& b) -> decltype(div(a, b)) {
  return div(a, b);
}
template <class A, tensor_like B>
requires(!tensor_like<A>) auto operator/(const A& a, const B& b) -> decltype(div(a, b)) {
  return div(a, b);
}
template <tensor_like A>
auto operator-(const A& a) {
  return neg(a);
}

template <tensor_like A, class B>
const A& operator+=(const A& a, const B& b) {
  return add_(a, b);
}
template <tensor_like A, class B>
const A& operator-=(const A& a, const B& b) {
  return sub_(a, b);
}
template <tensor_like A, class B>
const A& operator*=(const A& a, const B& b) {
  return mul_(a, b);
}
template <tensor_like A, class B>
const A& operator/=(const A& a, const B& b) {
  return div_(a, b);
}

}  // namespace pretext
