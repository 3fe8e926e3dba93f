// SPDX-License-Identifier: Apache-2.0
// Differentiable views and copies of Vars: slice, narrow, select, permute, transpose, t, expand,
// reshape, view, flatten, unsqueeze, squeeze, contiguous, clone. Forward results alias their
// input exactly as the Tensor views do; backward scatters or reshapes the gradient back.
#pragma once

#include <algorithm>

#include "pretext/autograd/variable.hpp"
#include "pretext/ops/reduce.hpp"

namespace pretext {

namespace autograd::detail {
/// A gradient of shape `shape` that is zero except for the part `part(grad)` selects, set to g.
template <class T, std::size_t N, int RG, class Part>
Tensor<T, static_cast<int>(N)> scatter_into_zeros(const std::array<index_t, N>& shape,
                                                  const Tensor<T, RG>& g, const Part& part) {
  auto out = Tensor<T, static_cast<int>(N)>::zeros(shape);
  part(out).copy_(g);
  return out;
}
}  // namespace autograd::detail

/// Python-style slice along axis (see Tensor::slice).
template <floating T, int R>
Var<T, R> slice(const Var<T, R>& x, int axis, index_t start, index_t end, index_t step = 1) {
  auto y = x.data().slice(axis, start, end, step);
  return autograd::detail::record(
      "slice", std::move(y),
      [shape = x.shape(), axis, start, end, step](const Tensor<T, R>& g, const auto&) {
        return autograd::detail::scatter_into_zeros(
            shape, g, [&](const Tensor<T, R>& z) { return z.slice(axis, start, end, step); });
      },
      x);
}

/// `length` elements from `start` along axis.
template <floating T, int R>
Var<T, R> narrow(const Var<T, R>& x, int axis, index_t start, index_t length) {
  auto y = x.data().narrow(axis, start, length);
  return autograd::detail::record(
      "narrow", std::move(y),
      [shape = x.shape(), axis, start, length](const Tensor<T, R>& g, const auto&) {
        return autograd::detail::scatter_into_zeros(
            shape, g, [&](const Tensor<T, R>& z) { return z.narrow(axis, start, length); });
      },
      x);
}

/// The slice at index along axis, axis removed.
template <floating T, int R>
requires(R >= 1) Var<T, R - 1> select(const Var<T, R>& x, int axis, index_t index) {
  auto y = x.data().select(axis, index);
  return autograd::detail::record(
      "select", std::move(y),
      [shape = x.shape(), axis, index](const Tensor<T, R - 1>& g, const auto&) {
        return autograd::detail::scatter_into_zeros(
            shape, g, [&](const Tensor<T, R>& z) { return z.select(axis, index); });
      },
      x);
}

/// Axis i of the result is axis order[i] of x.
template <floating T, int R>
Var<T, R> permute(const Var<T, R>& x, const std::type_identity_t<std::array<int, R>>& order) {
  auto y = x.data().permute(order);
  std::array<int, R> inverse{};
  for (int i = 0; i < R; ++i)
    inverse[static_cast<std::size_t>(
        normalize_axis(order[static_cast<std::size_t>(i)], R, "pretext::permute"))] = i;
  return autograd::detail::record(
      "permute", std::move(y),
      [inverse](const Tensor<T, R>& g, const auto&) { return g.permute(inverse); }, x);
}

template <floating T, int R>
Var<T, R> transpose(const Var<T, R>& x, int a0, int a1) {
  auto y = x.data().transpose(a0, a1);
  return autograd::detail::record(
      "transpose", std::move(y),
      [a0, a1](const Tensor<T, R>& g, const auto&) { return g.transpose(a0, a1); }, x);
}

/// Matrix transpose.
template <floating T>
Var<T, 2> t(const Var<T, 2>& x) {
  return transpose(x, 0, 1);
}

/// Broadcast view to `shape`; the gradient is summed back to x's shape.
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> expand(const Var<T, R>& x, const std::array<index_t, N>& shape) {
  constexpr int RN = static_cast<int>(N);
  auto y = x.data().expand(shape);
  return autograd::detail::record(
      "expand", std::move(y),
      [s = x.shape()](const Tensor<T, RN>& g, const auto&) { return sum_to(g, s); }, x);
}

/// Same elements in a new shape (one extent may be -1); a view when possible (see
/// Tensor::reshape).
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> reshape(const Var<T, R>& x, const std::array<index_t, N>& shape) {
  constexpr int RN = static_cast<int>(N);
  auto y = x.data().reshape(shape);
  return autograd::detail::record(
      "reshape", std::move(y),
      [s = x.shape()](const Tensor<T, RN>& g, const auto&) { return g.reshape(s); }, x);
}

/// As reshape, but throws shape_error instead of copying.
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> view(const Var<T, R>& x, const std::array<index_t, N>& shape) {
  constexpr int RN = static_cast<int>(N);
  auto y = x.data().view(shape);
  return autograd::detail::record(
      "view", std::move(y),
      [s = x.shape()](const Tensor<T, RN>& g, const auto&) { return g.reshape(s); }, x);
}

// Brace forms: reshape(x, {B, -1}).
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> expand(const Var<T, R>& x, const index_t (&shape)[N]) {
  std::array<index_t, N> s{};
  std::copy(shape, shape + N, s.begin());
  return expand(x, s);
}
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> reshape(const Var<T, R>& x, const index_t (&shape)[N]) {
  std::array<index_t, N> s{};
  std::copy(shape, shape + N, s.begin());
  return reshape(x, s);
}
template <floating T, int R, std::size_t N>
Var<T, static_cast<int>(N)> view(const Var<T, R>& x, const index_t (&shape)[N]) {
  std::array<index_t, N> s{};
  std::copy(shape, shape + N, s.begin());
  return view(x, s);
}

template <floating T, int R>
Var<T, 1> flatten(const Var<T, R>& x) {
  return reshape(x, Shape<1>{x.numel()});
}

template <floating T, int R>
Var<T, R + 1> unsqueeze(const Var<T, R>& x, int axis) {
  auto y = x.data().unsqueeze(axis);
  return autograd::detail::record(
      "unsqueeze", std::move(y),
      [s = x.shape()](const Tensor<T, R + 1>& g, const auto&) { return g.reshape(s); }, x);
}

template <floating T, int R>
requires(R >= 1) Var<T, R - 1> squeeze(const Var<T, R>& x, int axis) {
  auto y = x.data().squeeze(axis);
  return autograd::detail::record(
      "squeeze", std::move(y),
      [s = x.shape()](const Tensor<T, R - 1>& g, const auto&) { return g.reshape(s); }, x);
}

/// A contiguous copy when x is not contiguous (x itself otherwise, like Tensor::contiguous).
template <floating T, int R>
Var<T, R> contiguous(const Var<T, R>& x) {
  if (x.data().is_contiguous()) return x;
  return autograd::detail::record(
      "contiguous", x.data().contiguous(), [](const Tensor<T, R>& g, const auto&) { return g; }, x);
}

/// A contiguous copy that does not share storage with x; gradients flow through.
template <floating T, int R>
Var<T, R> clone(const Var<T, R>& x) {
  return autograd::detail::record(
      "clone", x.data().clone(), [](const Tensor<T, R>& g, const auto&) { return g; }, x);
}

}  // namespace pretext
