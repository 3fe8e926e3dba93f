// SPDX-License-Identifier: Apache-2.0
// Packed, cache-blocked SIMD GEMM on raw row-major pointers:
// C (M, N) = act(alpha * op(A) (M, K) * op(B) (K, N) + beta * C + bias (N)), and a strided batch
// of them (B, M, N) for attention.
//
// Loop nest (one thread's share): for each NC block of columns, for each KC block of K, pack
// op(B) (kc, nc) into NR-wide panels (L2); then for each MR rows, pack op(A) (MR, kc) (L1) and
// run the micro-kernel across the block's panels. Threads take disjoint rectangles of C and pack
// their own operands, so no thread waits for another (the pool may run them one after another).
#pragma once

#include <algorithm>
#include <cstddef>

#include "pretext/backend/cpu/activation.hpp"
#include "pretext/backend/cpu/gemm_microkernel.hpp"
#include "pretext/backend/cpu/gemm_pack.hpp"
#include "pretext/backend/cpu/gemm_types.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/allocator.hpp"
#include "pretext/core/error.hpp"

namespace pretext::cpu {
namespace detail {

/// Per-thread packing buffers, grown on demand and kept: steady-state calls allocate nothing.
template <class T>
class GemmBuffers {
 public:
  GemmBuffers() = default;
  GemmBuffers(const GemmBuffers&) = delete;
  GemmBuffers& operator=(const GemmBuffers&) = delete;
  ~GemmBuffers() {
    release(a_, a_n_);
    release(b_, b_n_);
    release(s_, s_n_);
  }
  T* a(std::size_t n) { return grow(a_, a_n_, n); }
  T* b(std::size_t n) { return grow(b_, b_n_, n); }
  /// All of op(B) packed by the threads together, owned by the calling thread.
  T* shared_b(std::size_t n) { return grow(s_, s_n_, n); }

 private:
  static void release(T* p, std::size_t n) {
    if (p) host_deallocate(p, n * sizeof(T));
  }
  static T* grow(T*& p, std::size_t& have, std::size_t n) {
    if (n > have) {
      release(p, have);
      p = nullptr;
      have = 0;
      p = static_cast<T*>(host_allocate(n * sizeof(T)));
      have = n;
    }
    return p;
  }
  T* a_ = nullptr;
  T* b_ = nullptr;
  T* s_ = nullptr;
  std::size_t a_n_ = 0, b_n_ = 0, s_n_ = 0;
};

template <class T>
GemmBuffers<T>& gemm_buffers() {
  thread_local GemmBuffers<T> buffers;
  return buffers;
}

constexpr index_t ceil_div(index_t a, index_t b) {
  return (a + b - 1) / b;
}

/// Block length for n split into pieces of at most max_len: balanced, a multiple of `multiple`.
constexpr index_t balanced_block(index_t n, index_t max_len, index_t multiple) {
  const index_t pieces = ceil_div(n, max_len);
  return std::min(max_len, ceil_div(ceil_div(n, pieces), multiple) * multiple);
}

/// C = act(beta * C + bias) over (M, N): the K == 0 and alpha == 0 cases, where A and B are
/// not read at all (as BLAS does).
template <class T, class Act>
void scale_rows(index_t M, index_t N, T beta, T* C, index_t ldc, const T* bias, const Act& act) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  const V vbeta(beta);
  for (index_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    index_t j = 0;
    for (; j + W <= N; j += W) {
      V v = beta == T(0) ? V(T(0)) : vbeta * V::load_unaligned(c + j);
      if (bias) v += V::load_unaligned(bias + j);
      act(v).store_unaligned(c + j);
    }
    for (; j < N; ++j) {
      T v = beta == T(0) ? T(0) : beta * c[j];
      if (bias) v += bias[j];
      c[j] = act(v);
    }
  }
}

/// op(B) (K, N) packed ahead of the multiply, whole, in the layout gemm_serial walks: N blocks
/// of nc_len columns one after another, each holding its K blocks in order, each of those its
/// (kc, NR) panels.
template <class T>
std::size_t packed_b_size(index_t N, index_t K) {
  constexpr index_t NR = GemmBlocking<T>::NR;
  return static_cast<std::size_t>(K * ceil_div(N, NR) * NR);
}

/// Offset of the (kc, nc) block at (pc, jc) in that layout.
template <class T>
index_t packed_b_block(index_t K, index_t pc, index_t jc, index_t nc) {
  constexpr index_t NR = GemmBlocking<T>::NR;
  return K * jc + pc * ceil_div(nc, NR) * NR;
}

/// Packs op(B) (K, N) into dst (packed_b_size elements), its NR-wide panels shared out among
/// the threads.
template <class T>
void prepack_b(Trans tb, index_t N, index_t K, const T* B, index_t ldb, T* dst) {
  using G = GemmBlocking<T>;
  constexpr index_t NR = G::NR;
  const index_t kc_len = balanced_block(K, G::KC, 1);
  const index_t nc_len = balanced_block(N, G::NC_max, NR);
  parallel_for(0, ceil_div(N, NR), 1, [&](index_t lo, index_t hi) {
    for (index_t p = lo; p < hi; ++p) {
      const index_t j = p * NR, jc = j / nc_len * nc_len, nr = std::min(NR, N - j);
      const index_t nc = std::min(nc_len, N - jc);
      for (index_t pc = 0; pc < K; pc += kc_len) {
        const index_t kc = std::min(kc_len, K - pc);
        const T* src = tb == Trans::no ? B + pc * ldb + j : B + j * ldb + pc;
        pack_b(tb, src, ldb, kc, nr, dst + packed_b_block<T>(K, pc, jc, nc) + (j - jc) * kc);
      }
    }
  });
}

/// One thread's packed GEMM over all of C (M, N); operands as in gemm(), bias already offset to
/// C's first column. With packed_b (prepack_b's layout for this N and K), B is not read.
template <class T, class Act>
void gemm_serial(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A,
                 index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, const T* bias,
                 const Act& act, const T* packed_b = nullptr) {
  using G = GemmBlocking<T>;
  constexpr index_t MR = G::MR, NR = G::NR;
  const index_t kc_len = balanced_block(K, G::KC, 1);
  const index_t nc_len = balanced_block(N, G::NC_max, NR);
  auto& buffers = gemm_buffers<T>();
  T* abuf = buffers.a(static_cast<std::size_t>(MR * G::KS));
  T* bbuf = packed_b ? nullptr : buffers.b(static_cast<std::size_t>(nc_len * kc_len));
  auto a_at = [&](index_t i, index_t k) {
    return ta == Trans::no ? A + i * lda + k : A + k * lda + i;
  };
  auto b_at = [&](index_t k, index_t j) {
    return tb == Trans::no ? B + k * ldb + j : B + j * ldb + k;
  };

  for (index_t jc = 0; jc < N; jc += nc_len) {
    const index_t nc = std::min(nc_len, N - jc);
    for (index_t pc = 0; pc < K; pc += kc_len) {
      const index_t kc = std::min(kc_len, K - pc);
      const T* bblock = bbuf;
      if (packed_b)
        bblock = packed_b + packed_b_block<T>(K, pc, jc, nc);
      else
        pack_b(tb, b_at(pc, jc), ldb, kc, nc, bbuf);
      const bool last = pc + kc == K;
      // Later K blocks accumulate into C; only the last one adds the bias and activates.
      const T beta_k = pc == 0 ? beta : T(1);
      for (index_t ir = 0; ir < M; ir += MR) {
        const index_t mr = std::min(MR, M - ir);
        pack_a(ta, a_at(ir, pc), lda, mr, kc, abuf);
        T* c_row = C + ir * ldc + jc;
        for (index_t jr = 0; jr < nc; jr += NR) {
          const index_t nr = std::min(NR, nc - jr);
          const T* bp = bblock + jr * kc;  // panel jr / NR, (kc, NR) each
          if (last) {
            const TileStore<T> st{alpha, beta_k, bias ? bias + jc + jr : nullptr};
            compute_tile(kc, abuf, bp, c_row + jr, ldc, mr, nr, st, act);
          } else {
            const TileStore<T> st{alpha, beta_k, nullptr};
            compute_tile(kc, abuf, bp, c_row + jr, ldc, mr, nr, st, Identity{});
          }
        }
      }
    }
  }
}

/// Threads along M and N (tm x tn == nt) for the cheapest per-thread share: its multiply-adds
/// plus its packing. Each thread packs the A rows it uses, so splitting N repacks A in every
/// thread; when only M is split the threads pack B once together (prepack_b) and share it.
template <class T>
std::pair<int, int> thread_grid(index_t M, index_t N, index_t K, int nt) {
  using G = GemmBlocking<T>;
  std::pair<int, int> best{1, 1};
  double best_cost = -1;
  const index_t m_tiles = ceil_div(M, G::MR), n_tiles = ceil_div(N, G::NR);
  for (int tm = 1; tm <= nt; ++tm) {
    if (nt % tm) continue;
    const int tn = nt / tm;
    if (m_tiles < tm || n_tiles < tn) continue;  // some thread would get no tile
    const index_t m = ceil_div(m_tiles, tm) * G::MR, n = ceil_div(n_tiles, tn) * G::NR;
    // A packed element costs about as much as 16 multiply-adds (a vector FMA does 2 W of them).
    const double pack =
        static_cast<double>(m * K * ceil_div(n, G::NC_max) + (tn == 1 ? n * K / nt : n * K));
    const double cost =
        static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(K) + 16.0 * pack;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best = {tm, tn};
  }
  return best;
}

/// Problems below this many multiply-adds run on one thread: waking the pool costs more.
inline constexpr double gemm_parallel_min_macs = 96.0 * 96.0 * 96.0;

template <class T, class Act>
void gemm_parallel(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A,
                   index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, const T* bias,
                   const Act& act) {
  using G = GemmBlocking<T>;
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int nt = macs < gemm_parallel_min_macs ? 1 : num_threads();
  const auto grid = thread_grid<T>(M, N, K, nt);
  const int tm = grid.first,
            tn = grid.second;  // not a structured binding: clang 14 cannot capture those
  if (tm * tn == 1 || pretext::detail::in_parallel_region) {  // nested calls run serially
    gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, act);
    return;
  }
  // Rows are shared out evenly, not in whole MR-row tiles: a thread's last few rows run on the
  // 4- or 7-row edge kernel, which costs about their share of a tile, whereas whole tiles leave
  // one thread up to a tile behind (256 rows on 2 threads: 140 and 116 rows, now 128 each).
  const index_t ntiles = ceil_div(N, G::NR);
  if (tn == 1) {
    // Rows split only: every thread needs all of op(B), so pack it once, together, then let
    // each thread multiply its rows by the shared copy.
    T* packed = gemm_buffers<T>().shared_b(packed_b_size<T>(N, K));
    prepack_b(tb, N, K, B, ldb, packed);
    parallel_region(tm, [&](int tid, int nth) {
      const index_t r0 = M * tid / nth, r1 = M * (tid + 1) / nth;
      if (r0 >= r1) return;
      const T* a = ta == Trans::no ? A + r0 * lda : A + r0;
      gemm_serial(ta, tb, r1 - r0, N, K, alpha, a, lda, B, ldb, beta, C + r0 * ldc, ldc, bias, act,
                  packed);
    });
    return;
  }
  parallel_region(tm * tn, [&](int tid, int) {  // not nested (above): tm * tn tasks
    const index_t ti = tid / tn, tj = tid % tn;
    const index_t r0 = M * ti / tm, r1 = M * (ti + 1) / tm;
    const index_t c0 = std::min(N, ntiles * tj / tn * G::NR),
                  c1 = std::min(N, ntiles * (tj + 1) / tn * G::NR);
    if (r0 >= r1 || c0 >= c1) return;
    const T* a = ta == Trans::no ? A + r0 * lda : A + r0;
    const T* b = tb == Trans::no ? B + c0 : B + c0 * ldb;
    gemm_serial(ta, tb, r1 - r0, c1 - c0, K, alpha, a, lda, b, ldb, beta, C + r0 * ldc + c0, ldc,
                bias ? bias + c0 : nullptr, act);
  });
}

template <class T>
void check_gemm_args(const char* op, Trans ta, Trans tb, index_t M, index_t N, index_t K,
                     index_t lda, index_t ldb, index_t ldc) {
  PRETEXT_CHECK(M >= 0 && N >= 0 && K >= 0, shape_error, op, ": negative size M=", M, ", N=", N,
                ", K=", K);
  const index_t a_cols = ta == Trans::no ? K : M, b_cols = tb == Trans::no ? N : K;
  PRETEXT_CHECK(lda >= std::max<index_t>(1, a_cols) && ldb >= std::max<index_t>(1, b_cols) &&
                    ldc >= std::max<index_t>(1, N),
                shape_error, op, ": leading dimensions lda=", lda, ", ldb=", ldb, ", ldc=", ldc,
                " are smaller than the rows they step over (", a_cols, ", ", b_cols, ", ", N,
                " elements)");
}

}  // namespace detail

/// C (M, N) = act(alpha * op(A) * op(B) + beta * C + bias), all row-major.
///
/// op(A) is (M, K): A holds M rows of stride lda (ta == no) or K rows of stride lda (ta == yes).
/// op(B) is (K, N): B holds K rows of stride ldb (tb == no) or N rows of stride ldb (tb == yes).
/// C has row stride ldc. beta == 0 never reads C (it may hold NaN); K == 0 or alpha == 0 never
/// reads A or B. ep.bias (length N, or nullptr) is added to every row before ep.act. Splits C
/// across num_threads() threads when the problem is big enough; C must not alias A or B.
template <floating T>
void gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
          const T* B, index_t ldb, T beta, T* C, index_t ldc, const Epilogue<T>& ep = {}) {
  detail::check_gemm_args<T>("pretext::cpu::gemm", ta, tb, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  with_activation(ep.act, [&](auto act) {
    if (K == 0 || alpha == T(0)) {
      detail::scale_rows(M, N, beta, C, ldc, ep.bias, act);
      return;
    }
    detail::gemm_parallel(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep.bias, act);
  });
}

/// `batch` independent GEMMs (B, M, N): item b uses A + b stride_a, B + b stride_b and
/// C + b stride_c, each as in gemm(). A stride of 0 broadcasts that operand over the batch;
/// stride_c must keep the C items disjoint. Threads take whole items when there are enough of
/// them to go round evenly (attention's batch x heads), otherwise they share each item.
template <floating T>
void gemm_batched(Trans ta, Trans tb, index_t batch, index_t M, index_t N, index_t K, T alpha,
                  const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                  index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c,
                  const Epilogue<T>& ep = {}) {
  detail::check_gemm_args<T>("pretext::cpu::gemm_batched", ta, tb, M, N, K, lda, ldb, ldc);
  PRETEXT_CHECK(batch >= 0, shape_error, "pretext::cpu::gemm_batched: negative batch ", batch);
  if (batch == 0 || M == 0 || N == 0) return;
  const int nt = num_threads();
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  auto run = [&](index_t lo, index_t hi) {
    for (index_t b = lo; b < hi; ++b)
      gemm(ta, tb, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
           C + b * stride_c, ldc, ep);
  };
  const bool by_item =
      nt > 1 && (batch % nt == 0 || batch >= 4 * nt || macs < detail::gemm_parallel_min_macs * nt);
  if (by_item) {
    // Calls made inside the region run on their own thread (the pool does not nest).
    parallel_for(0, batch, 1, run);
  } else {
    run(0, batch);
  }
}

}  // namespace pretext::cpu
