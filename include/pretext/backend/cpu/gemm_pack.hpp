// SPDX-License-Identifier: Apache-2.0
// Packing for the GEMM micro-kernel: an A micro-panel (MR, kc) into rows of stride KS, and a
// B block (kc, nc) into NR-wide panels (kc, NR), both zero-padded to whole tiles.
//
// Untransposed operands are copied with vector loads; transposed ones are read with gathers
// (one SIMD vector of elements a row stride apart), which the AVX2 and AVX-512 builds do in
// hardware and xsimd emulates elsewhere.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "pretext/backend/cpu/gemm_types.hpp"

namespace pretext::cpu::detail {

/// Integer type of gather indices with as many lanes as batch<T>.
template <class T>
using gather_index_t = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

/// Lane offsets 0, ld, 2 ld, ... for gathering a column of a row-major matrix.
template <class T>
PRETEXT_ALWAYS_INLINE xsimd::batch<gather_index_t<T>, simd::arch> lane_strides(index_t ld) {
  using I = gather_index_t<T>;
  alignas(64) I idx[simd::width<T>];
  for (std::size_t l = 0; l < simd::width<T>; ++l)
    idx[l] = static_cast<I>(static_cast<index_t>(l) * ld);
  return xsimd::batch<I, simd::arch>::load_aligned(idx);
}

/// Whether W rows of stride ld fit the gather index type.
template <class T>
bool gather_fits(index_t ld) {
  return ld * static_cast<index_t>(simd::width<T>) <
         static_cast<index_t>(std::numeric_limits<gather_index_t<T>>::max());
}

/// dst[0..n) = src[0..n) (vector copy), then zeros up to n_pad.
template <class T>
PRETEXT_ALWAYS_INLINE void copy_pad(T* PRETEXT_RESTRICT dst, const T* PRETEXT_RESTRICT src,
                                    index_t n, index_t n_pad) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  index_t j = 0;
  for (; j + W <= n; j += W) V::load_unaligned(src + j).store_unaligned(dst + j);
  for (; j < n; ++j) dst[j] = src[j];
  for (; j < n_pad; ++j) dst[j] = T(0);
}

/// dst (MR, KS) <- op(A) rows [0, mr), columns [0, kc); rows mr..MR are zeros. a points at
/// op(A)'s element (0, 0): A's (0, 0) either way, the transpose only changes the strides.
template <class T>
void pack_a(Trans ta, const T* PRETEXT_RESTRICT a, index_t lda, index_t mr, index_t kc,
            T* PRETEXT_RESTRICT dst) {
  using G = GemmBlocking<T>;
  using V = simd::batch<T>;
  constexpr index_t W = G::W, KS = G::KS;
  if (ta == Trans::no) {
    // op(A) (mr, kc) is mr rows of A: plain copies.
    for (index_t r = 0; r < mr; ++r) copy_pad(dst + r * KS, a + r * lda, kc, kc);
  } else if (gather_fits<T>(lda)) {
    // op(A) row r is A's column r: W elements at a time, lda apart.
    const auto idx = lane_strides<T>(lda);
    for (index_t r = 0; r < mr; ++r) {
      T* d = dst + r * KS;
      index_t k = 0;
      for (; k + W <= kc; k += W) V::gather(a + k * lda + r, idx).store_aligned(d + k);
      for (; k < kc; ++k) d[k] = a[k * lda + r];
    }
  } else {
    for (index_t k = 0; k < kc; ++k)
      for (index_t r = 0; r < mr; ++r) dst[r * KS + k] = a[k * lda + r];
  }
  for (index_t r = mr; r < G::MR; ++r)
    for (index_t k = 0; k < kc; ++k) dst[r * KS + k] = T(0);
}

/// dst <- op(B) (kc, nc) as ceil(nc / NR) panels of (kc, NR), each row of a panel NR contiguous
/// elements; columns past nc are zeros. b points at op(B)'s element (0, 0).
template <class T>
void pack_b(Trans tb, const T* PRETEXT_RESTRICT b, index_t ldb, index_t kc, index_t nc,
            T* PRETEXT_RESTRICT dst) {
  using G = GemmBlocking<T>;
  using V = simd::batch<T>;
  constexpr index_t W = G::W, NR = G::NR, NV = G::NV;
  const bool gather = tb == Trans::yes && gather_fits<T>(ldb);
  const auto idx = lane_strides<T>(gather ? ldb : 0);
  for (index_t j0 = 0; j0 < nc; j0 += NR, dst += kc * NR) {
    const index_t nr = nc - j0 < NR ? nc - j0 : NR;
    if (tb == Trans::no) {
      // Row k of the panel is NR contiguous elements of B's row k.
      const T* s = b + j0;
      if (nr == NR) {
        for (index_t k = 0; k < kc; ++k)
          for (index_t v = 0; v < NV; ++v)
            V::load_unaligned(s + k * ldb + v * W).store_aligned(dst + k * NR + v * W);
      } else {
        for (index_t k = 0; k < kc; ++k) copy_pad(dst + k * NR, s + k * ldb, nr, NR);
      }
    } else if (gather && nr == NR) {
      // Row k of the panel is column k of NR rows of B.
      const T* s = b + j0 * ldb;
      for (index_t k = 0; k < kc; ++k)
        for (index_t v = 0; v < NV; ++v)
          V::gather(s + v * W * ldb + k, idx).store_aligned(dst + k * NR + v * W);
    } else {
      const T* s = b + j0 * ldb;
      for (index_t j = 0; j < NR; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = j < nr ? s[j * ldb + k] : T(0);
    }
  }
}

}  // namespace pretext::cpu::detail
