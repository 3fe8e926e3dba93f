// SPDX-License-Identifier: Apache-2.0
// Shapes and strides of rank-R tensors: fixed-size arrays, so they never touch the heap.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string>

#include "pretext/core/error.hpp"

namespace pretext {

/// Signed index and extent type (as PyTorch's int64 sizes): negative axes count from the end.
using index_t = std::int64_t;

/// Extents of a rank-R tensor, outermost first.
template <int Rank>
using Shape = std::array<index_t, static_cast<std::size_t>(Rank)>;

/// Strides, in elements (not bytes), outermost first.
template <int Rank>
using Strides = std::array<index_t, static_cast<std::size_t>(Rank)>;

/// Tag for reductions that keep the reduced axis with extent 1.
struct keepdim_t {
  explicit constexpr keepdim_t() = default;
};
inline constexpr keepdim_t keepdim{};

namespace detail {

template <std::size_t N>
std::string shape_string(const std::array<index_t, N>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < N; ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

}  // namespace detail

/// Prints "[2, 3]".
template <std::size_t N>
std::ostream& operator<<(std::ostream& os, const std::array<index_t, N>& s) {
  return os << detail::shape_string(s);
}

/// Number of elements of a shape; 1 for rank 0.
template <std::size_t N>
constexpr index_t numel(const std::array<index_t, N>& s) {
  index_t n = 1;
  for (auto e : s) n *= e;
  return n;
}

/// Row-major (C order) strides of a shape.
template <std::size_t N>
constexpr std::array<index_t, N> contiguous_strides(const std::array<index_t, N>& s) {
  std::array<index_t, N> st{};
  index_t acc = 1;
  for (std::size_t i = N; i-- > 0;) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}

/// Maps a possibly negative axis to [0, Rank); throws index_error naming op when out of range.
inline int normalize_axis(int axis, int rank, const char* op) {
  const int a = axis < 0 ? axis + rank : axis;
  PRETEXT_CHECK(a >= 0 && a < rank, index_error, op, ": axis ", axis,
                " is out of range for a tensor of rank ", rank, "; use an axis in [", -rank, ", ",
                rank - 1, "]");
  return a;
}

/// NumPy broadcasting of two shapes, right-aligned. Throws shape_error naming op and both shapes.
template <std::size_t NA, std::size_t NB>
std::array<index_t, (NA > NB ? NA : NB)> broadcast_shapes(const std::array<index_t, NA>& a,
                                                          const std::array<index_t, NB>& b,
                                                          const char* op) {
  constexpr std::size_t N = NA > NB ? NA : NB;
  std::array<index_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const index_t ea = i < N - NA ? 1 : a[i - (N - NA)];
    const index_t eb = i < N - NB ? 1 : b[i - (N - NB)];
    PRETEXT_CHECK(ea == eb || ea == 1 || eb == 1, shape_error, op, ": shapes ",
                  detail::shape_string(a), " and ", detail::shape_string(b),
                  " do not broadcast (axis ", static_cast<int>(i) - static_cast<int>(N),
                  " has extents ", ea, " and ", eb,
                  "); make them equal or 1, or reshape one operand");
    out[i] = ea == 1 ? eb : ea;
  }
  return out;
}

}  // namespace pretext
