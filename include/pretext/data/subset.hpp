// SPDX-License-Identifier: Apache-2.0
// Index sets over a dataset: class-balanced label fractions (the 1% / 10% label-efficiency
// protocol), seeded train / validation splits, and taking rows of a tensor by index.
//
// Shapes: N samples, K selected indices; every index tensor is (K) of std::int64_t, sorted
// ascending (so a subset keeps the dataset's order; the loader shuffles).
#pragma once

#include <algorithm>
#include <cmath>  // std::llround
#include <cstdint>
#include <cstring>  // std::memcpy
#include <map>
#include <utility>
#include <vector>

#include "pretext/core/copy.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/data/seed.hpp"

namespace pretext::data {

/// Indices (K) of a class-balanced fraction of the samples whose labels (N) are given: for each
/// label value c present with count n_c, max(1, round(fraction * n_c)) of its samples (round half
/// away from zero), chosen by Generator(mix_seed(seed, c)); returned sorted ascending. Any
/// int64 value counts as a class (negative ones too).
///
/// The chosen samples of class c are the first k of one seeded permutation of that class, so
/// with the same seed a smaller fraction is a subset of a larger one (1% inside 10%), and the
/// choice within a class does not depend on which other classes exist. Throws config_error unless
/// 0 < fraction <= 1.
inline Tensor<std::int64_t, 1> class_balanced_indices(const Tensor<std::int64_t, 1>& labels,
                                                      double fraction, std::uint64_t seed) {
  PRETEXT_CHECK(fraction > 0.0 && fraction <= 1.0, config_error,
                "pretext::data::class_balanced_indices: fraction ", fraction,
                " must be in (0, 1]; pass 0.01 for 1% of the labels");
  std::map<std::int64_t, std::vector<std::int64_t>> by_class;  // label -> its sample indices
  const index_t n = labels.numel();
  for (index_t i = 0; i < n; ++i) by_class[labels(i)].push_back(i);
  std::vector<std::int64_t> chosen;
  for (const auto& [label, members] : by_class) {
    const auto count = static_cast<index_t>(members.size());
    const auto want = static_cast<index_t>(std::llround(fraction * static_cast<double>(count)));
    const index_t k = std::clamp<index_t>(want, 1, count);
    Generator g(mix_seed(seed, static_cast<std::uint64_t>(label)));
    const auto perm = randperm(count, g);
    for (index_t j = 0; j < k; ++j)
      chosen.push_back(members[static_cast<std::size_t>(perm.data()[j])]);
  }
  std::sort(chosen.begin(), chosen.end());
  return Tensor<std::int64_t, 1>::from(Shape<1>{static_cast<index_t>(chosen.size())}, chosen);
}

/// A seeded split of 0..n-1 into {train, val}: val has round(val_fraction * n) indices, train
/// the rest; both sorted ascending, disjoint, together all of 0..n-1. Throws config_error unless
/// n >= 0 and 0 <= val_fraction < 1.
inline std::pair<Tensor<std::int64_t, 1>, Tensor<std::int64_t, 1>> train_val_split(
    index_t n, double val_fraction, std::uint64_t seed) {
  PRETEXT_CHECK(n >= 0, config_error, "pretext::data::train_val_split: n ", n, " must be >= 0");
  PRETEXT_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, config_error,
                "pretext::data::train_val_split: val_fraction ", val_fraction,
                " must be in [0, 1); pass 0.1 to hold out 10%");
  const auto n_val = static_cast<index_t>(std::llround(val_fraction * static_cast<double>(n)));
  Generator g(mix_seed(seed));
  const auto perm = randperm(n, g);
  const std::int64_t* p = perm.data();
  std::vector<std::int64_t> val(p, p + n_val), train(p + n_val, p + n);
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {Tensor<std::int64_t, 1>::from(Shape<1>{n - n_val}, train),
          Tensor<std::int64_t, 1>::from(Shape<1>{n_val}, val)};
}

/// Rows t[idx[0]], t[idx[1]], ... of t (N, ...) as a new contiguous tensor (K, ...); repeats
/// are allowed. Throws index_error for an index outside [0, N).
template <element T, int R>
requires(R >= 1) Tensor<T, R> take_rows(const Tensor<T, R>& t, const Tensor<std::int64_t, 1>& idx) {
  const index_t n = t.size(0), k = idx.numel();
  for (index_t r = 0; r < k; ++r)
    PRETEXT_CHECK(idx(r) >= 0 && idx(r) < n, index_error, "pretext::data::take_rows: index ",
                  idx(r), " at position ", r, " is out of range for ", n, " rows (shape ",
                  pretext::detail::shape_string(t.shape()), ")");
  Shape<R> shape = t.shape();
  shape[0] = k;
  Tensor<T, R> out(shape);
  Shape<R - 1> row_shape{};
  Strides<R - 1> src_strides{};
  for (std::size_t a = 1; a < static_cast<std::size_t>(R); ++a)
    row_shape[a - 1] = shape[a], src_strides[a - 1] = t.strides()[a];
  const index_t row = numel(row_shape);
  const auto dst_strides = contiguous_strides(row_shape);
  if (row == 0) return out;  // nothing to copy (and no pointer to pass memcpy)
  const bool dense = t.is_contiguous();
  for (index_t r = 0; r < k; ++r) {
    const T* src = t.data() + idx(r) * t.stride(0);
    if (dense)
      std::memcpy(out.data() + r * row, src, static_cast<std::size_t>(row) * sizeof(T));
    else
      pretext::detail::copy_strided(out.data() + r * row, dst_strides, src, src_strides, row_shape);
  }
  return out;
}

}  // namespace pretext::data
