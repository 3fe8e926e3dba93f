// SPDX-License-Identifier: Apache-2.0
// The GEMM micro-kernel: one (MR, NR) tile of C += packed A (MR, kc) * packed B (kc, NR), held in
// registers, then stored through the fused epilogue C = act(alpha * acc + beta * C + bias).
#pragma once

#include <cstddef>
#include <type_traits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__))
#define PRETEXT_GEMM_ASM_AVX2 1

// clang-format off
// One k step of the 6-row tile: the B row (two vectors) into ymm12/13, then for each of the six
// A rows a broadcast into ymm14 and two FMAs. u is the step within the trip (0..3); bc and fma
// are the broadcast and FMA suffixes ("ss", "ps" for float; "sd", "pd" for double), esz the
// element size. Row i of the packed A panel is %c[r<i>] bytes after row 0.
#define PRETEXT_GEMM_ROW(off, i, u, bc, fma, esz)                \
  "vbroadcast" bc " " off #u "*" esz "(%[a]), %%ymm14\n\t"      \
  "vfmadd231" fma " %%ymm12, %%ymm14, %[c" #i "0]\n\t"          \
  "vfmadd231" fma " %%ymm13, %%ymm14, %[c" #i "1]\n\t"
#define PRETEXT_GEMM_STEP(u, bc, fma, esz)                       \
  "vmovaps " #u "*64(%[b]), %%ymm12\n\t"                         \
  "vmovaps " #u "*64+32(%[b]), %%ymm13\n\t"                      \
  PRETEXT_GEMM_ROW("", 0, u, bc, fma, esz)                       \
  PRETEXT_GEMM_ROW("%c[r1]+", 1, u, bc, fma, esz)                \
  PRETEXT_GEMM_ROW("%c[r2]+", 2, u, bc, fma, esz)                \
  PRETEXT_GEMM_ROW("%c[r3]+", 3, u, bc, fma, esz)                \
  PRETEXT_GEMM_ROW("%c[r4]+", 4, u, bc, fma, esz)                \
  PRETEXT_GEMM_ROW("%c[r5]+", 5, u, bc, fma, esz)
// The whole loop: zero the 12 accumulators, then `trips` trips of four steps, each trip with one
// prefetch of B eight steps ahead (B streams from L2) and one loop test.
#define PRETEXT_GEMM_K_LOOP(bc, fma, esz)                                                  \
  asm volatile(                                                                            \
      "vxorps %[c00], %[c00], %[c00]\n\t" "vxorps %[c01], %[c01], %[c01]\n\t"              \
      "vxorps %[c10], %[c10], %[c10]\n\t" "vxorps %[c11], %[c11], %[c11]\n\t"              \
      "vxorps %[c20], %[c20], %[c20]\n\t" "vxorps %[c21], %[c21], %[c21]\n\t"              \
      "vxorps %[c30], %[c30], %[c30]\n\t" "vxorps %[c31], %[c31], %[c31]\n\t"              \
      "vxorps %[c40], %[c40], %[c40]\n\t" "vxorps %[c41], %[c41], %[c41]\n\t"              \
      "vxorps %[c50], %[c50], %[c50]\n\t" "vxorps %[c51], %[c51], %[c51]\n\t"              \
      "testq %[n], %[n]\n\t"                                                               \
      "jz 2f\n\t"                                                                          \
      "1:\n\t"                                                                             \
      "prefetcht0 512(%[b])\n\t"                                                           \
      "prefetcht0 576(%[b])\n\t"                                                           \
      PRETEXT_GEMM_STEP(0, bc, fma, esz) PRETEXT_GEMM_STEP(1, bc, fma, esz)                \
      PRETEXT_GEMM_STEP(2, bc, fma, esz) PRETEXT_GEMM_STEP(3, bc, fma, esz)                \
      "addq $4*" esz ", %[a]\n\t"                                                          \
      "addq $256, %[b]\n\t"                                                                \
      "decq %[n]\n\t"                                                                      \
      "jnz 1b\n\t"                                                                         \
      "2:\n\t"                                                                             \
      : [a] "+r"(a), [b] "+r"(b), [n] "+r"(trips),                                         \
        [c00] "=&x"(c[0]), [c01] "=&x"(c[1]), [c10] "=&x"(c[2]), [c11] "=&x"(c[3]),        \
        [c20] "=&x"(c[4]), [c21] "=&x"(c[5]), [c30] "=&x"(c[6]), [c31] "=&x"(c[7]),        \
        [c40] "=&x"(c[8]), [c41] "=&x"(c[9]), [c50] "=&x"(c[10]), [c51] "=&x"(c[11])       \
      : [r1] "i"(1 * row_bytes), [r2] "i"(2 * row_bytes), [r3] "i"(3 * row_bytes),         \
        [r4] "i"(4 * row_bytes), [r5] "i"(5 * row_bytes)                                   \
      : "ymm12", "ymm13", "ymm14", "memory", "cc")
// clang-format on

/// The AVX2 register of T: __m256 for float, __m256d for double.
template <class T>
using ymm = typename simd::batch<T>::register_type;

/// c (6, NR) = packed A (6, 4 * trips), row stride KS, times packed B (4 * trips, NR), NR two
/// vectors (16 floats or 8 doubles): the first 4 * trips k steps of the full tile on AVX2, in
/// assembly; microkernel() does the last kc % 4. c[2 i + j] is row i, vector j.
///
/// Why assembly: compiled from the loop in microkernel(), each k step also paid a loop test,
/// the prefetch test and pointer moves (8 scalar instructions next to 12 FMAs), and unrolling
/// made GCC fold the B loads into the FMAs (12 loads a step, not 2) and copy accumulators
/// between registers. Here a step is 2 loads, 6 broadcasts and 12 FMAs, and a trip adds one
/// prefetch and one loop test. On the Zen 3 VM this (with KC 384, which alone measured level)
/// took SGEMM on the DL shapes of bench_gemm from 0.70-0.95 of OpenBLAS to 0.94-1.04 at two
/// threads and from 0.84-0.96 to 0.94-1.01 at one.
template <class T>
void k_loop_avx2(index_t trips, const T* a, const T* b, ymm<T> (&c)[12]) {
  using G = GemmBlocking<T>;
  static_assert(G::MR == 6 && G::NR * sizeof(T) == 64);
  constexpr index_t row_bytes = G::KS * static_cast<index_t>(sizeof(T));
  if constexpr (std::is_same_v<T, float>)
    PRETEXT_GEMM_K_LOOP("ss", "ps", "4");
  else
    PRETEXT_GEMM_K_LOOP("sd", "pd", "8");
}
#undef PRETEXT_GEMM_K_LOOP
#undef PRETEXT_GEMM_STEP
#undef PRETEXT_GEMM_ROW
#endif

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
  index_t k = 0;
#if defined(PRETEXT_GEMM_ASM_AVX2)
  if constexpr (MR == 6 && NV == 2 && W * sizeof(T) == 32) {
    ymm<T> regs[12];
    k = kc & ~index_t(3);
    k_loop_avx2<T>(k / 4, a, b, regs);
    b += k * NR;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = V(regs[2 * i + j]);
  } else
#endif
  {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = V(T(0));
  }

  // The K loop (what the assembly left of it, if any).
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
