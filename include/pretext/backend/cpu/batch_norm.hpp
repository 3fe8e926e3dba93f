// SPDX-License-Identifier: Apache-2.0
// Channel kernels for batch normalisation over x laid out (B, C, S): channel c of sample b is
// the S contiguous values at x + (b * C + c) * S (S = H * W for images, L for sequences, 1 for
// (B, C) rows). Statistics run over B * S values per channel, one channel per task, so a
// feature map is read where it lies instead of being permuted to channels-last first.
#pragma once

#include <algorithm>

#include "pretext/backend/cpu/reduce.hpp"
#include "pretext/backend/cpu/rowwise.hpp"
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"

namespace pretext::cpu {

namespace detail {

// sum over i < n of f(x[i], y[i]), SIMD with a scalar tail: the lanes hold the S values of one
// (b, c) pair, and the caller adds the chunks up in double. (One input: rowwise.hpp's row_apply,
// or reduce.hpp's reduce_row for a plain sum.)
template <class T, class F>
T pair_sum(const T* x, const T* y, index_t n, const F& f) {
  using Bt = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  Bt acc(T(0));
  index_t i = 0;
  for (; i + W <= n; i += W) acc += f(simd::load(x + i), simd::load(y + i));
  T s = simd::reduce_add(acc);
  for (; i < n; ++i) s += f(x[i], y[i]);
  return s;
}

// Channels per task: enough that a task is worth a wake-up when B * S is small (rows of S values
// use rowwise.hpp's row_grain).
inline index_t channel_grain(index_t B, index_t S) {
  return std::max<index_t>(1, 16384 / std::max<index_t>(1, B * S));
}

}  // namespace detail

/// Per-channel mean and biased variance (divided by B * S) of x (B, C, S); two passes (mean,
/// then squared deviations), each chunk summed in T and the chunks in double.
template <class T>
void batch_norm_moments(const T* x, index_t B, index_t C, index_t S, T* mean, T* var) {
  const double count = static_cast<double>(B) * static_cast<double>(S);
  parallel_for(0, C, detail::channel_grain(B, S), [&](index_t lo, index_t hi) {
    for (index_t c = lo; c < hi; ++c) {
      double s = 0;
      for (index_t b = 0; b < B; ++b) s += detail::reduce_row<SumReducer>(x + (b * C + c) * S, S);
      const T mu = static_cast<T>(s / count);
      double q = 0;
      for (index_t b = 0; b < B; ++b)
        q += detail::row_apply<true>(x + (b * C + c) * S, static_cast<T*>(nullptr), S,
                                     [vmu = simd::batch<T>(mu)](const auto& v) {
                                       const auto d = v - vmu;
                                       return d * d;
                                     });
      mean[c] = mu;
      var[c] = static_cast<T>(q / count);
    }
  });
}

/// y = (x - mean[c]) * scale[c] + shift[c] over x (B, C, S). Subtracting the mean first keeps
/// the digits when |mean| is large against the spread (folding it into shift would not).
template <class T>
void batch_norm_affine(const T* x, index_t B, index_t C, index_t S, const T* mean, const T* scale,
                       const T* shift, T* y) {
  using Bt = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  parallel_for(0, B * C, detail::row_grain(S), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const index_t c = r % C;
      const T m = mean[c], a = scale[c], k = shift[c];
      const T* in = x + r * S;
      T* out = y + r * S;
      const Bt vm(m), va(a), vk(k);
      index_t i = 0;
      for (; i + W <= S; i += W) simd::store(out + i, simd::fmadd(simd::load(in + i) - vm, va, vk));
      for (; i < S; ++i) out[i] = (in[i] - m) * a + k;
    }
  });
}

/// Per-channel sums of dy and of dy * (x - mean[c]) over (B, S): what dgamma, dbeta and the
/// training-mode dx need.
template <class T>
void batch_norm_grad_sums(const T* dy, const T* x, index_t B, index_t C, index_t S, const T* mean,
                          T* sum_dy, T* sum_dy_xmu) {
  parallel_for(0, C, detail::channel_grain(B, S), [&](index_t lo, index_t hi) {
    for (index_t c = lo; c < hi; ++c) {
      const T mu = mean[c];
      double s = 0, p = 0;
      for (index_t b = 0; b < B; ++b) {
        const index_t o = (b * C + c) * S;
        s += detail::reduce_row<SumReducer>(dy + o, S);
        p += detail::pair_sum(dy + o, x + o, S, [mu](auto g, auto v) { return g * (v - mu); });
      }
      sum_dy[c] = static_cast<T>(s);
      sum_dy_xmu[c] = static_cast<T>(p);
    }
  });
}

/// dx = a[c] * (dy - k1[c] - (x - mean[c]) * k2[c]) over (B, C, S). Training mode passes
/// a = gamma * rstd, k1 = sum(dy) / M, k2 = rstd^2 * sum(dy * (x - mean)) / M (M = B * S);
/// evaluation mode k1 = k2 = 0.
template <class T>
void batch_norm_input_grad(const T* dy, const T* x, index_t B, index_t C, index_t S, const T* mean,
                           const T* a, const T* k1, const T* k2, T* dx) {
  using Bt = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  parallel_for(0, B * C, detail::row_grain(S), [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const index_t c = r % C;
      const T m = mean[c], ac = a[c], k1c = k1[c], k2c = k2[c];
      const Bt vm(m), va(ac), vk1(k1c), vk2(-k2c);
      const index_t o = r * S;
      index_t i = 0;
      for (; i + W <= S; i += W) {
        const Bt t = simd::fmadd(simd::load(x + o + i) - vm, vk2, simd::load(dy + o + i) - vk1);
        simd::store(dx + o + i, t * va);
      }
      for (; i < S; ++i) dx[o + i] = ac * (dy[o + i] - k1c - (x[o + i] - m) * k2c);
    }
  });
}

}  // namespace pretext::cpu
