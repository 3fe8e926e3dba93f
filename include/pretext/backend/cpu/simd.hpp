// SPDX-License-Identifier: Apache-2.0
// The SIMD vocabulary of the CPU kernels: one batch type per element type for the instruction
// set chosen at compile time (xsimd's default_arch: AVX2+FMA with -march=native here, SSE2 on a
// plain x86-64 build), and the horizontal reductions xsimd 8.1 lacks.
#pragma once

// GCC 12 warns that AVX-512 intrinsics xsimd's exp/erf inline (_mm512_undefined_pd's
// self-initialised __Y) may be used uninitialised; a false positive inside the compiler's own
// header, silenced for those headers only (the locations come from this include).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "pretext/config.hpp"

namespace pretext::simd {

// xsimd 8.1's AVX512-BW kernels do not compile with g++ 12 (select on 32/64-bit integer
// batches, used inside log and pow), and BW adds nothing for float and double: step down to
// AVX512-DQ there.
using arch = std::conditional_t<std::is_same_v<xsimd::default_arch, xsimd::avx512bw>,
                                xsimd::avx512dq, xsimd::default_arch>;

template <class T>
using batch = xsimd::batch<T, arch>;

/// Elements per SIMD register for T.
template <class T>
inline constexpr std::size_t width = batch<T>::size;

template <class T>
PRETEXT_ALWAYS_INLINE batch<T> load(const T* p) {
  return batch<T>::load_unaligned(p);
}
template <class T>
PRETEXT_ALWAYS_INLINE void store(T* p, const batch<T>& v) {
  v.store_unaligned(p);
}

/// a * b + c in one rounding. xsimd 8.1 has no AVX-512 fma kernel and falls back to a * b + c,
/// which GCC contracts but clang (-ffp-contract=on) does not: half the throughput.
template <class T>
PRETEXT_ALWAYS_INLINE batch<T> fmadd(const batch<T>& a, const batch<T>& b, const batch<T>& c) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, arch>) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_fmadd_ps(a, b, c);
    else
      return _mm512_fmadd_pd(a, b, c);
  } else {
    return xsimd::fma(a, b, c);
  }
#else
  return xsimd::fma(a, b, c);
#endif
}

/// Horizontal sum (xsimd's hadd).
template <class T>
PRETEXT_ALWAYS_INLINE T reduce_add(const batch<T>& v) {
  return xsimd::hadd(v);
}

/// Horizontal maximum; missing from xsimd 8.1.
template <class T>
PRETEXT_ALWAYS_INLINE T reduce_max(const batch<T>& v) {
  alignas(64) T lanes[width<T>];
  v.store_aligned(lanes);
  T m = lanes[0];
  for (std::size_t i = 1; i < width<T>; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

/// Horizontal minimum; missing from xsimd 8.1.
template <class T>
PRETEXT_ALWAYS_INLINE T reduce_min(const batch<T>& v) {
  alignas(64) T lanes[width<T>];
  v.store_aligned(lanes);
  T m = lanes[0];
  for (std::size_t i = 1; i < width<T>; ++i) m = lanes[i] < m ? lanes[i] : m;
  return m;
}

/// NaN test for a scalar or a batch. xsimd 8.1's `!=` on AVX/AVX-512 compares
/// "ordered", so `v != v` is false for NaN there; xsimd::isnan compares unordered.
template <class X>
PRETEXT_ALWAYS_INLINE auto is_nan(const X& v) {
  if constexpr (std::is_arithmetic_v<X>)
    return v != v;
  else
    return xsimd::isnan(v);
}

/// True when any lane is NaN.
template <class T>
PRETEXT_ALWAYS_INLINE bool any_nan(const batch<T>& v) {
  return xsimd::any(xsimd::isnan(v));
}

}  // namespace pretext::simd
