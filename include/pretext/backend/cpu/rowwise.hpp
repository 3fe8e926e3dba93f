// SPDX-License-Identifier: Apache-2.0
// Row kernels over a contiguous (M, D) block: softmax, log_softmax, cross-entropy against class
// indices, and layer normalisation, forward and backward. M rows are split across threads; each
// row stays in L1 between passes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "pretext/backend/cpu/functors.hpp"
#include "pretext/backend/cpu/reduce.hpp"
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/allocator.hpp"

namespace pretext::cpu {

namespace detail {

// y[i] = f(x[i]) for a row, SIMD with a padded tail. Also returns the sum of the results when
// Sum is true (softmax's denominator comes out of the same pass that writes the exponentials).
template <bool Sum, class T, class F>
T row_apply(const T* x, T* y, index_t n, const F& f) {
  using B = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  B acc(T(0));
  index_t i = 0;
  for (; i + W <= n; i += W) {
    const B v = f(simd::load(x + i));
    if (y) simd::store(y + i, v);
    if constexpr (Sum) acc += v;
  }
  T s = Sum ? simd::reduce_add(acc) : T(0);
  if (i < n) {
    alignas(64) T buf[simd::width<T>] = {};
    std::copy(x + i, x + n, buf);
    alignas(64) T res[simd::width<T>];
    f(B::load_aligned(buf)).store_aligned(res);
    for (index_t j = 0; j < n - i; ++j) {
      if (y) y[i + j] = res[j];
      if constexpr (Sum) s += res[j];
    }
  }
  return s;
}

inline index_t row_grain(index_t D) {
  return std::max<index_t>(1, (1 << 14) / std::max<index_t>(D, 1));
}

}  // namespace detail

/// y = softmax(x) along each row of (M, D); a row of -inf gives NaN (as PyTorch).
template <class T>
void softmax_rows(const T* x, T* y, index_t M, index_t D) {
  using B = simd::batch<T>;
  parallel_for(0, M, detail::row_grain(D), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      const B m(detail::reduce_row<MaxReducer>(xr, D));
      const T s = detail::row_apply<true>(xr, yr, D, [&](const B& v) { return xsimd::exp(v - m); });
      const B inv(T(1) / s);
      detail::row_apply<false>(yr, yr, D, [&](const B& v) { return v * inv; });
    }
  });
}

/// y = log_softmax(x) along each row of (M, D).
template <class T>
void log_softmax_rows(const T* x, T* y, index_t M, index_t D) {
  using B = simd::batch<T>;
  parallel_for(0, M, detail::row_grain(D), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      const T mx = detail::reduce_row<MaxReducer>(xr, D);
      const B m(mx);
      const T s = detail::row_apply<true>(xr, static_cast<T*>(nullptr), D,
                                          [&](const B& v) { return xsimd::exp(v - m); });
      const B shift(mx + std::log(s));
      detail::row_apply<false>(xr, yr, D, [&](const B& v) { return v - shift; });
    }
  });
}

/// Cross-entropy of each row of logits x (M, C) against the class index y[r] with label
/// smoothing eps (the target is eps / C everywhere plus 1 - eps on class y[r]):
///   loss[r] = lse[r] - (eps / C) sum_c x[r, c] - (1 - eps) x[r, y[r]],  lse[r] = log sum_c exp
/// One pass for the maximum, one for the exponentials (plus one for the row sum when eps > 0);
/// nothing (M, C) is written. Rows whose y[r] == ignore get loss 0; y must hold class indices
/// otherwise (the caller checks).
template <class T>
void cross_entropy_rows(const T* x, const std::int64_t* y, T* loss, T* lse, index_t M, index_t C,
                        T eps, std::int64_t ignore) {
  using B = simd::batch<T>;
  parallel_for(0, M, detail::row_grain(C), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      if (y[r] == ignore) {  // most rows in masked prediction: no work, and lse is not read
        loss[r] = lse[r] = T(0);
        continue;
      }
      const T* xr = x + r * C;
      const T mx = detail::reduce_row<MaxReducer>(xr, C);
      const B m(mx);
      const T s = detail::row_apply<true>(xr, static_cast<T*>(nullptr), C,
                                          [&](const B& v) { return xsimd::exp(v - m); });
      const T log_s = std::log(s);
      lse[r] = mx + log_s;
      // Differences from the maximum, not from lse: a confident row's small loss survives
      // large logits (lse rounded at the scale of mx would swamp it).
      T l = log_s + (T(1) - eps) * (mx - xr[y[r]]);
      if (eps != T(0)) l += eps * (mx - detail::reduce_row<SumReducer>(xr, C) / static_cast<T>(C));
      loss[r] = l;
    }
  });
}

/// dx (M, C) of cross_entropy_rows for the loss gradient g (M):
///   dx[r, c] = g[r] (exp(x[r, c] - lse[r]) - eps / C - (1 - eps) [c == y[r]]),
/// zero on the ignored rows. One pass over x writing dx.
template <class T>
void cross_entropy_rows_backward(const T* x, const std::int64_t* y, const T* lse, const T* g, T* dx,
                                 index_t M, index_t C, T eps, std::int64_t ignore) {
  using B = simd::batch<T>;
  parallel_for(0, M, detail::row_grain(C), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      T* dr = dx + r * C;
      if (y[r] == ignore) {
        std::fill(dr, dr + C, T(0));
        continue;
      }
      const B shift(lse[r]), gr(g[r]), floor(eps / static_cast<T>(C));
      detail::row_apply<false>(x + r * C, dr, C,
                               [&](const B& v) { return gr * (xsimd::exp(v - shift) - floor); });
      dr[y[r]] -= g[r] * (T(1) - eps);
    }
  });
}

/// Layer normalisation of each row of x (M, D): y = (x - mean) * rstd * gamma + beta, with
/// rstd = 1 / sqrt(var + eps) (biased variance). gamma and beta (D) may be null (1 and 0).
/// mean and rstd (M) are written for the backward pass (may be null).
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                        index_t M, index_t D, T eps) {
  using B = simd::batch<T>;
  parallel_for(0, M, detail::row_grain(D), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      // Two passes over the row (in L1): mean, then the centred sum of squares.
      const T mu = D ? detail::reduce_row<SumReducer>(xr, D) / static_cast<T>(D) : T(0);
      const B bm(mu);
      const T ss = detail::row_apply<true>(xr, static_cast<T*>(nullptr), D, [&](const B& v) {
        const B d = v - bm;
        return d * d;
      });
      const T rs = T(1) / std::sqrt(ss / static_cast<T>(std::max<index_t>(D, 1)) + eps);
      if (mean) mean[r] = mu;
      if (rstd) rstd[r] = rs;
      const B br(rs);
      constexpr auto W = static_cast<index_t>(simd::width<T>);
      index_t i = 0;
      for (; i + W <= D; i += W) {
        B v = (simd::load(xr + i) - bm) * br;
        if (gamma) v = v * simd::load(gamma + i);
        if (beta) v = v + simd::load(beta + i);
        simd::store(yr + i, v);
      }
      for (; i < D; ++i) {
        T v = (xr[i] - mu) * rs;
        if (gamma) v *= gamma[i];
        if (beta) v += beta[i];
        yr[i] = v;
      }
    }
  });
}

/// Gradients of layer_norm_forward. dx (M, D) is written; dgamma and dbeta (D) are written (not
/// accumulated) when non-null. Rows are processed in fixed blocks whose partial dgamma / dbeta
/// are added in block order, so the result does not depend on the thread count.
template <class T>
void layer_norm_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* gamma,
                         T* dx, T* dgamma, T* dbeta, index_t M, index_t D) {
  using B = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  constexpr index_t block = 32;
  const index_t nblocks = (M + block - 1) / block;
  const bool params = dgamma || dbeta;
  const std::size_t part_bytes = params ? static_cast<std::size_t>(2 * nblocks * D) * sizeof(T) : 0;
  T* part = params ? static_cast<T*>(host_allocate(part_bytes)) : nullptr;
  parallel_for(0, nblocks, 1, [&](index_t blo, index_t bhi) {
    for (index_t b = blo; b < bhi; ++b) {
      T* pg = part ? part + 2 * b * D : nullptr;  // partial dgamma of this block
      T* pb = part ? pg + D : nullptr;            // partial dbeta
      if (part) std::fill(pg, pg + 2 * D, T(0));
      for (index_t r = b * block; r < std::min(M, (b + 1) * block); ++r) {
        const T* dyr = dy + r * D;
        const T* xr = x + r * D;
        T* dxr = dx + r * D;
        const T mu = mean[r], rs = rstd[r];
        const B bm(mu), br(rs);
        // g = dy * gamma; c1 = mean(g), c2 = mean(g * xhat).
        B s1(T(0)), s2(T(0));
        index_t i = 0;
        for (; i + W <= D; i += W) {
          const B dyv = simd::load(dyr + i);
          const B xh = (simd::load(xr + i) - bm) * br;
          const B g = gamma ? dyv * simd::load(gamma + i) : dyv;
          s1 += g;
          s2 += g * xh;
          if (pg) {
            simd::store(pg + i, simd::load(pg + i) + dyv * xh);
            simd::store(pb + i, simd::load(pb + i) + dyv);
          }
        }
        T c1 = simd::reduce_add(s1), c2 = simd::reduce_add(s2);
        for (; i < D; ++i) {
          const T xh = (xr[i] - mu) * rs;
          const T g = gamma ? dyr[i] * gamma[i] : dyr[i];
          c1 += g;
          c2 += g * xh;
          if (pg) pg[i] += dyr[i] * xh, pb[i] += dyr[i];
        }
        c1 /= static_cast<T>(D);
        c2 /= static_cast<T>(D);
        const B bc1(c1), bc2(c2);
        i = 0;
        for (; i + W <= D; i += W) {
          const B xh = (simd::load(xr + i) - bm) * br;
          const B dyv = simd::load(dyr + i);
          const B g = gamma ? dyv * simd::load(gamma + i) : dyv;
          simd::store(dxr + i, br * (g - bc1 - xh * bc2));
        }
        for (; i < D; ++i) {
          const T xh = (xr[i] - mu) * rs;
          const T g = gamma ? dyr[i] * gamma[i] : dyr[i];
          dxr[i] = rs * (g - c1 - xh * c2);
        }
      }
    }
  });
  if (part) {
    // Column sums of the block partials, in block order, parallel over columns.
    parallel_for(0, D, 256, [&](index_t lo, index_t hi) {
      for (index_t i = lo; i < hi; ++i) {
        T g = 0, bsum = 0;
        for (index_t b = 0; b < nblocks; ++b)
          g += part[2 * b * D + i], bsum += part[2 * b * D + D + i];
        if (dgamma) dgamma[i] = g;
        if (dbeta) dbeta[i] = bsum;
      }
    });
    host_deallocate(part, part_bytes);
  }
}

}  // namespace pretext::cpu
