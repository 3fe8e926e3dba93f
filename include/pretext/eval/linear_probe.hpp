// SPDX-License-Identifier: Apache-2.0
// The linear probe: multinomial logistic regression on frozen, standardised (optionally first
// power-normalised, ProbeOptions::power) features, fitted full-batch with L-BFGS, with the
// weight decay chosen on a seeded validation split. The standard judge of a pre-trained encoder
// (SimCLR, BYOL, MAE report it). fit_linear_probe returns the fitted probe (its standardisation
// and model); linear_probe fits and scores it.
//
//   x (N, D) features, y (N) int64 labels in [0, C), weight W (C, D), bias b (C),
//   logits Z = x W^T + b (N, C).
//   loss(W, b) = mean_i [logsumexp(Z_i) - Z_i,y_i] + wd / 2 * ||W||^2   (no decay on b)
//   dloss/dW = G^T x + wd W,  dloss/db = sum_i G_i,  G = (softmax(Z) - onehot(y)) / N  (N, C)
//
// Each evaluation reads x once (backend/cpu/logistic.hpp: logits, softmax and G^T x block by
// block while the rows are in cache) up to 32 classes, and runs two GEMMs beyond.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "pretext/backend/cpu/logistic.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/eval/features.hpp"
#include "pretext/eval/labels.hpp"
#include "pretext/eval/lbfgs.hpp"
#include "pretext/ops/matmul.hpp"
#include "pretext/ops/reduce.hpp"
#include "pretext/ops/rowwise.hpp"

namespace pretext::eval {

namespace probe_detail {

/// Classes up to which logistic_loss_grad takes the one-pass kernel (backend/cpu/logistic.hpp):
/// it reads all of the weight for every 8 rows, which two GEMMs beat when C is large.
inline constexpr index_t fused_max_classes = 32;

/// The mean cross-entropy of x w^T + b and, when gw and gb are non-null, its gradients (without
/// decay) by two GEMMs: Z = x w^T (N, C), then G^T x. All contiguous, shapes checked by the
/// caller, gw and gb already of the right shape.
template <floating T>
double softmax_xent_two_gemms(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y,
                              const Tensor<T, 2>& w, const Tensor<T, 1>& b, Tensor<T, 2>* gw,
                              Tensor<T, 1>* gb) {
  const index_t N = x.size(0), C = w.size(0);
  const auto Z = linear(x, w, &b);  // (N, C), contiguous
  Tensor<T, 2> G;
  if (gw) G = Tensor<T, 2>(Shape<2>{N, C});
  // Per-row losses land in their own slots and are summed in order afterwards, so the result
  // does not depend on how parallel_for splits the rows.
  std::vector<double> row_loss(static_cast<std::size_t>(N));
  const std::int64_t* yl = y.data();
  const double inv_n = 1.0 / static_cast<double>(N);
  parallel_for(
      0, N, std::max<index_t>(1, 2048 / std::max<index_t>(C, 1)), [&](index_t lo, index_t hi) {
        std::vector<double> e(static_cast<std::size_t>(C));
        for (index_t i = lo; i < hi; ++i) {
          const T* z = Z.data() + i * C;
          double m = -std::numeric_limits<double>::infinity();
          for (index_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(z[c]));
          double s = 0;
          for (index_t c = 0; c < C; ++c) {
            e[static_cast<std::size_t>(c)] = std::exp(static_cast<double>(z[c]) - m);
            s += e[static_cast<std::size_t>(c)];
          }
          const std::int64_t t = yl[i];
          row_loss[static_cast<std::size_t>(i)] = m + std::log(s) - static_cast<double>(z[t]);
          if (!gw) continue;
          T* gr = G.data() + i * C;
          for (index_t c = 0; c < C; ++c)
            gr[c] =
                static_cast<T>((e[static_cast<std::size_t>(c)] / s - (c == t ? 1.0 : 0.0)) * inv_n);
        }
      });
  double loss = 0;
  for (double v : row_loss) loss += v;
  if (!gw) return loss * inv_n;
  matmul_out(*gw, G.t(), x);  // (C, N) x (N, D) -> (C, D)
  std::vector<double> sum(static_cast<std::size_t>(C), 0.0);
  for (index_t i = 0; i < N; ++i)
    for (index_t c = 0; c < C; ++c)
      sum[static_cast<std::size_t>(c)] += static_cast<double>(G.data()[i * C + c]);
  for (index_t c = 0; c < C; ++c) gb->data()[c] = static_cast<T>(sum[static_cast<std::size_t>(c)]);
  return loss * inv_n;
}

}  // namespace probe_detail

/// The objective and its gradient (see the top of the file), in double whatever T is; the
/// gradients are written to *grad_weight (C, D) and *grad_bias (C) when those are non-null
/// (reused when they already have the right shape). Exposed for gradient checks and for
/// optimisers other than L-BFGS. Up to 32 classes it reads x once per call
/// (cpu::softmax_xent_fused; `workspace` keeps its scratch between calls), beyond that it runs
/// two GEMMs; either way the result does not depend on the thread count.
///
/// Throws shape_error when the shapes disagree, config_error for a label outside [0, C).
template <floating T>
double logistic_loss_grad(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y,
                          const Tensor<T, 2>& weight, const Tensor<T, 1>& bias, double weight_decay,
                          Tensor<T, 2>* grad_weight = nullptr, Tensor<T, 1>* grad_bias = nullptr,
                          cpu::SoftmaxXentWorkspace<T>* workspace = nullptr) {
  check_rows_match(x, y, "logistic_loss_grad", "the");
  PRETEXT_CHECK(weight.size(1) == x.size(1) && bias.size(0) == weight.size(0), shape_error,
                "pretext::eval::logistic_loss_grad: x is ",
                pretext::detail::shape_string(x.shape()), ", weight ",
                pretext::detail::shape_string(weight.shape()), ", bias ",
                pretext::detail::shape_string(bias.shape()),
                "; weight must be (C, D) with D = x's width and bias (C)");
  const index_t N = x.size(0), C = weight.size(0);
  PRETEXT_CHECK(N >= 1, config_error,
                "pretext::eval::logistic_loss_grad: no examples (x is [0, D]); the mean loss "
                "needs at least one");
  check_labels(y, C, "logistic_loss_grad", "a");
  const auto xc = x.contiguous();
  const auto yc = y.contiguous();
  const auto wc = weight.contiguous();
  const auto bc = bias.contiguous();
  const bool want_grad = grad_weight || grad_bias;
  Tensor<T, 2> gw_unused;
  Tensor<T, 1> gb_unused;
  Tensor<T, 2>& gw = grad_weight ? *grad_weight : gw_unused;
  Tensor<T, 1>& gb = grad_bias ? *grad_bias : gb_unused;
  if (want_grad) {
    if (!gw.defined() || gw.shape() != weight.shape() || !gw.is_contiguous())
      gw = Tensor<T, 2>(weight.shape());
    if (!gb.defined() || gb.size(0) != C || !gb.is_contiguous()) gb = Tensor<T, 1>(Shape<1>{C});
  }
  double loss = C <= probe_detail::fused_max_classes
                    ? cpu::softmax_xent_fused(xc.data(), N, x.size(1), yc.data(), wc.data(),
                                              bc.data(), C, want_grad ? gw.data() : nullptr,
                                              want_grad ? gb.data() : nullptr, workspace)
                    : probe_detail::softmax_xent_two_gemms(
                          xc, yc, wc, bc, want_grad ? &gw : nullptr, want_grad ? &gb : nullptr);
  double w2 = 0;
  for (index_t j = 0; j < wc.numel(); ++j) {
    const double v = static_cast<double>(wc.data()[j]);
    w2 += v * v;
  }
  loss += 0.5 * weight_decay * w2;
  if (want_grad && weight_decay != 0) {
    const T wd = static_cast<T>(weight_decay);
    T* g = gw.data();
    for (index_t j = 0; j < wc.numel(); ++j) g[j] += wd * wc.data()[j];
  }
  return loss;
}

struct LogisticOptions {
  double weight_decay = 0;  ///< wd in loss = mean CE + wd / 2 ||W||^2
  int max_iter = 200;       ///< L-BFGS iterations
  double tolerance = 1e-5;  ///< stop when max |gradient| <= tolerance
  int history = 10;         ///< L-BFGS memory
  index_t num_classes = 0;  ///< C; 0: 1 + the largest label given to fit()
  bool warm_start = false;  ///< start fit() from the current parameters when their shape fits
};

/// Multinomial logistic regression (softmax regression), fitted with L-BFGS. It does not
/// standardise its inputs: linear_probe does that, or see fit_standardizer.
template <floating T = float>
class LogisticRegression {
 public:
  LogisticRegression() = default;
  explicit LogisticRegression(const LogisticOptions& options) : options_(options) {}

  LogisticOptions& options() noexcept { return options_; }
  const LogisticOptions& options() const noexcept { return options_; }

  /// Fits W (C, D) and b (C) to x (N, D) and labels y (N); returns how L-BFGS ended.
  LbfgsResult fit(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y) {
    check_rows_match(x, y, "LogisticRegression::fit", "the");
    PRETEXT_CHECK(x.size(0) >= 1, config_error,
                  "pretext::eval::LogisticRegression::fit: no examples (x is ",
                  pretext::detail::shape_string(x.shape()), ")");
    PRETEXT_CHECK(options_.weight_decay >= 0 && std::isfinite(options_.weight_decay), config_error,
                  "pretext::eval::LogisticRegression::fit: weight_decay ", options_.weight_decay,
                  " must be finite and >= 0");
    const index_t C = options_.num_classes > 0
                          ? options_.num_classes
                          : std::max<index_t>(count_classes(y, "LogisticRegression::fit"), 1);
    check_labels(y, C, "LogisticRegression::fit", "a");
    const index_t D = x.size(1);
    const bool warm =
        options_.warm_start && fitted() && weight_.size(0) == C && weight_.size(1) == D;
    std::vector<double> theta(static_cast<std::size_t>(C * D + C), 0.0);
    if (warm) {
      for (index_t j = 0; j < C * D; ++j)
        theta[static_cast<std::size_t>(j)] = static_cast<double>(weight_.data()[j]);
      for (index_t c = 0; c < C; ++c)
        theta[static_cast<std::size_t>(C * D + c)] = static_cast<double>(bias_.data()[c]);
    }
    weight_ = Tensor<T, 2>(Shape<2>{C, D});
    bias_ = Tensor<T, 1>(Shape<1>{C});
    const auto xc = x.contiguous();
    const auto yc = y.contiguous();
    Tensor<T, 2> gw;
    Tensor<T, 1> gb;
    cpu::SoftmaxXentWorkspace<T> workspace;
    auto fg = [&](const std::vector<double>& th, std::vector<double>& g) {
      load(th);
      const double f =
          logistic_loss_grad(xc, yc, weight_, bias_, options_.weight_decay, &gw, &gb, &workspace);
      for (index_t j = 0; j < C * D; ++j)
        g[static_cast<std::size_t>(j)] = static_cast<double>(gw.data()[j]);
      for (index_t c = 0; c < C; ++c)
        g[static_cast<std::size_t>(C * D + c)] = static_cast<double>(gb.data()[c]);
      return f;
    };
    LbfgsOptions lo;
    lo.max_iter = options_.max_iter;
    lo.history = options_.history;
    lo.gtol = options_.tolerance;
    // The logits are computed in T: f is only as exact as T (see LbfgsOptions::fepsilon).
    lo.fepsilon = std::is_same_v<T, float> ? 1e-6 : 1e-10;
    const auto res = lbfgs_minimize(fg, theta, lo);
    load(theta);
    return res;
  }

  /// Logits x W^T + b (N, C).
  Tensor<T, 2> decision_function(const Tensor<T, 2>& x) const {
    check_fitted("decision_function");
    PRETEXT_CHECK(
        x.size(1) == weight_.size(1), shape_error, "pretext::eval::LogisticRegression: x is ",
        pretext::detail::shape_string(x.shape()), " but the model was fitted on ", weight_.size(1),
        " features (weight ", pretext::detail::shape_string(weight_.shape()), ")");
    return linear(x, weight_, &bias_);
  }
  /// Class probabilities (N, C).
  Tensor<T, 2> predict_proba(const Tensor<T, 2>& x) const {
    return softmax(decision_function(x), 1);
  }
  /// The most probable class of each row (N); ties go to the lower class id.
  Tensor<std::int64_t, 1> predict(const Tensor<T, 2>& x) const {
    return argmax(decision_function(x), 1);
  }
  /// Accuracy of predict(x) against y.
  double score(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y) const {
    check_rows_match(x, y, "LogisticRegression::score", "the");
    return accuracy(predict(x), y);
  }

  bool fitted() const noexcept { return weight_.defined(); }
  const Tensor<T, 2>& weight() const noexcept { return weight_; }  ///< (C, D)
  const Tensor<T, 1>& bias() const noexcept { return bias_; }      ///< (C)
  index_t num_classes() const noexcept { return weight_.size(0); }

  /// Sets the parameters (copied): a warm start, or a model fitted elsewhere.
  void set_parameters(const Tensor<T, 2>& weight, const Tensor<T, 1>& bias) {
    PRETEXT_CHECK(bias.size(0) == weight.size(0), shape_error,
                  "pretext::eval::LogisticRegression::set_parameters: weight ",
                  pretext::detail::shape_string(weight.shape()), " and bias ",
                  pretext::detail::shape_string(bias.shape()), " need the same number of classes");
    weight_ = weight.clone();
    bias_ = bias.clone();
  }

 private:
  void load(const std::vector<double>& th) {
    const index_t C = weight_.size(0), D = weight_.size(1);
    for (index_t j = 0; j < C * D; ++j)
      weight_.data()[j] = static_cast<T>(th[static_cast<std::size_t>(j)]);
    for (index_t c = 0; c < C; ++c)
      bias_.data()[c] = static_cast<T>(th[static_cast<std::size_t>(C * D + c)]);
  }
  void check_fitted(const char* op) const {
    PRETEXT_CHECK(fitted(), config_error, "pretext::eval::LogisticRegression::", op,
                  ": the model is not fitted; call fit() or set_parameters() first");
  }

  LogisticOptions options_;
  Tensor<T, 2> weight_;
  Tensor<T, 1> bias_;
};

struct ProbeOptions {
  /// Candidates for wd; with more than one, the best on the validation split is used.
  std::vector<double> weight_decays = {0, 1e-6, 1e-5, 1e-4, 1e-3};
  double val_fraction = 0.1;  ///< of each class of the training set, for choosing wd
  int max_iter = 200;         ///< L-BFGS iterations per fit
  std::uint64_t seed = 0;     ///< of the validation split
  index_t num_classes = 0;    ///< C; 0: 1 + the largest label in train_y and test_y
  double tolerance = 1e-5;    ///< L-BFGS gradient tolerance (max |g|)
  int history = 10;           ///< L-BFGS memory
  bool standardize = true;    ///< standardise with the training features' mean and std
  /// Signed power normalisation sign(f) |f|^power of the features before standardising (see
  /// eval::signed_power); 1: off. 0.5 gained 0.4-1.8 points at 1% labels on the Fashion-MNIST
  /// demo's feature sets (README). A probe with power != 1 is not linear in raw features
  /// (probe_as_linear throws).
  double power = 1;
};

struct ProbeResult {
  double accuracy = 0;                 ///< on the test set, of the final fit
  double weight_decay = 0;             ///< the wd used for the final fit
  double val_accuracy = std::nan("");  ///< of the chosen wd (NaN when nothing was chosen)
  int iterations = 0;                  ///< L-BFGS iterations of the final fit
  bool converged = false;              ///< whether the final fit met the tolerance
  double train_accuracy = 0;           ///< of the final fit on all training examples
  double train_loss = 0;               ///< its objective (mean CE + decay)
  index_t num_classes = 0;
  std::vector<double> val_accuracies;  ///< one per candidate, in weight_decays' order
  index_t val_size = 0;                ///< examples in the validation split (0: none)
};

/// A linear probe fitted by fit_linear_probe: the power normalisation and standardisation it
/// applies, the model fitted on their output, and how the weight decay was chosen. Its predict
/// and score take raw features (N, D); eval::probe_as_linear folds a probe without power
/// normalisation into one nn::Linear (LP-FT's head).
template <floating T>
struct LinearProbe {
  Standardizer<T> standardizer;  ///< mean and std of the (power-normalised) training features
  LogisticRegression<T> model;   ///< fitted on standardizer.transform(signed_power(train, power))
  ProbeResult result;            ///< accuracy is NaN: fit_linear_probe sees no test set
  double power = 1;              ///< ProbeOptions::power (1: none)

  /// What the model sees of raw features x (N, D): power-normalised, then standardised.
  Tensor<T, 2> transform(const Tensor<T, 2>& x) const {
    return standardizer.transform(power == 1 ? x : signed_power(x, power));
  }
  /// Logits (N, C) of raw features x (N, D).
  Tensor<T, 2> decision_function(const Tensor<T, 2>& x) const {
    return model.decision_function(transform(x));
  }
  /// Class of each row (N); ties go to the lower class id.
  Tensor<std::int64_t, 1> predict(const Tensor<T, 2>& x) const {
    return argmax(decision_function(x), 1);
  }
  /// Accuracy of predict(x) against y.
  double score(const Tensor<T, 2>& x, const Tensor<std::int64_t, 1>& y) const {
    check_rows_match(x, y, "LinearProbe::score", "the");
    return accuracy(predict(x), y);
  }
};

namespace probe_detail {

inline void check_options(const ProbeOptions& options, const char* op) {
  const auto& wds = options.weight_decays;
  PRETEXT_CHECK(!wds.empty(), config_error, "pretext::eval::", op,
                ": weight_decays is empty; give at least one (0 for none)");
  for (double wd : wds)
    PRETEXT_CHECK(wd >= 0 && std::isfinite(wd), config_error, "pretext::eval::", op,
                  ": weight decay ", wd, " must be finite and >= 0");
  PRETEXT_CHECK(options.val_fraction >= 0 && options.val_fraction < 1, config_error,
                "pretext::eval::", op, ": val_fraction ", options.val_fraction,
                " must be in [0, 1)");
  PRETEXT_CHECK(wds.size() == 1 || options.val_fraction > 0, config_error, "pretext::eval::", op,
                ": ", wds.size(),
                " weight decays but val_fraction is 0; choosing one needs a validation split, "
                "or give a single weight decay");
  PRETEXT_CHECK(std::isfinite(options.power) && options.power > 0, config_error,
                "pretext::eval::", op, ": power ", options.power,
                " must be finite and > 0 (1: no power normalisation; 0.5: signed square root)");
}

/// mean 0, scale 1: what the probe applies when options.standardize is false.
template <floating T>
Standardizer<T> identity_standardizer(index_t D) {
  return Standardizer<T>{Tensor<T, 1>::zeros(Shape<1>{D}), Tensor<T, 1>::ones(Shape<1>{D})};
}

/// fit_linear_probe's work, its errors naming `op` (the function the user called). With
/// test_y, C counts its labels too and they are checked before any fit.
template <floating T>
LinearProbe<T> fit(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                   const ProbeOptions& options, const char* op,
                   const Tensor<std::int64_t, 1>* test_y = nullptr) {
  check_rows_match(train_x, train_y, op, "train");
  check_options(options, op);
  PRETEXT_CHECK(train_x.size(0) >= 1, config_error, "pretext::eval::", op,
                ": no training examples (train features are ",
                pretext::detail::shape_string(train_x.shape()), ")");
  index_t C = options.num_classes;
  if (C <= 0) {
    C = std::max<index_t>(count_classes(train_y, op), 1);
    if (test_y) C = std::max(C, count_classes(*test_y, op));
  }
  check_labels(train_y, C, op, "train");
  if (test_y) check_labels(*test_y, C, op, "test");

  LinearProbe<T> out;
  out.power = options.power;
  // What the model is fitted on (N, D); the power-normalised copy is dropped once standardised,
  // so that all labels of a wide feature set do not hold three copies at once.
  const Tensor<T, 2> xs = [&] {
    const Tensor<T, 2> xp = options.power != 1 ? signed_power(train_x, options.power) : train_x;
    if (!options.standardize) {
      out.standardizer = identity_standardizer<T>(train_x.size(1));
      return xp;
    }
    out.standardizer = fit_standardizer(xp);
    return out.standardizer.transform(xp);
  }();
  ProbeResult& r = out.result;
  r.accuracy = std::nan("");
  r.num_classes = C;
  LogisticOptions lo;
  lo.max_iter = options.max_iter;
  lo.tolerance = options.tolerance;
  lo.history = options.history;
  lo.num_classes = C;
  lo.warm_start = true;
  LogisticRegression<T>& model = out.model;
  model.options() = lo;

  // Candidates from the largest wd down (stable for equal values).
  const auto& wds = options.weight_decays;
  std::vector<std::size_t> order(wds.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return wds[a] > wds[b]; });
  r.weight_decay = wds[order.front()];

  if (wds.size() > 1) {
    const auto split = stratified_split(train_y, options.val_fraction, options.seed);
    r.val_size = split.second.size(0);
    if (r.val_size > 0) {
      const auto x_fit = data::take_rows(xs, split.first),
                 x_val = data::take_rows(xs, split.second);
      const auto y_fit = data::take_rows(train_y, split.first),
                 y_val = data::take_rows(train_y, split.second);
      r.val_accuracies.assign(wds.size(), 0.0);
      std::size_t best = order.front();
      Tensor<T, 2> best_w;
      Tensor<T, 1> best_b;
      for (std::size_t i : order) {
        model.options().weight_decay = wds[i];
        model.fit(x_fit, y_fit);
        r.val_accuracies[i] = model.score(x_val, y_val);
        // Strictly better only: on ties the larger wd, met first, stays.
        if (i == order.front() || r.val_accuracies[i] > r.val_accuracies[best]) {
          best = i;
          best_w = model.weight().clone();
          best_b = model.bias().clone();
        }
      }
      r.weight_decay = wds[best];
      r.val_accuracy = r.val_accuracies[best];
      model.set_parameters(best_w, best_b);
    }
  }

  model.options().weight_decay = r.weight_decay;
  const auto fitted = model.fit(xs, train_y);
  r.iterations = fitted.iterations;
  r.converged = fitted.converged();
  r.train_loss = fitted.f;
  r.train_accuracy = model.score(xs, train_y);
  return out;
}

}  // namespace probe_detail

/// Fits a linear probe on features train_x (N, D) and labels train_y (N): power-normalise when
/// options.power != 1, standardise with the training statistics; when several weight decays are
/// given, fit each on a seeded class-stratified split of train (val_fraction of each class held
/// out; a class with one example stays in training) and keep the best by validation accuracy (ties:
/// the larger wd); then refit on all of train with that wd.
///
/// Fits run from the largest wd to the smallest, each starting from the previous solution (a
/// regularisation path: later fits start close to their optimum), and the final fit starts from
/// the chosen one; so the result depends only on the data and the options. When the validation
/// split would be empty (a handful of examples), the largest wd is used without selection.
///
/// Throws shape_error when features and labels disagree in count, config_error for bad options
/// or labels.
template <floating T>
LinearProbe<T> fit_linear_probe(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                                const ProbeOptions& options = {}) {
  return probe_detail::fit(train_x, train_y, options, "fit_linear_probe");
}

/// Linear-probe accuracy of features: fit_linear_probe on (train_x, train_y), then its accuracy
/// on (test_x, test_y) (NaN for an empty test set); C counts the test labels too. Use
/// fit_linear_probe to keep the probe.
///
/// Throws shape_error when features and labels disagree in count or train and test in width
/// (both shapes in the message), config_error for bad options or labels.
template <floating T>
ProbeResult linear_probe(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                         const Tensor<T, 2>& test_x, const Tensor<std::int64_t, 1>& test_y,
                         const ProbeOptions& options = {}) {
  check_rows_match(train_x, train_y, "linear_probe", "train");
  check_rows_match(test_x, test_y, "linear_probe", "test");
  check_widths_match(train_x, test_x, "linear_probe");
  const auto probe = probe_detail::fit(train_x, train_y, options, "linear_probe", &test_y);
  ProbeResult r = probe.result;
  r.accuracy = test_x.size(0) > 0 ? probe.score(test_x, test_y) : std::nan("");
  return r;
}

}  // namespace pretext::eval
