// SPDX-License-Identifier: Apache-2.0
// Normalisation layers with torch.nn's parameter names and defaults:
//   LayerNorm<D>  over the last axis; weight (D) = 1, bias (D) = 0, eps 1e-5.
//   RMSNorm<D>    x / sqrt(mean(x^2) + eps) * weight over the last axis; eps defaults to the
//                 type's machine epsilon, as torch.nn.RMSNorm(eps=None).
//   BatchNorm<C>  over every axis but the channel axis 1: (B, C), (B, C, L) or (B, C, H, W), so
//                 it is BatchNorm1d and BatchNorm2d at once. Training normalises by the batch's
//                 biased variance and updates running_mean / running_var (unbiased) with
//                 momentum 0.1; evaluation uses the running statistics.
#pragma once

#include "pretext/autograd/grad_mode.hpp"
#include "pretext/autograd/ops_batch_norm.hpp"
#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/autograd/ops_rowwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"

#include <limits>
#include <optional>

namespace pretext::nn {

namespace detail {

template <class T, int R>
void check_features(const char* layer, const Var<T, R>& x, int axis, index_t expected) {
  PRETEXT_CHECK(x.size(axis) == expected, shape_error, "pretext::nn::", layer, ": input of shape ",
                pretext::detail::shape_string(x.shape()), " has ", x.size(axis),
                (axis == R - 1 ? " features" : " channels"), " but the layer takes ", expected);
}

}  // namespace detail

template <index_t D, floating T = float>
class LayerNorm : public Module<LayerNorm<D, T>> {
  index_t d_;

 public:
  using value_type = T;
  static constexpr index_t in_width = D;
  static constexpr index_t out_width = D;

  LayerNorm() requires(D != dynamic) : LayerNorm(D) {}
  explicit LayerNorm(index_t d, double eps = 1e-5, bool affine = true, bool bias = true)
      : d_(detail::resolve_width("LayerNorm", "normalized_shape", D, d)), eps(eps) {
    if (affine) {
      weight = Var<T, 1>(Tensor<T, 1>::ones(Shape<1>{d_}), true);
      if (bias) this->bias = Var<T, 1>(Tensor<T, 1>::zeros(Shape<1>{d_}), true);
    }
  }

  template <class V>
  void visit(V& v) {
    if (weight.defined()) v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
  }

  template <int R>
  Var<T, R> operator()(const Var<T, R>& x) const requires(R >= 1) {
    detail::check_features("LayerNorm", x, R - 1, d_);
    const T e = static_cast<T>(eps);
    if (weight.defined() && bias.defined()) return layer_norm(x, weight, bias, e);
    if (weight.defined()) return layer_norm(x, weight, e);
    return layer_norm(x, e);
  }

  Var<T, 1> weight, bias;  ///< (D) each; undefined without affine / bias
  double eps;
};

template <index_t D, floating T = float>
class RMSNorm : public Module<RMSNorm<D, T>> {
  index_t d_;

 public:
  using value_type = T;
  static constexpr index_t in_width = D;
  static constexpr index_t out_width = D;

  RMSNorm() requires(D != dynamic) : RMSNorm(D) {}
  explicit RMSNorm(index_t d, std::optional<double> eps = std::nullopt, bool affine = true)
      : d_(detail::resolve_width("RMSNorm", "normalized_shape", D, d)),
        eps(eps.value_or(std::numeric_limits<T>::epsilon())) {
    if (affine) weight = Var<T, 1>(Tensor<T, 1>::ones(Shape<1>{d_}), true);
  }

  template <class V>
  void visit(V& v) {
    if (weight.defined()) v.param("weight", weight);
  }

  template <int R>
  Var<T, R> operator()(const Var<T, R>& x) const requires(R >= 1) {
    detail::check_features("RMSNorm", x, R - 1, d_);
    // y = x * rsqrt(mean(x^2, last axis) + eps) [* weight]; the (..., 1) factor broadcasts.
    const auto y = x * rsqrt(mean(square(x), R - 1, keepdim) + static_cast<T>(eps));
    return weight.defined() ? y * weight : y;
  }

  Var<T, 1> weight;  ///< (D); undefined without affine
  double eps;
};

template <index_t C, floating T = float>
class BatchNorm : public Module<BatchNorm<C, T>> {
  index_t c_;  // first: the members below are sized from it

 public:
  using value_type = T;
  static constexpr index_t in_width = C;
  static constexpr index_t out_width = C;

  BatchNorm() requires(C != dynamic) : BatchNorm(C) {}
  explicit BatchNorm(index_t c, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : c_(detail::resolve_width("BatchNorm", "num_features", C, c)),
        eps(eps),
        momentum(momentum),
        running_mean(Tensor<T, 1>::zeros(Shape<1>{c_})),
        running_var(Tensor<T, 1>::ones(Shape<1>{c_})) {
    if (affine) {
      weight = Var<T, 1>(Tensor<T, 1>::ones(Shape<1>{c_}), true);
      bias = Var<T, 1>(Tensor<T, 1>::zeros(Shape<1>{c_}), true);
    }
  }

  template <class V>
  void visit(V& v) {
    if (weight.defined()) v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
    v.buffer("running_mean", running_mean);
    v.buffer("running_var", running_var);
  }

  /// x (B, C, ...) -> the same shape.
  template <int R>
  Var<T, R> operator()(const Var<T, R>& x) const requires(R >= 2) {
    detail::check_features("BatchNorm", x, 1, c_);
    const index_t m = x.numel() / c_;  // values per channel
    PRETEXT_CHECK(!this->is_training() || m > 1, shape_error,
                  "pretext::nn::BatchNorm: training needs more than one value per channel; ",
                  "input of shape ", pretext::detail::shape_string(x.shape()), " has ", m);
    if constexpr (R >= 3) {
      // Feature maps: the channel kernels read (B, C, L) or (B, C, H, W) where it lies.
      const Var<T, 1>* g = weight.defined() ? &weight : nullptr;
      const Var<T, 1>* b = bias.defined() ? &bias : nullptr;
      if (!this->is_training())
        return batch_norm(x, running_mean, running_var, g, b, static_cast<T>(eps), false);
      const auto [mu, var_b] = batch_norm_moments(x.data());
      update_running(mu, var_b, m);
      return batch_norm(x, mu, var_b, g, b, static_cast<T>(eps), true);
    } else {
      // (B, C) rows: column reductions over contiguous rows.
      Var<T, 2> y;
      if (this->is_training()) {
        const Var<T, 1> mu = mean(x, 0);
        const Var<T, 1> var_b = var(x, 0, /*correction=*/0);
        y = (x - mu) * rsqrt(var_b + static_cast<T>(eps));
        update_running(mu.data(), var_b.data(), m);
      } else {
        const Tensor<T, 1> scale = rsqrt(running_var + static_cast<T>(eps));
        y = (x - running_mean) * scale;
      }
      if (weight.defined()) y = y * weight + bias;
      return y;
    }
  }

 private:
  // Running statistics see the unbiased variance, outside the graph.
  void update_running(const Tensor<T, 1>& mu, const Tensor<T, 1>& var_b, index_t m) const {
    const T mom = static_cast<T>(momentum);
    const T unbias = static_cast<T>(m) / static_cast<T>(m - 1);
    running_mean.copy_(running_mean * (T(1) - mom) + mu * mom);
    running_var.copy_(running_var * (T(1) - mom) + var_b * (mom * unbias));
  }

 public:
  Var<T, 1> weight, bias;  ///< (C) each; undefined without affine
  double eps, momentum;
  Tensor<T, 1> running_mean, running_var;  ///< (C) each
};

}  // namespace pretext::nn
