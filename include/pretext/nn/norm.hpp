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
    // Channels last as rows of a matrix: (M, C) with M = B * L or B * H * W.
    std::array<int, R> order{}, inverse{};
    order[0] = 0;
    for (int i = 1; i < R - 1; ++i) order[i] = i + 1;
    order[R - 1] = 1;
    for (int i = 0; i < R; ++i) inverse[order[i]] = i;
    const Var<T, R> xl = R == 2 ? x : permute(x, order);
    std::array<index_t, R> shape_l{};
    for (int i = 0; i < R; ++i) shape_l[i] = xl.size(i);
    const Var<T, 2> rows = reshape(xl, std::array<index_t, 2>{x.numel() / c_, c_});

    Var<T, 2> y;
    if (this->is_training()) {
      const index_t m = rows.size(0);
      PRETEXT_CHECK(m > 1, shape_error, "pretext::nn::BatchNorm: training needs more than one ",
                    "value per channel; input of shape ", pretext::detail::shape_string(x.shape()),
                    " has ", m);
      const Var<T, 1> mu = mean(rows, 0);
      const Var<T, 1> var_b = var(rows, 0, /*correction=*/0);
      y = (rows - mu) * rsqrt(var_b + static_cast<T>(eps));
      // Running statistics see the unbiased variance, outside the graph.
      const T mom = static_cast<T>(momentum);
      const T unbias = static_cast<T>(m) / static_cast<T>(m - 1);
      running_mean.copy_(running_mean * (T(1) - mom) + mu.data() * mom);
      running_var.copy_(running_var * (T(1) - mom) + var_b.data() * (mom * unbias));
    } else {
      const Tensor<T, 1> scale = rsqrt(running_var + static_cast<T>(eps));
      y = (rows - running_mean) * scale;
    }
    if (weight.defined()) y = y * weight + bias;
    const Var<T, R> yl = reshape(y, shape_l);
    return R == 2 ? yl : permute(yl, inverse);
  }

  Var<T, 1> weight, bias;  ///< (C) each; undefined without affine
  double eps, momentum;
  Tensor<T, 1> running_mean, running_var;  ///< (C) each
};

}  // namespace pretext::nn
