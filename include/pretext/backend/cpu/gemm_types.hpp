// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the GEMM kernels: transpose flags, the fused epilogue, and the tile and
// cache-block sizes chosen per instruction set. Dimension letters: C (M, N) = op(A) (M, K) op(B)
// (K, N).
#pragma once

#include <cstddef>
#include <type_traits>

#include "pretext/backend/cpu/activation.hpp"
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/core/dtype.hpp"
#include "pretext/core/shape.hpp"

namespace pretext::cpu {

/// Whether a GEMM operand is read transposed. Matrices are row-major: with Trans::yes, op(A) (M, K)
/// is stored as a (K, M) matrix with row stride lda.
enum class Trans : bool { no = false, yes = true };

/// Work fused into the store of C: bias (length N, added to every row), then the activation.
template <class T>
struct Epilogue {
  const T* bias = nullptr;
  Activation act = Activation::none;
};

namespace detail {

/// Tile and block sizes of the packed GEMM for element type T on the compiled instruction set.
///
/// The micro-kernel keeps an (MR, NR) tile of C in registers: NR is two SIMD vectors, MR as many
/// rows as the register file holds next to the two B vectors and one broadcast A value (32
/// registers with AVX-512: 14 x 2 accumulators; 16 with AVX2/SSE: 6 x 2). Per k step it does
/// 2 MR FMAs for 2 vector loads and MR broadcasts, which keeps both FMA ports busy.
///
/// Blocking: an A micro-panel (MR, KC) sits in L1 while the kernel sweeps the packed B block
/// (KC, NC), which sits in L2; KC is as long as the A panel allows (a longer KC means C is
/// read and written fewer times), NC fills about half of L2.
template <class T>
struct GemmBlocking {
  static constexpr bool wide_regs = std::is_base_of_v<xsimd::avx512f, simd::arch>;
  static constexpr index_t W = static_cast<index_t>(simd::width<T>);
  static constexpr index_t NV = 2;  // SIMD vectors per row of the C tile
  static constexpr index_t NR = NV * W;
  static constexpr index_t MR = wide_regs ? 14 : 6;
  // AVX-512 (Xeon: L1 48K, L2 2M): A panel 14 x 384 floats = 21K; B block 384 x 832 = 1.25M,
  // so a 768-wide layer is one N block and A is packed once. KC 256..512 and MR 12 measured
  // within noise of this on the Xeon; all reach about 150 GFLOP/s per core, its FMA peak.
  // AVX2 (Zen 3: L1 32K, L2 512K): A panel 6 x 384 floats = 9K; B block 384 x 256 = 384K.
  // KC 384 rather than 256 reads and writes C a third less often; on the Zen 3 VM, with the
  // assembly kernel, it measured level with KC 256 in paired runs (within +-3%), as did KC 320,
  // 448 and 512 (NC 128-256).
  static constexpr index_t KC = 384 * 4 / static_cast<index_t>(sizeof(T));
  static constexpr std::size_t l2_bytes = wide_regs ? (5u << 18) : (3u << 17);
  static constexpr index_t NC_max = static_cast<index_t>(l2_bytes / (KC * sizeof(T))) / NR * NR;
  // Row stride of a packed A panel: KC plus one cache line, so the MR rows the kernel reads in
  // lock step fall into different L1 sets.
  static constexpr index_t KS = KC + 64 / static_cast<index_t>(sizeof(T));
};

}  // namespace detail
}  // namespace pretext::cpu
