// SPDX-License-Identifier: Apache-2.0
// Fused scaled dot-product attention, one (batch, head) item per task:
//   S = scale q k^T (N, Nk), masked entries -inf; P = softmax(S) along keys; O = P v (N, Dv)
// and its backward
//   dV = P^T dO,  dP = dO v^T,  dS = P * (dP - rowsum(P * dP)) * scale,  dQ = dS k,  dK = dS^T q.
//
// Why not batched GEMMs: attention's items are small (MAE: 5 x 5 scores of 32-wide heads, 512 of
// them per layer), where the GEMM pads every item to whole (14, 32) register tiles and packs both
// operands; and the GEMM path needs q, k, v, the output and every gradient in contiguous
// (B H, N, D) copies. Here each product is a sum of rows scaled by coefficients, vectorised along
// the rows (keys or head features), and operands are read and written through their strides, so
// q, k and v can be column blocks of one packed (B N, 3E) projection.
//
// Every operand is (B, H, rows, cols) with a contiguous last axis: HeadStrides gives the element
// strides of the other three. probs is (B, H, N, Nk) contiguous: saved by the forward, read by the
// backward. A row whose keys are all masked gives NaN, as a softmax over only -inf does.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/dtype.hpp"
#include "pretext/core/shape.hpp"

namespace pretext::cpu {

/// Sizes of an attention call: batch, heads, queries, keys, query/key width, value width.
struct AttentionDims {
  index_t B, H, N, Nk, Dh, Dv;
};

/// Element strides of a (B, H, rows, cols) operand along B, H and rows; cols has stride 1.
struct HeadStrides {
  index_t b, h, row;
};

/// Which scores are masked (set to -inf before the softmax).
struct AttentionMasking {
  bool causal = false;                    ///< query i sees keys j <= i
  const std::uint8_t* key_pad = nullptr;  ///< (B, Nk) row-major, nonzero = ignore that key
};

namespace detail {

/// A product written as sums of scaled rows, the one attention needs in every direction: for
/// outputs t < outs and columns c < width,
///   out[t * ot + c] = sum over r < rows of coef[t * ct + r * cs] * src[r * rs + c].
/// A block of outputs shares each src load, and up to four vectors per output stay in registers
/// across the rows: six outputs (24 accumulators, 4 loads and 6 broadcasts per 24 FMAs) where
/// the register file has 32 vectors, two (8 accumulators) where it has 16. Six rather than two
/// took the MLM step's attention (32 x 4 items of 128 x 128, 64-wide heads, one thread) from
/// 14.5 to 9.7 ms forward and from 27.5 to 17.1 ms backward per layer.
template <class T>
void combine_rows(index_t outs, index_t rows, const T* coef, index_t ct, index_t cs, const T* src,
                  index_t rs, index_t width, T* out, index_t ot) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  auto block = [&](auto units, auto pair, index_t t, index_t c) {
    constexpr index_t U = decltype(units)::value, P = decltype(pair)::value;
    V acc[P][U];
    for (index_t o = 0; o < P; ++o)
      for (index_t u = 0; u < U; ++u) acc[o][u] = V(T(0));
    const T* cf = coef + t * ct;
    for (index_t r = 0; r < rows; ++r) {
      const T* sr = src + r * rs + c;
      V x[U];
      for (index_t u = 0; u < U; ++u) x[u] = V::load_unaligned(sr + u * W);
      for (index_t o = 0; o < P; ++o) {
        const V a(cf[o * ct + r * cs]);
        for (index_t u = 0; u < U; ++u) acc[o][u] = simd::fmadd<T>(a, x[u], acc[o][u]);
      }
    }
    for (index_t o = 0; o < P; ++o)
      for (index_t u = 0; u < U; ++u) acc[o][u].store_unaligned(out + (t + o) * ot + c + u * W);
  };
  auto columns = [&](auto pair, index_t t) {
    index_t c = 0;
    for (; c + 4 * W <= width; c += 4 * W) block(std::integral_constant<index_t, 4>{}, pair, t, c);
    if (c + 2 * W <= width) block(std::integral_constant<index_t, 2>{}, pair, t, c), c += 2 * W;
    if (c + W <= width) block(std::integral_constant<index_t, 1>{}, pair, t, c), c += W;
    for (constexpr index_t P = decltype(pair)::value; c < width; ++c)
      for (index_t o = 0; o < P; ++o) {
        T acc = 0;
        for (index_t r = 0; r < rows; ++r) acc += coef[(t + o) * ct + r * cs] * src[r * rs + c];
        out[(t + o) * ot + c] = acc;
      }
  };
  constexpr bool wide_regs = std::is_base_of_v<xsimd::avx512f, simd::arch>;
  index_t t = 0;
  if constexpr (wide_regs)
    for (; t + 6 <= outs; t += 6) columns(std::integral_constant<index_t, 6>{}, t);
  for (; t + 2 <= outs; t += 2) columns(std::integral_constant<index_t, 2>{}, t);
  if (t < outs) columns(std::integral_constant<index_t, 1>{}, t);
}

/// dst (cols, ld) = src (rows, cols)^T with src's row stride rs. Columns rows..ld of dst are
/// not written: the caller zeroes them once per task (zero_padding), as every item of a call
/// leaves them alone.
template <class T>
void transpose_into(index_t rows, index_t cols, const T* src, index_t rs, T* dst, index_t ld) {
  // Column by column: the reads touch every source row at once, so their cache misses overlap
  // (the rows are strided slices of a packed projection, often no longer in L2 by the
  // backward); row by row measured 1.5x slower in the MAE step's backward.
  for (index_t d = 0; d < cols; ++d) {
    T* o = dst + d * ld;
    for (index_t j = 0; j < rows; ++j) o[j] = src[j * rs + d];
  }
}

/// The padding columns transpose_into leaves alone, zeroed once per task.
template <class T>
void zero_padding(T* dst, index_t n) {
  std::fill(dst, dst + n, T(0));
}

/// probs (N, Nk) = softmax along each row of scores (N, nkp) times scale, with keys j > i
/// masked when causal and keys with pad[j] != 0 masked when pad is given (masked: weight 0).
/// Whole vectors, no tail handling: the padded lanes j >= Nk hold finite values and are
/// masked too. A row with no key left gives NaN (max -inf, exp(-inf + inf)). Overwrites scores.
template <class T>
void softmax_scores(T* scores, T* probs, index_t N, index_t Nk, index_t nkp, T scale, bool causal,
                    const std::uint8_t* pad) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  alignas(64) T lane_index[W];
  for (index_t j = 0; j < W; ++j) lane_index[j] = static_cast<T>(j);
  const V lanes = V::load_aligned(lane_index), vscale(scale), vninf(ninf);
  for (index_t i = 0; i < N; ++i) {
    T* row = scores + i * nkp;
    const index_t limit = causal ? std::min(i + 1, Nk) : Nk;
    V m = vninf;  // the row's maximum, found in the same pass that scales it
    for (index_t c = 0; c < nkp; c += W) {
      const V x = xsimd::select(lanes < V(static_cast<T>(limit - c)),
                                V::load_unaligned(row + c) * vscale, vninf);
      x.store_unaligned(row + c);
      m = xsimd::max(m, x);
    }
    if (pad) {
      for (index_t j = 0; j < Nk; ++j)
        if (pad[j]) row[j] = ninf;
      m = vninf;
      for (index_t c = 0; c < nkp; c += W) m = xsimd::max(m, V::load_unaligned(row + c));
    }
    const V vmax(simd::reduce_max(m));
    V sum(T(0));
    for (index_t c = 0; c < nkp; c += W) {
      const V e = xsimd::exp(V::load_unaligned(row + c) - vmax);
      e.store_unaligned(row + c);
      sum += e;
    }
    const T inv = T(1) / simd::reduce_add(sum);
    for (index_t j = 0; j < Nk; ++j) probs[i * Nk + j] = row[j] * inv;
  }
}

/// s (n) = p * (dp - <p, dp>) * scale: the softmax backward of one score row, vectorised (the
/// dot product is a reduction, which the compiler leaves scalar without -ffast-math).
template <class T>
void softmax_grad_row(const T* p, const T* dp, T* s, index_t n, T scale) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  V acc0(T(0)), acc1(T(0));
  index_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    acc0 = simd::fmadd<T>(V::load_unaligned(p + j), V::load_unaligned(dp + j), acc0);
    acc1 = simd::fmadd<T>(V::load_unaligned(p + j + W), V::load_unaligned(dp + j + W), acc1);
  }
  if (j + W <= n)
    acc0 = simd::fmadd<T>(V::load_unaligned(p + j), V::load_unaligned(dp + j), acc0), j += W;
  T dot = simd::reduce_add(acc0 + acc1);
  for (; j < n; ++j) dot += p[j] * dp[j];
  const V vdot(dot), vscale(scale);
  j = 0;
  for (; j + W <= n; j += W)
    (V::load_unaligned(p + j) * (V::load_unaligned(dp + j) - vdot) * vscale).store_unaligned(s + j);
  for (; j < n; ++j) s[j] = p[j] * (dp[j] - dot) * scale;
}

/// Keys rounded up to whole vectors, so the score rows are computed with full vectors.
template <class T>
index_t padded_keys(index_t nk) {
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  return (nk + W - 1) / W * W;
}

/// Per-thread scratch, grown on demand and kept (steady-state calls allocate nothing).
template <class T>
std::vector<T>& attention_scratch(std::size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace detail

/// O = softmax(scale q k^T + mask) v for every (b, h); also writes the probabilities P.
template <floating T>
void attention_forward(const AttentionDims& d, T scale, const AttentionMasking& mask, const T* q,
                       HeadStrides qs, const T* k, HeadStrides ks, const T* v, HeadStrides vs,
                       T* out, HeadStrides os, T* probs) {
  if (d.B == 0 || d.H == 0 || d.N == 0) return;
  const index_t nkp = detail::padded_keys<T>(d.Nk);
  // Grain: enough items per task that waking a thread pays (MAE: 512 items of 5 x 5).
  const index_t grain = std::max<index_t>(1, 4096 / std::max<index_t>(1, d.N * d.Nk * d.Dh));
  parallel_for(0, d.B * d.H, grain, [&](index_t lo, index_t hi) {
    auto& scratch = detail::attention_scratch<T>(static_cast<std::size_t>(d.Dh * nkp + d.N * nkp));
    T* kt = scratch.data();       // (Dh, nkp): k^T of this item
    T* scores = kt + d.Dh * nkp;  // (N, nkp)
    detail::zero_padding(kt, d.Dh * nkp);
    for (index_t item = lo; item < hi; ++item) {
      const index_t b = item / d.H, h = item % d.H;
      const T* qi = q + b * qs.b + h * qs.h;
      const T* ki = k + b * ks.b + h * ks.h;
      const T* vi = v + b * vs.b + h * vs.h;
      T* pi = probs + item * d.N * d.Nk;
      const std::uint8_t* pad = mask.key_pad ? mask.key_pad + b * d.Nk : nullptr;
      detail::transpose_into(d.Nk, d.Dh, ki, ks.row, kt, nkp);
      // S (N, nkp): row i = sum over features f of q[i, f] k^T[f, :]
      detail::combine_rows(d.N, d.Dh, qi, qs.row, 1, kt, nkp, nkp, scores, nkp);
      detail::softmax_scores(scores, pi, d.N, d.Nk, nkp, scale, mask.causal, pad);
      // O (N, Dv) = P v
      detail::combine_rows(d.N, d.Nk, pi, d.Nk, 1, vi, vs.row, d.Dv, out + b * os.b + h * os.h,
                           os.row);
    }
  });
}

/// Gradients of attention_forward: dq (B, H, N, Dh), dk (B, H, Nk, Dh), dv (B, H, Nk, Dv), each
/// written once (not accumulated), from dout (B, H, N, Dv) and the saved probabilities.
template <floating T>
void attention_backward(const AttentionDims& d, T scale, const T* dout, HeadStrides dos, const T* q,
                        HeadStrides qs, const T* k, HeadStrides ks, const T* v, HeadStrides vs,
                        const T* probs, T* dq, HeadStrides dqs, T* dk, HeadStrides dks, T* dv,
                        HeadStrides dvs) {
  if (d.B == 0 || d.H == 0) return;
  const index_t nkp = detail::padded_keys<T>(d.Nk);
  const index_t grain = std::max<index_t>(1, 4096 / std::max<index_t>(1, d.N * d.Nk * d.Dh));
  parallel_for(0, d.B * d.H, grain, [&](index_t lo, index_t hi) {
    auto& scratch =
        detail::attention_scratch<T>(static_cast<std::size_t>(d.Dv * nkp + d.N * nkp + d.N * d.Nk));
    T* vt = scratch.data();   // (Dv, nkp): v^T of this item
    T* dp = vt + d.Dv * nkp;  // (N, nkp): dP = dO v^T
    T* ds = dp + d.N * nkp;   // (N, Nk): dS
    detail::zero_padding(vt, d.Dv * nkp);
    for (index_t item = lo; item < hi; ++item) {
      const index_t b = item / d.H, h = item % d.H;
      const T* qi = q + b * qs.b + h * qs.h;
      const T* ki = k + b * ks.b + h * ks.h;
      const T* vi = v + b * vs.b + h * vs.h;
      const T* gi = dout + b * dos.b + h * dos.h;
      const T* pi = probs + item * d.N * d.Nk;
      detail::transpose_into(d.Nk, d.Dv, vi, vs.row, vt, nkp);
      detail::combine_rows(d.N, d.Dv, gi, dos.row, 1, vt, nkp, nkp, dp, nkp);
      for (index_t i = 0; i < d.N; ++i)
        detail::softmax_grad_row(pi + i * d.Nk, dp + i * nkp, ds + i * d.Nk, d.Nk, scale);
      // dQ (N, Dh) = dS k;  dK (Nk, Dh) = dS^T q;  dV (Nk, Dv) = P^T dO
      detail::combine_rows(d.N, d.Nk, ds, d.Nk, 1, ki, ks.row, d.Dh, dq + b * dqs.b + h * dqs.h,
                           dqs.row);
      detail::combine_rows(d.Nk, d.N, ds, 1, d.Nk, qi, qs.row, d.Dh, dk + b * dks.b + h * dks.h,
                           dks.row);
      detail::combine_rows(d.Nk, d.N, pi, 1, d.Nk, gi, dos.row, d.Dv, dv + b * dvs.b + h * dvs.h,
                           dvs.row);
    }
  });
}

}  // namespace pretext::cpu
