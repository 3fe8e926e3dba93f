// SPDX-License-Identifier: Apache-2.0
// Reproducible random tensors from a counter-based generator (Philox-4x32-10).
//
// The value of element i of a draw depends only on (seed, draw number, i): never on the thread
// count, the chunking or the order in which threads run. Each draw consumes one "stream" number
// from the Generator, so two draws in a row differ, and saving (seed, offset) is all a checkpoint
// needs to resume the exact sequence.
#pragma once

#include <algorithm>  // std::clamp
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>  // std::numbers::pi

#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/detail/nd_iter.hpp"

namespace pretext {

namespace detail {

/// One Philox-4x32 block: 10 rounds over a 128-bit counter with a 64-bit key.
inline std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> c,
                                               std::array<std::uint32_t, 2> k) noexcept {
  constexpr std::uint64_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
  for (int r = 0; r < 10; ++r) {
    const std::uint64_t p0 = m0 * c[0], p1 = m1 * c[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  return c;
}

/// Four random 32-bit words for block `block` of stream `stream` under `seed`.
inline std::array<std::uint32_t, 4> random_block(std::uint64_t seed, std::uint64_t stream,
                                                 std::uint64_t block) noexcept {
  return philox4x32({static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                     static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
                    {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

/// [0, 1) with 24 random bits.
inline float to_unit_float(std::uint32_t x) noexcept {
  return static_cast<float>(x >> 8) * 0x1p-24f;
}
/// [0, 1) with 53 random bits.
inline double to_unit_double(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<double>(((static_cast<std::uint64_t>(a) << 32) | b) >> 11) * 0x1p-53;
}

/// Inverse error function in double: a rational first guess refined by two Newton steps on erf.
inline double erfinv(double y) {
  if (y <= -1.0) return -HUGE_VAL;
  if (y >= 1.0) return HUGE_VAL;
  // First guess (Giles' single-precision approximation).
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  const double two_over_sqrt_pi = 1.12837916709551257390;
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  return x;
}

/// Writes gen(i) to element i (row-major) of t, in parallel; gen must be a pure function of i.
template <class T, int R, class Gen>
void fill_indexed(const Tensor<T, R>& t, Gen&& gen) {
  const auto L = make_layout<1>(t.shape(), std::array<Strides<R>, 1>{t.strides()});
  T* base = t.data();
  const index_t s = L.inner_stride(0);
  parallel_for(0, L.numel, 1 << 14, [&](index_t lo, index_t hi) {
    index_t i = lo;
    for_each_row(L, lo, hi, [&](const std::array<index_t, 1>& off, index_t n) {
      for (index_t j = 0; j < n; ++j, ++i) base[off[0] + j * s] = gen(i);
    });
  });
}

}  // namespace detail

/// Seed and position of a random sequence. Not thread-safe: give each thread its own, or draw
/// from one thread (draws themselves run in parallel and do not depend on the thread count).
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) noexcept : seed_(seed) {}
  std::uint64_t seed() const noexcept { return seed_; }
  /// Number of draws made so far; with the seed, the whole state (checkpoints save both).
  std::uint64_t offset() const noexcept { return offset_; }
  void set_offset(std::uint64_t offset) noexcept { offset_ = offset; }
  void manual_seed(std::uint64_t seed) noexcept { seed_ = seed, offset_ = 0; }
  /// Reserves a stream for one draw.
  std::uint64_t next_stream() noexcept { return offset_++; }

 private:
  std::uint64_t seed_ = 0;
  std::uint64_t offset_ = 0;
};

/// The process-wide generator used when none is passed.
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}
/// Reseeds the process-wide generator.
inline void manual_seed(std::uint64_t seed) {
  default_generator().manual_seed(seed);
}

// ---- in-place draws into any (possibly strided) tensor -------------------------------------

/// Uniform on [low, high).
template <floating T, int R>
const Tensor<T, R>& uniform_(const Tensor<T, R>& t, Generator& g, T low = 0, T high = 1) {
  PRETEXT_CHECK(low <= high, config_error, "pretext::uniform_: low ", low, " exceeds high ", high);
  const auto seed = g.seed(), stream = g.next_stream();
  const T span = high - low;
  if constexpr (std::is_same_v<T, float>) {
    detail::fill_indexed(t, [&](index_t i) {
      const auto b = detail::random_block(seed, stream, static_cast<std::uint64_t>(i) / 4);
      return low + span * detail::to_unit_float(b[static_cast<std::size_t>(i % 4)]);
    });
  } else {
    detail::fill_indexed(t, [&](index_t i) {
      const auto b = detail::random_block(seed, stream, static_cast<std::uint64_t>(i) / 2);
      const auto k = static_cast<std::size_t>(2 * (i % 2));
      return low + span * detail::to_unit_double(b[k], b[k + 1]);
    });
  }
  return t;
}

/// Normal with the given mean and standard deviation (Box-Muller on one Philox block).
template <floating T, int R>
const Tensor<T, R>& normal_(const Tensor<T, R>& t, Generator& g, T mean = 0, T std = 1) {
  PRETEXT_CHECK(std >= 0, config_error, "pretext::normal_: std ", std, " must be >= 0");
  const auto seed = g.seed(), stream = g.next_stream();
  constexpr double two_pi = 2 * std::numbers::pi;
  detail::fill_indexed(t, [&](index_t i) {
    // A block holds 128 random bits: two (u1, u2) pairs for float, one pair for double. Each pair
    // gives two normals (cos and sin).
    constexpr index_t per_block = std::is_same_v<T, float> ? 4 : 2;
    const auto b = detail::random_block(seed, stream, static_cast<std::uint64_t>(i / per_block));
    const auto lane = static_cast<std::size_t>(i % per_block);
    double u1, u2;
    if constexpr (std::is_same_v<T, float>) {
      const std::size_t pair = lane / 2;
      u1 = 1.0 - detail::to_unit_float(b[2 * pair]);
      u2 = detail::to_unit_float(b[2 * pair + 1]);
    } else {
      u1 = 1.0 - detail::to_unit_double(b[0], b[1]);
      u2 = detail::to_unit_double(b[2], b[3]);
    }
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double z = lane % 2 == 0 ? r * std::cos(two_pi * u2) : r * std::sin(two_pi * u2);
    return static_cast<T>(mean + std * z);
  });
  return t;
}

/// Normal(mean, std) conditioned on [a, b] (absolute bounds, as torch.nn.init.trunc_normal_),
/// by inverting the CDF: no rejection loop, so each element still uses one Philox block.
template <floating T, int R>
const Tensor<T, R>& truncated_normal_(const Tensor<T, R>& t, Generator& g, T mean = 0, T std = 1,
                                      T a = -2, T b = 2) {
  PRETEXT_CHECK(std > 0 && a < b, config_error, "pretext::truncated_normal_: needs std > 0 and ",
                "a < b; got std ", std, ", a ", a, ", b ", b);
  const auto seed = g.seed(), stream = g.next_stream();
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)); };
  const double lo = cdf((double(a) - mean) / std), hi = cdf((double(b) - mean) / std);
  detail::fill_indexed(t, [&](index_t i) {
    const auto blk = detail::random_block(seed, stream, static_cast<std::uint64_t>(i));
    const double u = lo + (hi - lo) * detail::to_unit_double(blk[0], blk[1]);
    const double x = mean + std * std::numbers::sqrt2 * detail::erfinv(2.0 * u - 1.0);
    return static_cast<T>(std::clamp(x, double(a), double(b)));
  });
  return t;
}

/// 1 with probability p, else 0.
template <floating T, int R>
const Tensor<T, R>& bernoulli_(const Tensor<T, R>& t, Generator& g, double p) {
  PRETEXT_CHECK(p >= 0 && p <= 1, config_error, "pretext::bernoulli_: p ", p, " must be in [0, 1]");
  const auto seed = g.seed(), stream = g.next_stream();
  detail::fill_indexed(t, [&](index_t i) {
    const auto b = detail::random_block(seed, stream, static_cast<std::uint64_t>(i) / 2);
    const auto k = static_cast<std::size_t>(2 * (i % 2));
    return detail::to_unit_double(b[k], b[k + 1]) < p ? T(1) : T(0);
  });
  return t;
}

// ---- factories: the rank comes from the braced shape, e.g. normal<float>({4, 8}, gen) ------

template <floating T, std::size_t N>
Tensor<T, static_cast<int>(N)> uniform(const index_t (&shape)[N], Generator& g, T low = 0,
                                       T high = 1) {
  auto t = empty<T>(shape);
  uniform_(t, g, low, high);
  return t;
}
template <floating T, std::size_t N>
Tensor<T, static_cast<int>(N)> normal(const index_t (&shape)[N], Generator& g, T mean = 0,
                                      T std = 1) {
  auto t = empty<T>(shape);
  normal_(t, g, mean, std);
  return t;
}
template <floating T, std::size_t N>
Tensor<T, static_cast<int>(N)> truncated_normal(const index_t (&shape)[N], Generator& g, T mean = 0,
                                                T std = 1, T a = -2, T b = 2) {
  auto t = empty<T>(shape);
  truncated_normal_(t, g, mean, std, a, b);
  return t;
}
template <floating T, std::size_t N>
Tensor<T, static_cast<int>(N)> bernoulli(const index_t (&shape)[N], Generator& g, double p) {
  auto t = empty<T>(shape);
  bernoulli_(t, g, p);
  return t;
}

/// A uniformly random permutation of 0..n-1 (Fisher-Yates; swap i uses block i of the stream).
inline Tensor<std::int64_t, 1> randperm(index_t n, Generator& g) {
  PRETEXT_CHECK(n >= 0, config_error, "pretext::randperm: n ", n, " must be >= 0");
  const auto seed = g.seed(), stream = g.next_stream();
  Tensor<std::int64_t, 1> t(Shape<1>{n});
  std::int64_t* p = t.data();
  for (index_t i = 0; i < n; ++i) p[i] = i;
  for (index_t i = n - 1; i > 0; --i) {
    const auto b = detail::random_block(seed, stream, static_cast<std::uint64_t>(i));
    const std::uint64_t r = (static_cast<std::uint64_t>(b[0]) << 32) | b[1];
    // Multiply-shift maps r to [0, i] with bias below (i + 1) / 2^64.
    const auto j = static_cast<index_t>(
        (static_cast<unsigned __int128>(r) * static_cast<std::uint64_t>(i + 1)) >> 64);
    std::swap(p[i], p[j]);
  }
  return t;
}

}  // namespace pretext
