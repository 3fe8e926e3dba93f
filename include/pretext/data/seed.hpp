// SPDX-License-Identifier: Apache-2.0
// Seed mixing for the data pipeline: one user seed becomes independent seeds for each epoch's
// order and for each sample's augmentation stream (scalars only, no tensors).
//
// The loader seeds the order of epoch e with mix_seed(seed, e) and sample i of epoch e with
// mix_seed(seed, e, i). Because each seed is a pure function of (seed, e, i), batches and
// augmentations do not depend on the thread count, on prefetching, or on where a run resumed.
#pragma once

#include <cstdint>

namespace pretext::data {

/// SplitMix64 (Steele, Lea and Flood 2014): a bijection of 64-bit words whose outputs pass
/// BigCrush for consecutive inputs, so neighbouring keys (epoch 0, 1, 2...) give unrelated seeds.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A seed derived from `seed` and any number of keys: h = splitmix64(seed), then
/// h = splitmix64(h ^ key) for each key in order. For a fixed prefix, distinct last keys give
/// distinct seeds (splitmix64 is a bijection); order matters, so mix_seed(s, 1, 2) and
/// mix_seed(s, 2, 1) differ.
template <class... Keys>
constexpr std::uint64_t mix_seed(std::uint64_t seed, Keys... keys) noexcept {
  std::uint64_t h = splitmix64(seed);
  ((h = splitmix64(h ^ static_cast<std::uint64_t>(keys))), ...);
  return h;
}

}  // namespace pretext::data
