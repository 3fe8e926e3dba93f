// SPDX-License-Identifier: Apache-2.0
// Features of a frozen encoder, and their standardisation: the first step of every evaluation
// (linear probe, kNN) of a pre-trained encoder.
//
//   extract_features(encoder, x (N, ...), batch) -> (N, D): encoder(Var<T, R>) -> Var<U, 2>
//   run over x's first axis in batches of B rows, without recording a graph, in eval mode.
//   fit_standardizer(train (N, D)) -> per-column mean and scale (D); standardize(train, test);
//   signed_power(x (N, D), p) -> sign(x) |x|^p (N, D).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/autograd/grad_mode.hpp"
#include "pretext/autograd/variable.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/nn/module.hpp"

namespace pretext::eval {

/// Something with PyTorch's mode switches: train(bool), eval() and is_training(). nn::Module
/// provides all three; a plain function or lambda has none and is run as it is.
template <class E>
concept has_train_mode = requires(E& e, const E& ce) {
  e.train(true);
  e.eval();
  { ce.is_training() } -> std::convertible_to<bool>;
};

namespace detail {

/// Puts an encoder in evaluation mode for its scope and puts back every mode it had, also when
/// the encoder throws. For an nn::Module the mode of each module in the tree is remembered (a
/// user may have frozen batch norm inside a training model; a blanket train() afterwards would
/// undo that); for anything else with train()/eval() only the top-level mode is.
template <class E>
class EvalModeScope {
 public:
  explicit EvalModeScope(E& e) : e_(e) {
    if constexpr (nn::module<E>) {
      nn::detail::walk(e_, nn::detail::Ignore{}, nn::detail::Ignore{},
                       [this](const std::string&, auto& m) { modes_.push_back(m.is_training()); });
    } else if constexpr (has_train_mode<E>) {
      modes_.push_back(static_cast<bool>(e_.is_training()));
    }
    if constexpr (has_train_mode<E>) e_.eval();
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;
  ~EvalModeScope() {
    if constexpr (nn::module<E>) {
      // The walk visits modules in the same order as in the constructor.
      std::size_t i = 0;
      nn::detail::walk(e_, nn::detail::Ignore{}, nn::detail::Ignore{},
                       [&](const std::string&, auto& m) {
                         if (i < modes_.size()) m.set_mode_(modes_[i]);
                         ++i;
                       });
    } else if constexpr (has_train_mode<E>) {
      e_.train(modes_.front());
    }
  }

 private:
  E& e_;
  std::vector<bool> modes_;
};

template <class X>
struct feature_output {
  static constexpr bool ok = false;
};
template <class U>
struct feature_output<Var<U, 2>> {
  static constexpr bool ok = true;
  using value_type = U;
  static const Tensor<U, 2>& tensor(const Var<U, 2>& v) { return v.data(); }
};
template <class U>
struct feature_output<Tensor<U, 2>> {
  static constexpr bool ok = true;
  using value_type = U;
  static const Tensor<U, 2>& tensor(const Tensor<U, 2>& t) { return t; }
};

}  // namespace detail

/// Runs `encoder` over x (N, ...) in batches of `batch_size` rows along the first axis and
/// stacks the outputs into features (N, D).
///
/// encoder is any callable taking Var<T, R> (B, ...) and returning Var<U, 2> (B, D) (or a plain
/// Tensor<U, 2>); the result has U's element type. Nothing is recorded for backward (NoGrad).
/// When the encoder has train()/eval()/is_training() (every nn::Module does), it runs in eval
/// mode (dropout off, batch norm on running statistics) and its previous modes are restored
/// afterwards, also if it throws. The last batch may be smaller.
///
/// Throws config_error for batch_size < 1 or an empty x, shape_error when a batch's output does
/// not have B rows or its width changes between batches.
template <class Encoder, floating T, int R>
requires(R >= 1) auto extract_features(Encoder&& encoder, const Tensor<T, R>& x,
                                       index_t batch_size = 256) {
  using E = std::remove_reference_t<Encoder>;
  using Out = std::remove_cvref_t<std::invoke_result_t<E&, Var<T, R>>>;
  using Traits = detail::feature_output<Out>;
  static_assert(Traits::ok,
                "pretext::eval::extract_features: the encoder must return Var<U, 2> or "
                "Tensor<U, 2> (B, D); flatten or pool its output first");
  using U = typename Traits::value_type;
  PRETEXT_CHECK(batch_size >= 1, config_error, "pretext::eval::extract_features: batch_size ",
                batch_size, " must be at least 1");
  const index_t n = x.size(0);
  PRETEXT_CHECK(n >= 1, config_error, "pretext::eval::extract_features: x of shape ",
                pretext::detail::shape_string(x.shape()),
                " has no rows; features need at least one example");

  NoGrad no_grad;
  detail::EvalModeScope<E> mode(encoder);
  E& enc = encoder;
  Tensor<U, 2> out;
  for (index_t start = 0; start < n; start += batch_size) {
    const index_t b = std::min(batch_size, n - start);
    const auto y = enc(Var<T, R>(x.narrow(0, start, b).contiguous()));
    const Tensor<U, 2>& f = Traits::tensor(y);
    if (!out.defined()) out = Tensor<U, 2>(Shape<2>{n, f.size(1)});
    PRETEXT_CHECK(f.size(0) == b && f.size(1) == out.size(1), shape_error,
                  "pretext::eval::extract_features: the encoder returned ",
                  pretext::detail::shape_string(f.shape()), " for a batch of input shape ",
                  pretext::detail::shape_string(x.narrow(0, start, b).shape()), "; expected ",
                  pretext::detail::shape_string(Shape<2>{b, out.size(1)}),
                  " (one row per example, the same width for every batch)");
    out.narrow(0, start, b).copy_(f);
  }
  return out;
}

/// Per-column affine map fitted on training features: x -> (x - mean) / scale.
template <floating T>
struct Standardizer {
  Tensor<T, 1> mean;   ///< (D)
  Tensor<T, 1> scale;  ///< (D): the standard deviation, or 1 for a (near-)constant column

  /// (N, D) -> (N, D), a new tensor. Throws shape_error when x's width is not D.
  Tensor<T, 2> transform(const Tensor<T, 2>& x) const {
    const index_t D = mean.size(0);
    PRETEXT_CHECK(x.size(1) == D, shape_error, "pretext::eval::Standardizer::transform: x is ",
                  pretext::detail::shape_string(x.shape()), " but the statistics are for ", D,
                  " features (fitted on [N, ", D, "]); give features of the same encoder");
    const auto xc = x.contiguous();
    Tensor<T, 2> out(x.shape());
    const T* mu = mean.data();
    std::vector<T> inv(static_cast<std::size_t>(D));
    for (index_t j = 0; j < D; ++j) inv[static_cast<std::size_t>(j)] = T(1) / scale.data()[j];
    parallel_for(0, x.size(0), std::max<index_t>(1, 4096 / std::max<index_t>(D, 1)),
                 [&](index_t lo, index_t hi) {
                   for (index_t i = lo; i < hi; ++i) {
                     const T* in = xc.data() + i * D;
                     T* o = out.data() + i * D;
                     for (index_t j = 0; j < D; ++j)
                       o[j] = (in[j] - mu[j]) * inv[static_cast<std::size_t>(j)];
                   }
                 });
    return out;
  }
};

/// Mean and population standard deviation (divides by N, as sklearn's StandardScaler) of each
/// column of train (N, D), accumulated in double. A column whose standard deviation is below
/// min_std gets scale 1 rather than min_std: such a column is constant on the training set
/// (a border pixel that is always 0), and dividing a test value that differs by 1e-6 would turn
/// noise into a feature a million times larger than the others.
template <floating T>
Standardizer<T> fit_standardizer(const Tensor<T, 2>& train, double min_std = 1e-6) {
  const index_t n = train.size(0), D = train.size(1);
  PRETEXT_CHECK(n >= 1, config_error, "pretext::eval::fit_standardizer: train of shape ",
                pretext::detail::shape_string(train.shape()),
                " has no rows; statistics need at least one example");
  PRETEXT_CHECK(min_std >= 0, config_error, "pretext::eval::fit_standardizer: min_std ", min_std,
                " must be >= 0");
  const auto xc = train.contiguous();
  const auto Du = static_cast<std::size_t>(D);
  std::vector<double> mu(Du, 0.0), m2(Du, 0.0);
  // Two passes (mean, then squared deviations) rather than sum of squares: no cancellation when
  // the mean is large against the spread.
  for (index_t i = 0; i < n; ++i) {
    const T* row = xc.data() + i * D;
    for (std::size_t j = 0; j < Du; ++j) mu[j] += static_cast<double>(row[j]);
  }
  for (auto& m : mu) m /= static_cast<double>(n);
  for (index_t i = 0; i < n; ++i) {
    const T* row = xc.data() + i * D;
    for (std::size_t j = 0; j < Du; ++j) {
      const double d = static_cast<double>(row[j]) - mu[j];
      m2[j] += d * d;
    }
  }
  Standardizer<T> s{Tensor<T, 1>(Shape<1>{D}), Tensor<T, 1>(Shape<1>{D})};
  for (std::size_t j = 0; j < Du; ++j) {
    const double sd = std::sqrt(m2[j] / static_cast<double>(n));
    s.mean.data()[j] = static_cast<T>(mu[j]);
    s.scale.data()[j] = static_cast<T>(sd < min_std || !std::isfinite(sd) ? 1.0 : sd);
  }
  return s;
}

/// Signed power normalisation, sign(x) |x|^p element-wise (N, D) -> (N, D), a new tensor; p = 0.5
/// is the signed square root. Features of ReLU networks are sparse and heavy-tailed (a few
/// channels fire strongly on a few images); a power below 1 compresses those bursts before a
/// linear classifier sees them (Perronnin et al. 2010 did this for Fisher vectors). p = 1 returns
/// a copy; NaN stays NaN, +-inf keeps its sign. Throws config_error unless p is finite and > 0
/// in T.
template <floating T>
Tensor<T, 2> signed_power(const Tensor<T, 2>& x, double p) {
  const T pt = static_cast<T>(p);
  PRETEXT_CHECK(std::isfinite(pt) && pt > 0, config_error, "pretext::eval::signed_power: power ", p,
                " must be finite and > 0 in the element type (0.5: the signed square root; 1: "
                "unchanged)");
  const auto xc = x.contiguous();  // a fresh copy already when x is strided
  if (p == 1) return x.is_contiguous() ? x.clone() : xc;
  Tensor<T, 2> out(x.shape());
  const T* in = xc.data();
  T* o = out.data();
  const bool half = p == 0.5;  // the common case, without pow
  parallel_for(0, xc.numel(), 16384, [&](index_t lo, index_t hi) {
    for (index_t i = lo; i < hi; ++i) {
      const T a = std::abs(in[i]);
      const T m = half ? std::sqrt(a) : std::pow(a, pt);
      o[i] = in[i] < 0 ? -m : m;
    }
  });
  return out;
}

/// Standardised copies of train (N, D) and test (M, D), both with train's statistics (never
/// test's: that would leak the test distribution into the evaluation).
template <floating T>
std::pair<Tensor<T, 2>, Tensor<T, 2>> standardize(const Tensor<T, 2>& train,
                                                  const Tensor<T, 2>& test, double min_std = 1e-6) {
  PRETEXT_CHECK(train.size(1) == test.size(1), shape_error,
                "pretext::eval::standardize: train features are ",
                pretext::detail::shape_string(train.shape()), " but test features are ",
                pretext::detail::shape_string(test.shape()),
                "; both need the same width (features of the same encoder)");
  const auto s = fit_standardizer(train, min_std);
  return {s.transform(train), s.transform(test)};
}

}  // namespace pretext::eval
