// SPDX-License-Identifier: Apache-2.0
// Softmax regression's loss and gradient in one pass over the features, for few classes: the
// linear probe's inner loop (eval/linear_probe.hpp).
//
//   x (N, D) row-major, w (C, D) row-major, b (C), labels y (N) in [0, C).
//   Z = x w^T + b (N, C); G = (softmax(Z) - onehot(y)) / N (N, C)
//   returns mean_i [logsumexp(Z_i) - Z_i,y_i]; grad_w = G^T x (C, D), grad_b = sum_i G_i (C).
//
// Why not two GEMMs: with C = 10 both products are skinny (an (N, D) x (D, 10) product and its
// transpose), which a packed GEMM runs at a fraction of its peak, and each reads all of x from
// memory (x is 750 MB for the demo's 60000 x 3136 features). Here each block of 8 rows is read
// from memory once: its logits come from L1-sized column tiles of the rows and of w, its softmax
// gives G's 8 rows, and those rows' share of G^T x is added while the rows are still in cache.
//
// Determinism: rows are cut into chunks whose size depends only on N; each chunk accumulates its
// own partial gradient, and the partials and per-chunk losses are added in chunk order (in
// double). So the result is the same for any thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/shape.hpp"

namespace pretext::cpu {

/// Scratch memory for softmax_xent_fused, kept by a caller that evaluates many times (an
/// optimiser), so that the per-chunk partial gradients are not allocated on every call.
template <class T>
struct SoftmaxXentWorkspace {
  std::vector<T> partial_grad;     ///< chunks x C x D
  std::vector<double> partial_gb;  ///< chunks x C
  std::vector<double> partial_loss;
};

namespace logistic_detail {

/// Columns per tile: 1 KiB of each row, so a tile of 8 rows and of 10 classes' weights stays
/// in L1 while it is reused.
template <class T>
inline constexpr index_t tile_cols = 1024 / static_cast<index_t>(sizeof(T));

/// Rows per chunk: a function of N only (see the top of the file); at most about 32 chunks,
/// and at least 512 rows each.
inline index_t chunk_rows(index_t n) {
  return std::max<index_t>(512, (n + 31) / 32);
}

/// acc[r * C + c] += x[r * ld + d] * w[c * ld + d] lane by lane over the whole vectors of
/// [lo, hi), for RR rows of x and CC rows (classes) of w; acc holds SIMD partial sums in memory,
/// added up once all tiles are done, and the columns past the last whole vector go into
/// tail[r * C + c]. Rows are addressed from one base and stride (not an array of pointers),
/// which keeps g++ from spilling the pointers; the empty asm statements make it hold each loaded
/// vector in a register, where it would otherwise fold a load into every FMA (one load per FMA
/// rather than one per row and class, and the loop waits on loads). With Prefetch, the same
/// columns of the tile to come (pf + r * ld + d - lo) are prefetched as this one is read: the
/// hardware prefetcher follows short runs in many rows at once poorly. Not inlined: inside
/// rows_block g++ keeps the accumulators on the stack.
template <class T, int RR, int CC, bool Prefetch>
PRETEXT_NOINLINE void dot_tile(const T* PRETEXT_RESTRICT x, const T* PRETEXT_RESTRICT w, index_t ld,
                               index_t lo, index_t hi, simd::batch<T>* PRETEXT_RESTRICT acc,
                               index_t C, double* PRETEXT_RESTRICT tail, const T* pf) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  B a[RR][CC];
  for (int r = 0; r < RR; ++r)
    for (int c = 0; c < CC; ++c) a[r][c] = acc[r * C + c];
  index_t d = lo;
  for (; d + W <= hi; d += W) {
    B wv[CC];
    for (int c = 0; c < CC; ++c) {
      wv[c] = simd::load(w + c * ld + d);
#if defined(__GNUC__)
      asm("" : "+v"(wv[c].data));  // in a register: see above
#endif
    }
    if constexpr (Prefetch)
      for (int r = 0; r < RR; ++r) __builtin_prefetch(pf + r * ld + (d - lo));
    for (int r = 0; r < RR; ++r) {
      B xv = simd::load(x + r * ld + d);
#if defined(__GNUC__)
      asm("" : "+v"(xv.data));
#endif
      for (int c = 0; c < CC; ++c) a[r][c] = simd::fmadd(xv, wv[c], a[r][c]);
    }
  }
  for (int r = 0; r < RR; ++r)
    for (int c = 0; c < CC; ++c) {
      acc[r * C + c] = a[r][c];
      for (index_t k = d; k < hi; ++k)
        tail[r * C + c] += static_cast<double>(x[r * ld + k]) * static_cast<double>(w[c * ld + k]);
    }
}

/// gw[d] += sum_r g[r] * xr[r][d] for d in [lo, hi): one class's row of G^T x, R rows at once.
template <class T, int R>
PRETEXT_ALWAYS_INLINE void grad_tile(const T* const* xr, const T* g, T* gw, index_t lo,
                                     index_t hi) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  B gv[R];
  for (int r = 0; r < R; ++r) gv[r] = B(g[r]);
  index_t d = lo;
  for (; d + W <= hi; d += W) {
    // Two chains, so that consecutive FMAs do not wait for each other.
    B a0 = simd::load(gw + d), a1 = B(T(0));
    for (int r = 0; r + 1 < R; r += 2) {
      a0 = simd::fmadd(gv[r], simd::load(xr[r] + d), a0);
      a1 = simd::fmadd(gv[r + 1], simd::load(xr[r + 1] + d), a1);
    }
    if constexpr (R % 2 == 1) a0 = simd::fmadd(gv[R - 1], simd::load(xr[R - 1] + d), a0);
    simd::store(gw + d, a0 + a1);
  }
  for (; d < hi; ++d) {
    T s = gw[d];
    for (int r = 0; r < R; ++r) s += g[r] * xr[r][d];
    gw[d] = s;
  }
}

/// R rows starting at row i: logits, softmax, loss and (when gw) their share of the gradients.
/// z (R x C), acc (R x C), e (C) and g (C x R) are scratch.
template <class T, int R>
void rows_block(const T* x, index_t i, index_t num_rows, index_t D, const std::int64_t* y,
                const T* w, const T* b, index_t C, double inv_n, T* gw, double* gb, double& loss,
                double* z, simd::batch<T>* acc, double* e, T* g) {
  constexpr index_t TC = tile_cols<T>;
  constexpr int RR = R >= 4 ? 4 : 1;  // rows per dot tile (registers: RR x 2 accumulators)
  static_assert(R % RR == 0);
  const T* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x + (i + r) * D;
  for (int r = 0; r < R; ++r)
    for (index_t c = 0; c < C; ++c) z[r * C + c] = static_cast<double>(b[c]);

  // Logits, column tile by column tile: the tile of the R rows stays in L1 for all classes.
  using B = simd::batch<T>;
  for (int k = 0; k < R * C; ++k) acc[k] = B(T(0));
  for (index_t lo = 0; lo < D; lo += TC) {
    const index_t hi = std::min(D, lo + TC);
    // What to prefetch while the first classes read this tile (as many columns as it has):
    // the next tile of these rows when it is whole or, at the last tile, the first of the
    // next R rows when they exist; so no address lies past the end of x.
    const T* next = hi + TC <= D                       ? x + i * D + hi
                    : hi == D && i + 2 * R <= num_rows ? x + (i + R) * D
                                                       : nullptr;
    for (int r0 = 0; r0 < R; r0 += RR) {
      B* ar = acc + r0 * C;
      double* zr = z + r0 * C;
      const T* xt = xr[r0];
      index_t c = 0;
      if (next && C >= 2) {
        dot_tile<T, RR, 2, true>(xt, w, D, lo, hi, ar, C, zr, next + r0 * D);
        c = 2;
      }
      for (; c + 2 <= C; c += 2)
        dot_tile<T, RR, 2, false>(xt, w + c * D, D, lo, hi, ar + c, C, zr + c, nullptr);
      if (c < C) dot_tile<T, RR, 1, false>(xt, w + c * D, D, lo, hi, ar + c, C, zr + c, nullptr);
    }
  }
  for (int k = 0; k < R * C; ++k) z[k] += static_cast<double>(simd::reduce_add(acc[k]));

  // Softmax, loss and G's rows, in double.
  for (int r = 0; r < R; ++r) {
    const double* zr = z + r * C;
    double m = -std::numeric_limits<double>::infinity();
    for (index_t c = 0; c < C; ++c) m = std::max(m, zr[c]);
    double s = 0;
    for (index_t c = 0; c < C; ++c) s += (e[c] = std::exp(zr[c] - m));
    const std::int64_t t = y[i + r];
    loss += m + std::log(s) - zr[t];
    if (!gw) continue;
    for (index_t c = 0; c < C; ++c) {
      const double gc = (e[c] / s - (c == t ? 1.0 : 0.0)) * inv_n;
      g[c * R + r] = static_cast<T>(gc);  // class-major: grad_tile reads g[c * R ...]
      gb[c] += gc;
    }
  }
  if (!gw) return;

  // G's rows times x's rows, tile by tile while the rows are in cache.
  for (index_t lo = 0; lo < D; lo += TC) {
    const index_t hi = std::min(D, lo + TC);
    for (index_t c = 0; c < C; ++c) grad_tile<T, R>(xr, g + c * R, gw + c * D, lo, hi);
  }
}

}  // namespace logistic_detail

/// The mean softmax cross-entropy of x w^T + b against y and, when grad_w is non-null, its
/// gradients grad_w (C, D) and grad_b (C) (see the top of the file). All pointers are to
/// contiguous row-major storage; labels must already be checked to lie in [0, C). N >= 1.
/// Meant for few classes (tens): each block of 8 rows reads all of w, so with many classes two
/// GEMMs are faster.
template <class T>
double softmax_xent_fused(const T* x, index_t N, index_t D, const std::int64_t* y, const T* w,
                          const T* b, index_t C, T* grad_w, T* grad_b,
                          SoftmaxXentWorkspace<T>* workspace = nullptr) {
  static_assert(std::is_floating_point_v<T>);
  namespace ld = logistic_detail;
  SoftmaxXentWorkspace<T> local;
  SoftmaxXentWorkspace<T>& ws = workspace ? *workspace : local;
  const bool want_grad = grad_w != nullptr;
  const index_t rows = ld::chunk_rows(N);
  const index_t chunks = (N + rows - 1) / rows;
  const std::size_t cd = static_cast<std::size_t>(C * D);
  if (want_grad) {
    ws.partial_grad.resize(static_cast<std::size_t>(chunks) * cd);
    ws.partial_gb.resize(static_cast<std::size_t>(chunks * C));
  }
  ws.partial_loss.assign(static_cast<std::size_t>(chunks), 0.0);
  const double inv_n = 1.0 / static_cast<double>(N);
  constexpr int R = 8;

  parallel_for(0, chunks, 1, [&](index_t k0, index_t k1) {
    std::vector<double> z(static_cast<std::size_t>(R * C)), e(static_cast<std::size_t>(C));
    std::vector<T> g(static_cast<std::size_t>(R * C));
    std::vector<simd::batch<T>> acc(static_cast<std::size_t>(R * C));
    for (index_t k = k0; k < k1; ++k) {
      T* gw = nullptr;
      double* gb = nullptr;
      if (want_grad) {
        gw = ws.partial_grad.data() + static_cast<std::size_t>(k) * cd;
        gb = ws.partial_gb.data() + k * C;
        std::fill(gw, gw + cd, T(0));
        std::fill(gb, gb + C, 0.0);
      }
      double loss = 0;
      const index_t lo = k * rows, hi = std::min(N, lo + rows);
      index_t i = lo;
      for (; i + R <= hi; i += R)
        ld::rows_block<T, R>(x, i, N, D, y, w, b, C, inv_n, gw, gb, loss, z.data(), acc.data(),
                             e.data(), g.data());
      for (; i < hi; ++i)
        ld::rows_block<T, 1>(x, i, N, D, y, w, b, C, inv_n, gw, gb, loss, z.data(), acc.data(),
                             e.data(), g.data());
      ws.partial_loss[static_cast<std::size_t>(k)] = loss;
    }
  });

  double loss = 0;
  for (double v : ws.partial_loss) loss += v;
  if (want_grad) {
    // Partial gradients added in chunk order, in double.
    const T* pg = ws.partial_grad.data();
    parallel_for(0, static_cast<index_t>(cd), 4096, [&](index_t j0, index_t j1) {
      std::vector<double> acc(static_cast<std::size_t>(j1 - j0), 0.0);
      for (index_t k = 0; k < chunks; ++k) {
        const T* p = pg + static_cast<std::size_t>(k) * cd + static_cast<std::size_t>(j0);
        for (index_t j = 0; j < j1 - j0; ++j)
          acc[static_cast<std::size_t>(j)] += static_cast<double>(p[j]);
      }
      for (index_t j = j0; j < j1; ++j)
        grad_w[j] = static_cast<T>(acc[static_cast<std::size_t>(j - j0)]);
    });
    for (index_t c = 0; c < C; ++c) {
      double s = 0;
      for (index_t k = 0; k < chunks; ++k) s += ws.partial_gb[static_cast<std::size_t>(k * C + c)];
      grad_b[c] = static_cast<T>(s);
    }
  }
  return loss * inv_n;
}

}  // namespace pretext::cpu
