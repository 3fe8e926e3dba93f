// SPDX-License-Identifier: Apache-2.0
// Walking K strided operands of one shape row by row: the loop under every elementwise kernel.
//
// make_layout merges dimensions that are contiguous for all operands and drops extent-1 ones,
// so a contiguous (or uniformly strided) operand set becomes a single long row. for_each_row
// then visits the flat range [lo, hi) of elements as pieces of rows: the callback gets each
// operand's element offset at the row start and the row length, and runs the inner loop itself
// (SIMD when the inner strides are 1 or 0).
#pragma once

#include <algorithm>  // std::min
#include <array>
#include <cstddef>

#include "pretext/core/shape.hpp"

namespace pretext::detail {

inline constexpr int max_rank = 8;

template <int K>
struct NdLayout {
  int ndim = 1;                           // >= 1 after collapsing
  std::array<index_t, max_rank> shape{};  // innermost last
  std::array<std::array<index_t, max_rank>, K> strides{};
  index_t numel = 0;
  /// Inner (last-dimension) stride of operand k.
  index_t inner_stride(int k) const { return strides[k][ndim - 1]; }
  index_t inner_size() const { return shape[ndim - 1]; }
};

template <int K, std::size_t R>
NdLayout<K> make_layout(const std::array<index_t, R>& shape,
                        const std::array<std::array<index_t, R>, K>& strides) {
  static_assert(R <= max_rank, "pretext: tensors have rank at most 8");
  NdLayout<K> L;
  L.numel = numel(shape);
  int n = 0;
  for (std::size_t i = 0; i < R; ++i) {
    if (shape[i] == 1) continue;
    if (n > 0) {
      bool merge = true;
      for (int k = 0; k < K; ++k) merge = merge && strides[k][i] * shape[i] == L.strides[k][n - 1];
      if (merge) {
        L.shape[n - 1] *= shape[i];
        for (int k = 0; k < K; ++k) L.strides[k][n - 1] = strides[k][i];
        continue;
      }
    }
    L.shape[n] = shape[i];
    for (int k = 0; k < K; ++k) L.strides[k][n] = strides[k][i];
    ++n;
  }
  if (n == 0) {  // all extents 1 (or rank 0): one element
    L.shape[0] = 1;
    for (int k = 0; k < K; ++k) L.strides[k][0] = 1;
    n = 1;
  }
  L.ndim = n;
  return L;
}

/// Calls fn(offsets, count) for consecutive row pieces covering elements [lo, hi) in row-major
/// order; offsets[k] is operand k's element offset of the piece's first element.
template <int K, class Fn>
void for_each_row(const NdLayout<K>& L, index_t lo, index_t hi, Fn&& fn) {
  if (lo >= hi) return;
  const int d = L.ndim;
  const index_t inner = L.shape[d - 1];
  // Multi-index of lo.
  std::array<index_t, max_rank> idx{};
  index_t rem = lo;
  for (int i = d - 1; i >= 0; --i) {
    idx[i] = rem % L.shape[i];
    rem /= L.shape[i];
  }
  std::array<index_t, K> off{};
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < d; ++i) off[k] += idx[i] * L.strides[k][i];
  index_t pos = lo;
  while (pos < hi) {
    const index_t count = std::min(inner - idx[d - 1], hi - pos);
    fn(off, count);
    pos += count;
    if (pos >= hi) break;
    // Advance to the start of the next row.
    for (int k = 0; k < K; ++k) off[k] -= idx[d - 1] * L.strides[k][d - 1];
    idx[d - 1] = 0;
    for (int i = d - 2; i >= 0; --i) {
      ++idx[i];
      for (int k = 0; k < K; ++k) off[k] += L.strides[k][i];
      if (idx[i] < L.shape[i]) break;
      for (int k = 0; k < K; ++k) off[k] -= L.shape[i] * L.strides[k][i];
      idx[i] = 0;
    }
  }
}

}  // namespace pretext::detail
