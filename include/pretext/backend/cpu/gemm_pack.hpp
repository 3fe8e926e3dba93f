// SPDX-License-Identifier: Apache-2.0
// Packing for the GEMM micro-kernel: an A micro-panel (MR, kc) into rows of stride KS, and a
// B block (kc, nc) into NR-wide panels (kc, NR), both zero-padded to whole tiles.
//
// Untransposed operands are copied with vector loads; transposed ones are read along their
// contiguous dimension and written with a stride into the (cache-resident) packed buffer.
#pragma once

#include <type_traits>

#include "pretext/backend/cpu/gemm_types.hpp"

namespace pretext::cpu::detail {

#if defined(__AVX512F__)
/// Whether the 16 x 16 register transpose below serves T on the compiled instruction set.
template <class T>
inline constexpr bool transpose16 =
    std::is_same_v<T, float>&& std::is_base_of_v<xsimd::avx512f, simd::arch>;

/// r[i][j] -> r[j][i] for a 16 x 16 float block in 16 AVX-512 registers: 32-bit interleaves
/// of row pairs, 64-bit interleaves of those, then two rounds of 128-bit lane shuffles (64
/// shuffles for 256 elements, where a scalar transpose does 256 loads and stores).
PRETEXT_ALWAYS_INLINE void transpose_16x16(__m512 (&r)[16]) {
  __m512 t[16], u[16];
  for (int a = 0; a < 8; ++a) {
    t[2 * a] = _mm512_unpacklo_ps(r[2 * a], r[2 * a + 1]);
    t[2 * a + 1] = _mm512_unpackhi_ps(r[2 * a], r[2 * a + 1]);
  }
  // u[4b + c], lane L: column 4L + c of rows 4b .. 4b + 3.
  for (int b = 0; b < 4; ++b) {
    const __m512d lo0 = _mm512_castps_pd(t[4 * b]), lo1 = _mm512_castps_pd(t[4 * b + 2]);
    const __m512d hi0 = _mm512_castps_pd(t[4 * b + 1]), hi1 = _mm512_castps_pd(t[4 * b + 3]);
    u[4 * b] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * b + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * b + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * b + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  // Column 4L + c = lanes L of u[c], u[4 + c], u[8 + c], u[12 + c].
  for (int c = 0; c < 4; ++c) {
    const __m512 p0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
    const __m512 p1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    const __m512 q0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 q1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(p0, q0, 0x88);
    r[c + 8] = _mm512_shuffle_f32x4(p0, q0, 0xDD);
    r[c + 4] = _mm512_shuffle_f32x4(p1, q1, 0x88);
    r[c + 12] = _mm512_shuffle_f32x4(p1, q1, 0xDD);
  }
}
#else
template <class T>
inline constexpr bool transpose16 = false;
#endif

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
    index_t k0 = 0;
#if defined(__AVX512F__)
    if constexpr (transpose16<T>) {
      static_assert(G::MR <= 16);
      // 16 k at a time: 16 rows of A (mr elements each) transposed in registers.
      const __mmask16 rows = static_cast<__mmask16>((1u << mr) - 1u);
      for (; k0 + 16 <= kc; k0 += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(rows, a + (k0 + i) * lda);
        transpose_16x16(r);
        for (index_t i = 0; i < mr; ++i) _mm512_storeu_ps(dst + i * KS + k0, r[i]);
      }
    }
#endif
    for (index_t k = k0; k < kc; ++k) {
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
      index_t k0 = 0;
#if defined(__AVX512F__)
      if constexpr (transpose16<T> && NR % 16 == 0) {
        // Whole panels, 16 x 16 blocks (16 rows of B by 16 k) transposed in registers.
        if (nr == NR)
          for (; k0 + 16 <= kc; k0 += 16)
            for (index_t j1 = 0; j1 < NR; j1 += 16) {
              __m512 r[16];
              for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(s + (j1 + i) * ldb + k0);
              transpose_16x16(r);
              for (int i = 0; i < 16; ++i) _mm512_store_ps(dst + (k0 + i) * NR + j1, r[i]);
            }
      }
#endif
      for (index_t j = 0; j < nr; ++j)
        for (index_t k = k0; k < kc; ++k) dst[k * NR + j] = s[j * ldb + k];
      for (index_t j = nr; j < NR; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * NR + j] = T(0);
    }
  }
}

}  // namespace pretext::cpu::detail
