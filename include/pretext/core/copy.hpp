// SPDX-License-Identifier: Apache-2.0
// Strided copy between two views of one shape: what contiguous(), clone() and copy_() run.
#pragma once

#include <cstring>  // std::memcpy

#include "pretext/backend/cpu/threading.hpp"
#include "pretext/detail/nd_iter.hpp"

namespace pretext::detail {

/// dst[i] = src[i] over `shape`; src strides may be 0 (broadcast). Parallel over elements.
template <class T, std::size_t R>
void copy_strided(T* dst, const std::array<index_t, R>& dst_strides, const T* src,
                  const std::array<index_t, R>& src_strides, const std::array<index_t, R>& shape) {
  using A = std::array<index_t, R>;
  const auto L = make_layout<2>(shape, std::array<A, 2>{dst_strides, src_strides});
  if (L.numel == 0) return;
  const index_t sd = L.inner_stride(0), ss = L.inner_stride(1);
  parallel_for(0, L.numel, 1 << 15, [&](index_t lo, index_t hi) {
    for_each_row(L, lo, hi, [&](const std::array<index_t, 2>& off, index_t n) {
      T* d = dst + off[0];
      const T* s = src + off[1];
      if (sd == 1 && ss == 1) {
        std::memcpy(d, s, static_cast<std::size_t>(n) * sizeof(T));
      } else if (ss == 0) {
        const T v = *s;
        for (index_t i = 0; i < n; ++i) d[i * sd] = v;
      } else {
        for (index_t i = 0; i < n; ++i) d[i * sd] = s[i * ss];
      }
    });
  });
}

}  // namespace pretext::detail
