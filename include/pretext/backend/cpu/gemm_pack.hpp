// SPDX-License-Identifier: Apache-2.0
// Packing for the GEMM micro-kernel: an A micro-panel (MR, kc) into rows of stride KS, and a
// B block (kc, nc) into NR-wide panels (kc, NR), both zero-padded to whole tiles.
//
// Untransposed operands are copied with vector loads; transposed ones are read along their
// contiguous dimension and written with a stride into the (cache-resident) packed buffer.
#pragma once

#include "pretext/backend/cpu/gemm_types.hpp"

namespace pretext::cpu::detail {

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
  constexpr index_t KS = G::KS;
  if (ta == Trans::no) {
    // op(A) (mr, kc) is mr rows of A: plain copies.
    for (index_t r = 0; r < mr; ++r) copy_pad(dst + r * KS, a + r * lda, kc, kc);
  } else {
    // op(A) row r is A's column r. Walk A's rows (k) and copy the mr contiguous elements of
    // each into column k of the panel: A is read a cache line at a time and the panel stays in
    // L1. (Gathering a column, 16 cache lines per vector, measured several times slower.)
    for (index_t k = 0; k < kc; ++k) {
      const T* s = a + k * lda;
      for (index_t r = 0; r < mr; ++r) dst[r * KS + k] = s[r];
    }
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
    } else {
      // Row k of the panel is column k of nr rows of B: read each row of B contiguously.
      const T* s = b + j0 * ldb;
      for (index_t j = 0; j < nr; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = s[j * ldb + k];
      for (index_t j = nr; j < NR; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = T(0);
    }
  }
}

}  // namespace pretext::cpu::detail
