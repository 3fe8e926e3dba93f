// SPDX-License-Identifier: Apache-2.0
// Collation: B samples in, one batch out.
//
// A tensor sample (...) stacks into (B, ...); a scalar sample into (B); a std::pair or
// std::tuple sample collates element by element into a pair or tuple of batches, recursively
// (so {image (C, H, W), label} gives {(B, C, H, W), (B)}). A user type S collates with a
// function `collate_batch(std::span<const S>)` declared in S's namespace (found by
// argument-dependent lookup), which takes precedence over the built-in rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/core/copy.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/shape.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext::data {

namespace detail {

// Hides any collate_batch of enclosing namespaces, so only argument-dependent lookup finds one.
void collate_batch() = delete;

/// S has a user collate_batch(std::span<const S>) found by argument-dependent lookup.
template <class S>
concept user_collatable = requires(std::span<const S> s) {
  {collate_batch(s)};
};

template <class S>
auto user_collate(std::span<const S> samples) {
  return collate_batch(samples);
}

template <class S>
inline constexpr bool is_pair_v = false;
template <class A, class B>
inline constexpr bool is_pair_v<std::pair<A, B>> = true;

template <class S>
inline constexpr bool is_tuple_v = false;
template <class... E>
inline constexpr bool is_tuple_v<std::tuple<E...>> = true;

template <class>
inline constexpr bool dependent_false = false;

/// Stacks B tensors of one shape (...) into (B, ...).
template <class T, int R, class Dev>
Tensor<T, R + 1, Dev> stack(std::span<const Tensor<T, R, Dev>> samples) {
  static_assert(R + 1 <= pretext::detail::max_rank,
                "pretext::data::collate: a batch of these samples would exceed rank 8");
  static_assert(std::is_same_v<Dev, Cpu>, "pretext::data::collate: samples must be CPU tensors");
  const auto n = static_cast<index_t>(samples.size());
  PRETEXT_CHECK(n > 0, shape_error,
                "pretext::data::collate: cannot stack an empty batch of tensors (the sample shape "
                "is unknown); pass at least one sample");
  for (index_t b = 0; b < n; ++b) {
    const auto& s = samples[static_cast<std::size_t>(b)];
    PRETEXT_CHECK(s.defined(), shape_error, "pretext::data::collate: sample ", b,
                  " is an undefined tensor; the dataset must return a tensor with storage");
    PRETEXT_CHECK(s.shape() == samples[0].shape(), shape_error,
                  "pretext::data::collate: sample 0 has shape ",
                  pretext::detail::shape_string(samples[0].shape()), " but sample ", b,
                  " has shape ", pretext::detail::shape_string(s.shape()),
                  "; every sample of a batch needs the same shape (crop or pad them in a map() "
                  "transform, or collate them with your own collate_batch)");
  }
  Shape<R + 1> shape{};
  shape[0] = n;
  for (std::size_t a = 0; a < static_cast<std::size_t>(R); ++a)
    shape[a + 1] = samples[0].shape()[a];
  Tensor<T, R + 1, Dev> out(shape);
  const Shape<R> row_shape = samples[0].shape();
  const auto row_strides = contiguous_strides(row_shape);
  const index_t row = numel(row_shape);
  for (index_t b = 0; b < n; ++b) {
    const auto& s = samples[static_cast<std::size_t>(b)];
    pretext::detail::copy_strided(out.data() + b * row, row_strides, s.data(), s.strides(),
                                  row_shape);
  }
  return out;
}

}  // namespace detail

/// Collates B samples into one batch (see the file comment for the rules). Throws shape_error
/// naming both shapes and positions when tensor samples differ in shape.
template <class S>
auto collate(std::span<const S> samples);

namespace detail {

/// Element K of every sample, collated; a shape error says which element it came from.
template <std::size_t K, class S>
auto collate_element(std::span<const S> samples) {
  using E = std::remove_cvref_t<std::tuple_element_t<K, S>>;
  std::vector<E> parts;
  parts.reserve(samples.size());
  for (const S& s : samples) parts.push_back(std::get<K>(s));
  try {
    return collate(std::span<const E>(parts));
  } catch (const shape_error& e) {
    pretext::detail::fail<shape_error>(e.what(), " (in element ", K, " of each sample)");
  }
}

}  // namespace detail

template <class S>
auto collate(std::span<const S> samples) {
  if constexpr (detail::user_collatable<S>) {
    return detail::user_collate(samples);
  } else if constexpr (is_tensor_v<S>) {
    return detail::stack(samples);
  } else if constexpr (std::is_arithmetic_v<S>) {
    static_assert(element<S>,
                  "pretext::data::collate: a scalar sample must be float, double, std::int64_t, "
                  "std::int32_t or std::uint8_t (a tensor element type); convert it in a map() "
                  "transform");
    Tensor<S, 1> out(Shape<1>{static_cast<index_t>(samples.size())});
    for (std::size_t b = 0; b < samples.size(); ++b) out.data()[b] = samples[b];
    return out;
  } else if constexpr (detail::is_pair_v<S>) {
    return std::make_pair(detail::collate_element<0>(samples), detail::collate_element<1>(samples));
  } else if constexpr (detail::is_tuple_v<S>) {
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
      return std::make_tuple(detail::collate_element<K>(samples)...);
    }
    (std::make_index_sequence<std::tuple_size_v<S>>{});
  } else {
    static_assert(detail::dependent_false<S>,
                  "pretext::data::collate: no rule collates this sample type; return tensors, "
                  "scalars, pairs or tuples of them, or declare collate_batch(std::span<const S>) "
                  "in the sample type's namespace");
  }
}

/// Collates a vector of samples.
template <class S>
auto collate(const std::vector<S>& samples) {
  return collate(std::span<const S>(samples));
}

/// The batch type collate makes from samples of type S.
template <class S>
using batch_t = decltype(collate(std::declval<std::span<const S>>()));

}  // namespace pretext::data
