// SPDX-License-Identifier: Apache-2.0
// The elementwise engine: out = op(in_0, ..., in_{K-1}) over one broadcast shape.
//
// Operands are strided (stride 0 broadcasts). Dimensions are merged where every operand is
// contiguous across them, the flat element range is split across threads, and each row piece
// runs a SIMD loop when the output's inner stride is 1 and every input's is 1 or 0 (a
// compile-time mask picks the loads); other layouts run a scalar loop. The vector loop's tail is
// computed through a padded register-sized buffer, so an element's value does not depend on
// where it falls in a row.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/detail/nd_iter.hpp"

namespace pretext::cpu {

namespace detail {

using pretext::detail::for_each_row;
using pretext::detail::make_layout;
using pretext::detail::NdLayout;

// Inputs whose bit is set in Mask are broadcast within the row (inner stride 0).
template <unsigned Mask, std::size_t K, class T, class Op>
PRETEXT_ALWAYS_INLINE void row_simd(T* PRETEXT_RESTRICT o, const std::array<const T*, K>& p,
                                    index_t n, const Op& op) {
  using B = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  auto at = [&]<std::size_t k>(index_t i) {
    if constexpr ((Mask >> k) & 1u)
      return B(p[k][0]);
    else
      return simd::load(p[k] + i);
  };
  auto apply = [&]<std::size_t... k>(index_t i, std::index_sequence<k...>) {
    return op(at.template operator()<k>(i)...);
  };
  index_t i = 0;
  for (; i + W <= n; i += W) simd::store(o + i, apply(i, std::make_index_sequence<K>{}));
  if (i < n) {
    // Tail: pad each non-broadcast input into a full register.
    alignas(64) T buf[K ? K : 1][simd::width<T>] = {};
    alignas(64) T res[simd::width<T>];
    const index_t r = n - i;
    auto tail_at = [&]<std::size_t k>() {
      if constexpr ((Mask >> k) & 1u)
        return B(p[k][0]);
      else {
        std::copy(p[k] + i, p[k] + i + r, buf[k]);
        return B::load_aligned(buf[k]);
      }
    };
    auto tail = [&]<std::size_t... k>(std::index_sequence<k...>) {
      return op(tail_at.template operator()<k>()...);
    };
    tail(std::make_index_sequence<K>{}).store_aligned(res);
    std::copy(res, res + r, o + i);
  }
}

template <std::size_t K, class T, class Op>
void row_scalar(T* o, index_t so, const std::array<const T*, K>& p, const std::array<index_t, K>& s,
                index_t n, const Op& op) {
  auto apply = [&]<std::size_t... k>(index_t i, std::index_sequence<k...>) {
    return op(p[k][i * s[k]]...);
  };
  for (index_t i = 0; i < n; ++i) o[i * so] = apply(i, std::make_index_sequence<K>{});
}

}  // namespace detail

/// out = op(in...) elementwise over `shape`. out_strides describe the output (usually
/// contiguous); in_strides may contain 0 for broadcast axes. op must be callable on scalars and
/// on simd::batch<T>. `grain` is the minimum number of elements per thread.
template <class T, std::size_t K, std::size_t R, class Op>
void map(T* out, const std::array<index_t, R>& out_strides, const std::array<const T*, K>& in,
         const std::array<std::array<index_t, R>, K>& in_strides,
         const std::array<index_t, R>& shape, const Op& op, index_t grain = 1 << 14) {
  std::array<std::array<index_t, R>, K + 1> all{};
  all[0] = out_strides;
  for (std::size_t k = 0; k < K; ++k) all[k + 1] = in_strides[k];
  const auto L = detail::make_layout<static_cast<int>(K + 1)>(shape, all);
  if (L.numel == 0) return;

  bool vector_ok = L.inner_stride(0) == 1;
  unsigned mask = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const index_t s = L.inner_stride(static_cast<int>(k + 1));
    vector_ok = vector_ok && (s == 1 || s == 0);
    if (s == 0) mask |= 1u << k;
  }

  parallel_for(0, L.numel, grain, [&](index_t lo, index_t hi) {
    detail::for_each_row(L, lo, hi, [&](const auto& off, index_t n) {
      std::array<const T*, K> p{};
      for (std::size_t k = 0; k < K; ++k) p[k] = in[k] + off[k + 1];
      T* o = out + off[0];
      if (vector_ok) {
        // Pick the load pattern (which inputs broadcast) once per row.
        [&]<unsigned... M>(std::integer_sequence<unsigned, M...>) {
          (void)((mask == M ? (detail::row_simd<M, K>(o, p, n, op), true) : false) || ...);
        }
        (std::make_integer_sequence<unsigned, (1u << K)>{});
      } else {
        std::array<index_t, K> s{};
        for (std::size_t k = 0; k < K; ++k) s[k] = L.inner_stride(static_cast<int>(k + 1));
        detail::row_scalar<K>(o, L.inner_stride(0), p, s, n, op);
      }
    });
  });
}

}  // namespace pretext::cpu
