// SPDX-License-Identifier: Apache-2.0
// Datasets: what the loader draws samples from, tensors as datasets, index subsets, and
// per-sample transforms (augmentation).
//
// A dataset is any type with `size()` and `get(i, g)` (or just `get(i)`), where g is the
// sample's own random stream: the loader seeds it from (seed, epoch, index), so a sample's
// augmentation is the same whatever the thread count, prefetching or resume point. Shapes:
// N samples; a TensorDataset over inputs (N, ...) yields samples of shape (...).
//
// Adaptors (Subset, Mapped) made from an lvalue keep a reference to it, as std::views::all does;
// made from an rvalue they own a moved copy. Keep referenced datasets alive and unchanged while
// an adaptor or loader uses them.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext::data {

/// Has `get(i, g)`: the sample may use its Generator for augmentation.
template <class D>
concept random_access_with_generator = requires(const D& ds, index_t i, Generator& g) {
  ds.get(i, g);
};

/// Has `get(i)`: deterministic samples.
template <class D>
concept random_access = requires(const D& ds, index_t i) {
  ds.get(i);
};

namespace detail {

/// ds.get(i, g) when the dataset takes a generator, else ds.get(i).
template <class D>
decltype(auto) get_sample(const D& ds, index_t i, Generator& g) {
  if constexpr (random_access_with_generator<D>)
    return ds.get(i, g);
  else
    return ds.get(i);
}

template <class D>
using get_result_t =
    decltype(get_sample(std::declval<const D&>(), index_t{}, std::declval<Generator&>()));

}  // namespace detail

/// A finite, indexable set of samples: `ds.size()` is the count and `ds.get(i, g)` or
/// `ds.get(i)` (on a const dataset) returns sample i of [0, size()). The loader calls get from
/// its background thread, so get must not race with what the training thread does to the
/// dataset (a const read of tensors is safe).
template <class D>
concept Dataset = requires(const D& ds) {
  { ds.size() } -> std::convertible_to<index_t>;
}
&&(random_access_with_generator<D> || random_access<D>)&&!std::is_void_v<detail::get_result_t<D>>;

/// The type of a dataset's samples (without reference or const).
template <Dataset D>
using sample_t = std::remove_cvref_t<detail::get_result_t<D>>;

namespace detail {

/// How an adaptor stores the dataset passed to it: a const reference to an lvalue, a value
/// moved from an rvalue.
template <class D>
using stored_dataset_t =
    std::conditional_t<std::is_lvalue_reference_v<D>, const std::remove_reference_t<D>&,
                       std::remove_cvref_t<D>>;

inline void check_sample_index(index_t i, index_t n, const char* op) {
  PRETEXT_CHECK(i >= 0 && i < n, index_error, op, ": sample index ", i,
                " is out of range for a dataset of ", n, " samples");
}

}  // namespace detail

// ---- tensors as datasets ---------------------------------------------------------------------

/// Labeled samples from tensors: inputs (N, ...) and labels (N). Sample i is
/// {inputs[i] (...), labels[i]}. The input is a contiguous copy of the row, so an augmentation
/// may write into it without touching the dataset (a row copy is cheap next to collating it).
template <element T, int R>
requires(R >= 1) class TensorDataset {
 public:
  using sample_type = std::pair<Tensor<T, R - 1>, std::int64_t>;

  /// Shares (does not copy) the tensors; throws shape_error when their first extents differ.
  TensorDataset(Tensor<T, R> inputs, Tensor<std::int64_t, 1> labels)
      : inputs_(std::move(inputs)), labels_(std::move(labels)) {
    PRETEXT_CHECK(inputs_.size(0) == labels_.size(0), shape_error,
                  "pretext::data::TensorDataset: inputs of shape ",
                  pretext::detail::shape_string(inputs_.shape()), " but labels of shape ",
                  pretext::detail::shape_string(labels_.shape()),
                  "; both need one entry per sample along axis 0");
  }

  index_t size() const noexcept { return inputs_.shape()[0]; }

  sample_type get(index_t i) const {
    detail::check_sample_index(i, size(), "pretext::data::TensorDataset::get");
    return {inputs_.select(0, i).clone(), labels_(i)};
  }

  const Tensor<T, R>& inputs() const noexcept { return inputs_; }
  const Tensor<std::int64_t, 1>& labels() const noexcept { return labels_; }

 private:
  Tensor<T, R> inputs_;
  Tensor<std::int64_t, 1> labels_;
};

/// Unlabeled samples from inputs (N, ...): sample i is a contiguous copy of inputs[i] (...).
template <element T, int R>
requires(R >= 1) class UnlabeledTensorDataset {
 public:
  using sample_type = Tensor<T, R - 1>;

  /// Shares (does not copy) the tensor.
  explicit UnlabeledTensorDataset(Tensor<T, R> inputs) : inputs_(std::move(inputs)) {}

  index_t size() const noexcept { return inputs_.shape()[0]; }

  sample_type get(index_t i) const {
    detail::check_sample_index(i, size(), "pretext::data::UnlabeledTensorDataset::get");
    return inputs_.select(0, i).clone();
  }

  const Tensor<T, R>& inputs() const noexcept { return inputs_; }

 private:
  Tensor<T, R> inputs_;
};

// ---- adaptors --------------------------------------------------------------------------------

/// The samples of another dataset at the given indices, in that order (repeats allowed):
/// sample k is dataset[indices[k]]. D is the stored type: `const X&` (a reference) or `X` (owned);
/// `subset(ds, idx)` picks it from the argument's value category.
template <class D>
requires Dataset<std::remove_cvref_t<D>>
class Subset {
 public:
  using base_type = std::remove_cvref_t<D>;
  using sample_type = sample_t<base_type>;

  /// Copies the indices (K); throws index_error when one lies outside [0, dataset.size()).
  Subset(D dataset, const Tensor<std::int64_t, 1>& indices)
      : dataset_(std::forward<D>(dataset)), indices_(indices.clone()) {
    const index_t n = static_cast<index_t>(dataset_.size());
    const std::int64_t* p = indices_.data();
    for (index_t k = 0; k < indices_.numel(); ++k)
      PRETEXT_CHECK(p[k] >= 0 && p[k] < n, index_error, "pretext::data::Subset: index ", p[k],
                    " at position ", k, " is out of range for a dataset of ", n,
                    " samples; indices must lie in [0, ", n, ")");
  }

  index_t size() const noexcept { return indices_.numel(); }

  decltype(auto) get(index_t k, Generator& g) const {
    detail::check_sample_index(k, size(), "pretext::data::Subset::get");
    return detail::get_sample(dataset_, indices_.data()[k], g);
  }

  const base_type& dataset() const noexcept { return dataset_; }
  /// The indices into dataset(), (K).
  const Tensor<std::int64_t, 1>& indices() const noexcept { return indices_; }

 private:
  D dataset_;
  Tensor<std::int64_t, 1> indices_;
};

template <class D>
Subset(D&&, const Tensor<std::int64_t, 1>&) -> Subset<detail::stored_dataset_t<D>>;

/// A Subset of ds at `indices` (K); keeps a reference when ds is an lvalue.
template <class D>
requires Dataset<std::remove_cvref_t<D>>
auto subset(D&& ds, const Tensor<std::int64_t, 1>& indices) {
  return Subset<detail::stored_dataset_t<D>>(std::forward<D>(ds), indices);
}

namespace detail {

/// F maps a sample of type S (as get returns it) to a new one, with or without the Generator.
template <class F, class S>
concept sample_transform = std::invocable<const F&, S, Generator&> || std::invocable<const F&, S>;

}  // namespace detail

/// Each sample of another dataset passed through f: sample i is f(dataset[i], g), with g the
/// sample's generator (after the dataset's own draws, if any), or f(dataset[i]) when f takes no
/// generator. f is called const and from the loader's background thread: keep it free of shared
/// mutable state. D is the stored type, as for Subset.
template <class D, class F>
requires Dataset<std::remove_cvref_t<D>> &&
    detail::sample_transform<F, detail::get_result_t<std::remove_cvref_t<D>>>
class Mapped {
 public:
  using base_type = std::remove_cvref_t<D>;

  Mapped(D dataset, F f) : dataset_(std::forward<D>(dataset)), f_(std::move(f)) {}

  index_t size() const noexcept { return static_cast<index_t>(dataset_.size()); }

  auto get(index_t i, Generator& g) const {
    using In = detail::get_result_t<base_type>;
    if constexpr (std::invocable<const F&, In, Generator&>) {
      static_assert(!std::is_void_v<std::invoke_result_t<const F&, In, Generator&>>,
                    "pretext::data::map: the transform must return the new sample");
      return f_(detail::get_sample(dataset_, i, g), g);
    } else {
      static_assert(!std::is_void_v<std::invoke_result_t<const F&, In>>,
                    "pretext::data::map: the transform must return the new sample");
      return f_(detail::get_sample(dataset_, i, g));
    }
  }

  const base_type& dataset() const noexcept { return dataset_; }
  const F& transform() const noexcept { return f_; }

 private:
  D dataset_;
  F f_;
};

template <class D, class F>
Mapped(D&&, F) -> Mapped<detail::stored_dataset_t<D>, F>;

/// ds with f applied to every sample (per-sample augmentation): f(sample, Generator&) -> new
/// sample, or f(sample) -> new sample. Keeps a reference when ds is an lvalue.
template <class D, class F>
requires Dataset<std::remove_cvref_t<D>>
auto map(D&& ds, F f) {
  return Mapped<detail::stored_dataset_t<D>, F>(std::forward<D>(ds), std::move(f));
}

}  // namespace pretext::data
