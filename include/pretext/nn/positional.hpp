// SPDX-License-Identifier: Apache-2.0
// Positional encodings added to tokens (B, N, D):
//   LearnedPositions  a trained table "weight" (N_max, D), truncated normal std 0.02 (ViT, BERT),
//                     whose first N rows are added.
//   sincos_1d(n, d)   fixed table (n, d): for position t and frequency w_i = 10000^(-i / (d/2)),
//                     columns [0, d/2) hold sin(t w_i) and [d/2, d) cos(t w_i) (MAE's layout).
//   sincos_2d(h, w, d) fixed table (h w, d): the first half encodes the column index, the second
//                     half the row index, each with sincos_1d of d/2 (MAE's get_2d_sincos).
//   FixedPositions    adds such a table (not trained, not saved).
#pragma once

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/module.hpp"

#include <cmath>

namespace pretext {

/// (n, d) sine-cosine table; d must be even.
template <floating T = float>
Tensor<T, 2> sincos_1d(index_t n, index_t d) {
  PRETEXT_CHECK(n > 0 && d > 0 && d % 2 == 0, config_error, "pretext::sincos_1d: needs n > 0 ",
                "and an even d > 0; got n ", n, ", d ", d);
  Tensor<T, 2> t(Shape<2>{n, d});
  const index_t half = d / 2;
  for (index_t pos = 0; pos < n; ++pos)
    for (index_t i = 0; i < half; ++i) {
      const double w = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
      t(pos, i) = static_cast<T>(std::sin(static_cast<double>(pos) * w));
      t(pos, half + i) = static_cast<T>(std::cos(static_cast<double>(pos) * w));
    }
  return t;
}

/// (h w, d) table for a grid of h rows and w columns, row-major; d must be divisible by 4.
template <floating T = float>
Tensor<T, 2> sincos_2d(index_t h, index_t w, index_t d) {
  PRETEXT_CHECK(d % 4 == 0, config_error, "pretext::sincos_2d: d ", d, " must be divisible by 4");
  const auto cols = sincos_1d<T>(w, d / 2), rows = sincos_1d<T>(h, d / 2);
  Tensor<T, 2> t(Shape<2>{h * w, d});
  for (index_t r = 0; r < h; ++r)
    for (index_t c = 0; c < w; ++c)
      for (index_t k = 0; k < d / 2; ++k) {
        t(r * w + c, k) = cols(c, k);
        t(r * w + c, d / 2 + k) = rows(r, k);
      }
  return t;
}

namespace nn {

template <floating T = float>
class LearnedPositions : public Module<LearnedPositions<T>> {
 public:
  using value_type = T;
  LearnedPositions(index_t max_len, index_t dim, Generator& g) {
    Tensor<T, 2> w(Shape<2>{max_len, dim});
    init::trunc_normal_(w, g, 0.02);
    weight = Var<T, 2>(w, true);
  }
  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
  }
  /// x (B, N, D) + weight[:N].
  Var<T, 3> operator()(const Var<T, 3>& x) const {
    PRETEXT_CHECK(x.size(1) <= weight.size(0) && x.size(2) == weight.size(1), shape_error,
                  "pretext::nn::LearnedPositions: tokens ",
                  pretext::detail::shape_string(x.shape()), " exceed the table ",
                  pretext::detail::shape_string(weight.shape()));
    return x + narrow(weight, 0, 0, x.size(1));
  }
  Var<T, 2> weight;  ///< (N_max, D)
};

template <floating T = float>
class FixedPositions : public Module<FixedPositions<T>> {
 public:
  using value_type = T;
  explicit FixedPositions(Tensor<T, 2> table) : table(std::move(table)) {}
  template <class V>
  void visit(V&) {}
  Var<T, 3> operator()(const Var<T, 3>& x) const {
    PRETEXT_CHECK(x.size(1) <= table.size(0) && x.size(2) == table.size(1), shape_error,
                  "pretext::nn::FixedPositions: tokens ", pretext::detail::shape_string(x.shape()),
                  " exceed the table ", pretext::detail::shape_string(table.shape()));
    return add(x, table.narrow(0, 0, x.size(1)));
  }
  Tensor<T, 2> table;  ///< (N_max, D)
};

}  // namespace nn
}  // namespace pretext
