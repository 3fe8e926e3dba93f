// SPDX-License-Identifier: Apache-2.0
// The GEMM micro-kernel: one (MR, NR) tile of C += packed A (MR, kc) * packed B (kc, NR), held in
// registers, then stored through the fused epilogue C = act(alpha * acc + beta * C + bias).
#pragma once

#include <cstddef>
#include <type_traits>

#include "pretext/backend/cpu/gemm_types.hpp"

namespace pretext::cpu::detail {

/// What the micro-kernel does when it stores its tile. bias points at the tile's first column
/// (nullptr for none); beta == 0 never reads C.
template <class T>
struct TileStore {
  T alpha;
  T beta;
  const T* bias;
};

/// c[0..n) = act(alpha * acc[0..n) + beta * c + bias), n <= NR; acc is a row of a spilled tile.
/// Vector body, scalar tail: used for edge tiles and by the K == 0 path.
template <class T, class Act>
void store_row_partial(const T* acc, T* c, index_t n, const TileStore<T>& st, const Act& act) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  const V valpha(st.alpha), vbeta(st.beta);
  index_t j = 0;
  for (; j + W <= n; j += W) {
    V v = valpha * V::load_unaligned(acc + j);
    if (st.beta != T(0)) v = xsimd::fma(vbeta, V::load_unaligned(c + j), v);
    if (st.bias) v += V::load_unaligned(st.bias + j);
    act(v).store_unaligned(c + j);
  }
  for (; j < n; ++j) {
    T v = st.alpha * acc[j];
    if (st.beta != T(0)) v += st.beta * c[j];
    if (st.bias) v += st.bias[j];
    c[j] = act(v);
  }
}

/// acc (Rows, NR) = packed A (Rows, kc), row stride KS, times packed B (kc, NR); then, with spill
/// == nullptr, the full C tile (Rows, NR) of row stride ldc = alpha acc + beta C + bias straight
/// from registers, else acc is written to spill (Rows, NR) for the caller's epilogue (edge tiles,
/// whose padded rows and columns must not be written, and activations, too big to unroll MR NV
/// times). Rows is MR but for the last rows of C: a 4-row edge must not pay for 14.
///
/// Plain loops with constant trip counts: fully unrolled at -O2 and above, so acc lives in
/// registers. (Lambda-based unrolling did the same but made GCC's points-to analysis take
/// minutes per instantiation under AddressSanitizer.)
template <class T, int Rows = static_cast<int>(GemmBlocking<T>::MR)>
void microkernel(index_t kc, const T* PRETEXT_RESTRICT a, const T* PRETEXT_RESTRICT b,
                 T* PRETEXT_RESTRICT c, index_t ldc, const TileStore<T>& st,
                 T* PRETEXT_RESTRICT spill) {
  using G = GemmBlocking<T>;
  using V = simd::batch<T>;
  constexpr int MR = Rows, NV = static_cast<int>(G::NV);
  static_assert(Rows >= 1 && Rows <= G::MR);
  constexpr index_t W = G::W, KS = G::KS, NR = G::NR;

  if (!spill) {
    // Start pulling the C tile into cache now; it is needed only after the K loop.
    for (int i = 0; i < MR; ++i) {
      __builtin_prefetch(c + i * ldc, 1);
      __builtin_prefetch(c + i * ldc + NR - 1, 1);
    }
  }

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = V(T(0));

  index_t k = 0;
  for (; k < kc; ++k) {
    // The B block streams from L2: ask for its lines a few steps ahead.
    if ((k & 3) == 0) {
      __builtin_prefetch(b + 8 * NR);
      __builtin_prefetch(b + 8 * NR + 2 * W);
    }
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = V::load_aligned(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai(a[i * KS + k]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = simd::fmadd<T>(ai, bv[j], acc[i][j]);
    }
    b += NR;
  }

  if (spill) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j].store_aligned(spill + i * NR + j * W);
    return;
  }
  const V valpha(st.alpha), vbeta(st.beta);
  if (st.beta == T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        V v = valpha * acc[i][j];
        if (st.bias) v += V::load_unaligned(st.bias + j * W);
        v.store_unaligned(c + i * ldc + j * W);
      }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        T* p = c + i * ldc + j * W;
        V v = simd::fmadd<T>(valpha, acc[i][j], vbeta * V::load_unaligned(p));
        if (st.bias) v += V::load_unaligned(st.bias + j * W);
        v.store_unaligned(p);
      }
  }
}

/// One C tile (mr, nr) through the micro-kernel and the epilogue act(alpha acc + beta C + bias).
template <class T, class Act>
PRETEXT_ALWAYS_INLINE void compute_tile(index_t kc, const T* a, const T* b, T* c, index_t ldc,
                                        index_t mr, index_t nr, const TileStore<T>& st,
                                        const Act& act) {
  using G = GemmBlocking<T>;
  if (std::is_same_v<Act, Identity> && mr == G::MR && nr == G::NR) {
    microkernel<T>(kc, a, b, c, ldc, st, nullptr);
    return;
  }
  alignas(64) T tile[G::MR * G::NR];
  constexpr int quarter = static_cast<int>((G::MR + 3) / 4), half = static_cast<int>(G::MR / 2);
  if (mr <= quarter)
    microkernel<T, quarter>(kc, a, b, c, ldc, st, tile);
  else if (mr <= half)
    microkernel<T, half>(kc, a, b, c, ldc, st, tile);
  else
    microkernel<T>(kc, a, b, c, ldc, st, tile);
  for (index_t i = 0; i < mr; ++i) store_row_partial(tile + i * G::NR, c + i * ldc, nr, st, act);
}

}  // namespace pretext::cpu::detail
