// SPDX-License-Identifier: Apache-2.0
// Reductions of a contiguous (O, N, I) block along N: O outer rows, N reduced, I inner.
//
// I == 1 reduces each row with several SIMD accumulators; I > 1 vectorises across the inner
// axis, accumulating into the output row directly. Reductions over all elements add fixed-size
// chunks and combine the chunk results in order (in double), so a sum is bit-identical for any
// thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "pretext/backend/cpu/activation.hpp"  // detail::value_t
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/allocator.hpp"
#include "pretext/core/shape.hpp"

namespace pretext::cpu {

/// Sum: identity 0.
struct SumReducer {
  template <class X>
  static X init() {
    return X(0);
  }
  template <class X>
  PRETEXT_ALWAYS_INLINE static X combine(const X& a, const X& b) {
    return a + b;
  }
  template <class T>
  static T reduce(const simd::batch<T>& v) {
    return simd::reduce_add(v);
  }
};

/// Maximum; NaN wins (as torch.max).
struct MaxReducer {
  template <class X>
  static X init() {
    return X(-std::numeric_limits<detail::value_t<X>>::infinity());
  }
  template <class X>
  PRETEXT_ALWAYS_INLINE static X combine(const X& a, const X& b) {
    if constexpr (std::is_arithmetic_v<X>)
      return (b > a || b != b) ? b : a;
    else
      return xsimd::select((b > a) | simd::is_nan(b), b, a);
  }
  template <class T>
  static T reduce(const simd::batch<T>& v) {
    return simd::any_nan(v) ? std::numeric_limits<T>::quiet_NaN() : simd::reduce_max(v);
  }
};

/// Minimum; NaN wins (as torch.min).
struct MinReducer {
  template <class X>
  static X init() {
    return X(std::numeric_limits<detail::value_t<X>>::infinity());
  }
  template <class X>
  PRETEXT_ALWAYS_INLINE static X combine(const X& a, const X& b) {
    if constexpr (std::is_arithmetic_v<X>)
      return (b < a || b != b) ? b : a;
    else
      return xsimd::select((b < a) | simd::is_nan(b), b, a);
  }
  template <class T>
  static T reduce(const simd::batch<T>& v) {
    return simd::any_nan(v) ? std::numeric_limits<T>::quiet_NaN() : simd::reduce_min(v);
  }
};

namespace detail {

/// Reduces x[0..n) with four vector accumulators.
template <class Red, class T>
T reduce_row(const T* x, index_t n) {
  using B = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  B a0 = Red::template init<B>(), a1 = a0, a2 = a0, a3 = a0;
  index_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 = Red::combine(a0, simd::load(x + i));
    a1 = Red::combine(a1, simd::load(x + i + W));
    a2 = Red::combine(a2, simd::load(x + i + 2 * W));
    a3 = Red::combine(a3, simd::load(x + i + 3 * W));
  }
  for (; i + W <= n; i += W) a0 = Red::combine(a0, simd::load(x + i));
  T r = Red::reduce(Red::combine(Red::combine(a0, a1), Red::combine(a2, a3)));
  for (; i < n; ++i) r = Red::combine(r, x[i]);
  return r;
}

/// y[0, U W) = reduce over r < N of x[r * I + (0, U W)]: U vectors of columns, each summed
/// down all N rows in order. U = 8 keeps eight independent chains and reads each row as eight
/// contiguous vectors; one vector per pass over N (U = 1) crossed every page of a (4096, 1024)
/// bias gradient once per vector of columns, and took 2.5% of the MLM step.
template <class Red, int U, class T>
void reduce_columns(const T* x, T* y, index_t N, index_t I) {
  using B = simd::batch<T>;
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  B acc[U];
  for (auto& a : acc) a = Red::template init<B>();
  for (index_t r = 0; r < N; ++r)
    for (int u = 0; u < U; ++u) acc[u] = Red::combine(acc[u], simd::load(x + r * I + u * W));
  for (int u = 0; u < U; ++u) simd::store(y + u * W, acc[u]);
}

}  // namespace detail

/// out[o, i] = reduce over r of x[o, r, i], x contiguous (O, N, I), out contiguous (O, I).
template <class Red, class T>
void reduce_axis(const T* x, T* out, index_t O, index_t N, index_t I) {
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  if (O * I == 0) return;
  if (I == 1) {
    parallel_for(0, O, std::max<index_t>(1, (1 << 14) / std::max<index_t>(N, 1)),
                 [&](index_t lo, index_t hi) {
                   for (index_t o = lo; o < hi; ++o) out[o] = detail::reduce_row<Red>(x + o * N, N);
                 });
    return;
  }
  // Split the (O, I) outputs into (row, column-block) tasks so small O still uses all threads:
  // a bias gradient (O = 1, N rows, I columns) gets one column block per thread. Each column
  // is still summed over N in order, so the result does not depend on the thread count.
  const index_t per_row = std::max<index_t>(1, (index_t{num_threads()} + O - 1) / O);
  const index_t share = (I + per_row - 1) / per_row;
  const index_t cblock = std::max<index_t>(W, std::min<index_t>(1024, (share + W - 1) / W * W));
  const index_t nblk = (I + cblock - 1) / cblock;
  parallel_for(0, O * nblk, std::max<index_t>(1, (1 << 14) / std::max<index_t>(N * cblock, 1)),
               [&](index_t lo, index_t hi) {
                 for (index_t t = lo; t < hi; ++t) {
                   const index_t o = t / nblk, c0 = (t % nblk) * cblock;
                   const index_t c1 = std::min(I, c0 + cblock);
                   T* y = out + o * I;
                   const T* xo = x + o * N * I;
                   index_t c = c0;
                   // Eight vectors of a row at a time, then single vectors for what is left.
                   for (; c + 8 * W <= c1; c += 8 * W)
                     detail::reduce_columns<Red, 8>(xo + c, y + c, N, I);
                   for (; c + W <= c1; c += W) detail::reduce_columns<Red, 1>(xo + c, y + c, N, I);
                   for (; c < c1; ++c) {
                     T acc = Red::template init<T>();
                     for (index_t r = 0; r < N; ++r) acc = Red::combine(acc, xo[r * I + c]);
                     y[c] = acc;
                   }
                 }
               });
}

/// Reduction of all n elements of contiguous x; chunked so the result ignores the thread count.
template <class Red, class T>
T reduce_all(const T* x, index_t n) {
  constexpr index_t chunk = 1 << 13;
  const index_t nchunks = (n + chunk - 1) / chunk;
  if (nchunks <= 1) return detail::reduce_row<Red>(x, n);
  const std::size_t bytes = static_cast<std::size_t>(nchunks) * sizeof(double);
  auto* part = static_cast<double*>(host_allocate(bytes));
  parallel_for(0, nchunks, 8, [&](index_t lo, index_t hi) {
    for (index_t c = lo; c < hi; ++c)
      part[c] = detail::reduce_row<Red>(x + c * chunk, std::min(chunk, n - c * chunk));
  });
  double r = part[0];
  for (index_t c = 1; c < nchunks; ++c) r = Red::combine(r, part[c]);
  host_deallocate(part, bytes);
  return static_cast<T>(r);
}

/// Index of the first maximum along N of contiguous (O, N, I) x; NaN counts as the maximum.
template <class T>
void argmax_axis(const T* x, std::int64_t* out, index_t O, index_t N, index_t I) {
  parallel_for(0, O * I, std::max<index_t>(1, (1 << 12) / std::max<index_t>(N, 1)),
               [&](index_t lo, index_t hi) {
                 for (index_t t = lo; t < hi; ++t) {
                   const index_t o = t / I, i = t % I;
                   const T* p = x + o * N * I + i;
                   index_t best = 0;
                   T bv = p[0];
                   for (index_t r = 1; r < N && bv == bv; ++r) {
                     const T v = p[r * I];
                     if (v > bv || v != v) bv = v, best = r;
                   }
                   out[t] = best;
                 }
               });
}

}  // namespace pretext::cpu
