// SPDX-License-Identifier: Apache-2.0
// Label helpers shared by the evaluations: checking class ids, accuracy and a seeded
// class-stratified validation split. Labelled subsets (1% / 10%) and gathering rows live in
// data/subset.hpp (data::class_balanced_indices, data::take_rows).
//
//   y (N) int64 class ids in [0, C); features x (N, D); index lists (K) int64 row numbers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/data/subset.hpp"  // take_rows, class_balanced_indices

namespace pretext::eval {

/// Checks that x (N, D) has one label per row (shape_error naming both shapes otherwise).
template <class T>
void check_rows_match(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y, const char* op,
                      const char* what) {
  PRETEXT_CHECK(x.size(0) == y.size(0), shape_error, "pretext::eval::", op, ": ", what,
                " features are ", pretext::detail::shape_string(x.shape()), " but ", what,
                " labels are ", pretext::detail::shape_string(y.shape()),
                "; give one label per row");
}

/// Checks that train (N, D) and test (M, D) have the same width.
template <class T>
void check_widths_match(const Tensor<T, 2>& train, const Tensor<T, 2>& test, const char* op) {
  PRETEXT_CHECK(train.size(1) == test.size(1), shape_error, "pretext::eval::", op,
                ": train features are ", pretext::detail::shape_string(train.shape()),
                " but test features are ", pretext::detail::shape_string(test.shape()),
                "; both need the same width (features of the same encoder)");
}

/// 1 + the largest label in y (0 for an empty y). Throws config_error on a negative label.
inline index_t count_classes(const Tensor<std::int64_t, 1>& y, const char* op) {
  std::int64_t top = -1;
  for (index_t i = 0; i < y.size(0); ++i) {
    const std::int64_t v = y(i);
    PRETEXT_CHECK(v >= 0, config_error, "pretext::eval::", op, ": label ", v, " at position ", i,
                  " is negative; labels must be class ids 0, 1, ..., C-1");
    top = std::max(top, v);
  }
  return static_cast<index_t>(top + 1);
}

/// Checks that every label is in [0, num_classes).
inline void check_labels(const Tensor<std::int64_t, 1>& y, index_t num_classes, const char* op,
                         const char* what) {
  for (index_t i = 0; i < y.size(0); ++i) {
    const std::int64_t v = y(i);
    PRETEXT_CHECK(v >= 0 && v < num_classes, config_error, "pretext::eval::", op, ": ", what,
                  " label ", v, " at position ", i, " is outside [0, ", num_classes,
                  "); raise num_classes or fix the labels");
  }
}

/// Fraction of positions where pred equals y (NaN for no examples).
inline double accuracy(const Tensor<std::int64_t, 1>& pred, const Tensor<std::int64_t, 1>& y) {
  PRETEXT_CHECK(pred.size(0) == y.size(0), shape_error, "pretext::eval::accuracy: predictions ",
                pretext::detail::shape_string(pred.shape()), " and labels ",
                pretext::detail::shape_string(y.shape()), " differ in length");
  if (y.size(0) == 0) return std::nan("");
  index_t right = 0;
  for (index_t i = 0; i < y.size(0); ++i) right += pred(i) == y(i);
  return static_cast<double>(right) / static_cast<double>(y.size(0));
}

/// Row numbers of a split: `first` (K1) and `second` (K2), each in increasing order.
struct Split {
  Tensor<std::int64_t, 1> first;
  Tensor<std::int64_t, 1> second;
};

/// A seeded class-stratified split of the rows of y (N): from each class of n_c rows,
/// round(fraction * n_c) go to `second`, the rest to `first`; each class keeps at least one row
/// in `first` (a class with a single example stays there). Same y, fraction and seed: the same
/// split, on any thread count. fraction must be in [0, 1).
///
/// For a validation split, `second` is the validation set. For a labelled subset (1% of the
/// labels) use data::class_balanced_indices, which keeps every class present.
inline Split stratified_split(const Tensor<std::int64_t, 1>& y, double fraction,
                              std::uint64_t seed) {
  PRETEXT_CHECK(fraction >= 0 && fraction < 1, config_error,
                "pretext::eval::stratified_split: fraction ", fraction, " must be in [0, 1)");
  const index_t C = count_classes(y, "stratified_split");
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(C));
  for (index_t i = 0; i < y.size(0); ++i) by_class[static_cast<std::size_t>(y(i))].push_back(i);
  Generator g(seed);
  std::vector<std::int64_t> a, b;
  for (const auto& rows : by_class) {
    const auto nc = static_cast<index_t>(rows.size());
    if (nc == 0) continue;
    // One permutation per class, drawn in class order from one generator: reproducible.
    const auto perm = randperm(nc, g);
    const index_t k = std::min<index_t>(
        nc - 1, static_cast<index_t>(std::llround(fraction * static_cast<double>(nc))));
    for (index_t j = 0; j < nc; ++j)
      (j < k ? b : a).push_back(rows[static_cast<std::size_t>(perm(j))]);
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  auto to_tensor = [](const std::vector<std::int64_t>& v) {
    return Tensor<std::int64_t, 1>::from(Shape<1>{static_cast<index_t>(v.size())}, v);
  };
  return {to_tensor(a), to_tensor(b)};
}

}  // namespace pretext::eval
