// SPDX-License-Identifier: Apache-2.0
// Tabular rows as one token per feature (FT-Transformer, Gorishniy et al. 2021).
//   TabularFeatures<T>  the adapter: batch (B, F) with F = F_num numeric columns first, then
//                       F_cat categorical columns holding category codes 0 .. card - 1 as floats;
//                       tokens (B, F, 1) the raw values (P = 1); from_tokens (B, F, 1) -> (B, F).
//   FeatureTokenizer<T> the stem (an nn module): raw tokens (B, F, 1) -> (B, F, D). Numeric
//                       feature f gives x w_f + b_f ("numeric.weight", "numeric.bias", each
//                       (F_num, D)); categorical column j gives row offset_j + code of one shared
//                       table "categorical.weight" (sum of cards, D) plus "categorical.bias"
//                       (F_cat, D), as rtdl's FeatureTokenizer.
//
// Limitation: the adapter's prediction_loss is a mean squared error over every predicted
// position, categorical codes included, as if they were numbers. A proper loss would add a
// cross-entropy over each categorical column's own cardinality, which needs predictions of a
// different width per feature; the one-width (B, M, target_dim) contract has no room for that.
// Use it with numeric data, or standardise codes, knowing that it scores a wrong category by its
// code distance.
#pragma once

#include "pretext/modality/adapter.hpp"
#include "pretext/nn/embedding.hpp"
#include "pretext/nn/module.hpp"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace pretext::modality {

namespace adapter_detail {

/// Checks the layout (F_num >= 0, every cardinality >= 1) and returns F.
inline index_t check_tabular_layout(const char* who, index_t num_numeric,
                                    const std::vector<index_t>& cards) {
  PRETEXT_CHECK(num_numeric >= 0, config_error, who, ": num_numeric ", num_numeric,
                " must not be negative");
  for (std::size_t j = 0; j < cards.size(); ++j)
    PRETEXT_CHECK(cards[j] >= 1, config_error, who, ": categorical column ", j, " has cardinality ",
                  cards[j], "; each needs at least 1 category");
  const index_t F = num_numeric + static_cast<index_t>(cards.size());
  PRETEXT_CHECK(F > 0, config_error, who, ": a table needs at least one feature");
  return F;
}

/// The code of categorical column j (feature f) in row b: value must be a whole number in
/// [0, card).
template <class T>
std::int64_t category_code(const char* who, T value, index_t card, index_t b, index_t f,
                           std::size_t j) {
  PRETEXT_CHECK(value >= T(0) && value < static_cast<T>(card) && std::floor(value) == value,
                index_error, who, ": row ", b, " holds ", value, " in categorical column ", j,
                " (feature ", f, "), which is not a category code in [0, ", card, ")");
  return static_cast<std::int64_t>(value);
}

}  // namespace adapter_detail

template <floating T = float>
class TabularFeatures {
 public:
  using value_type = T;
  using batch_type = Tensor<T, 2>;  ///< (B, F)
  using token_type = Tensor<T, 3>;  ///< (B, F, 1)
  static constexpr bool continuous = true;

  TabularFeatures(index_t num_numeric, std::vector<index_t> categorical_cardinalities = {})
      : num_(num_numeric), cards_(std::move(categorical_cardinalities)) {
    f_ = adapter_detail::check_tabular_layout("pretext::modality::TabularFeatures", num_, cards_);
  }

  /// Must stay false: per-token normalisation of one-value tokens makes every target 0, so
  /// prediction_loss throws config_error when it is set. (Standardise columns in the loader.)
  bool normalize_targets = false;

  index_t num_numeric() const noexcept { return num_; }
  index_t num_categorical() const noexcept { return static_cast<index_t>(cards_.size()); }
  index_t num_features() const noexcept { return f_; }
  const std::vector<index_t>& categorical_cardinalities() const noexcept { return cards_; }
  bool is_categorical(index_t feature) const noexcept { return feature >= num_; }
  index_t num_tokens() const noexcept { return f_; }
  index_t target_dim() const noexcept { return 1; }

  /// (B, F) -> (B, F, 1), checking that categorical columns hold valid codes; a new tensor.
  token_type tokens(const batch_type& x) const {
    PRETEXT_CHECK(x.size(1) == f_, shape_error, "pretext::modality::TabularFeatures: batch ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " columns; the adapter takes ", f_, " (", num_, " numeric, then ",
                  num_categorical(), " categorical)");
    for (index_t b = 0; b < x.size(0); ++b)
      for (std::size_t j = 0; j < cards_.size(); ++j) {
        const index_t f = num_ + static_cast<index_t>(j);
        adapter_detail::category_code("pretext::modality::TabularFeatures", x(b, f), cards_[j], b,
                                      f, j);
      }
    return x.clone().reshape(std::array<index_t, 3>{x.size(0), f_, 1});
  }

  /// (B, F, 1) -> (B, F).
  batch_type from_tokens(const Tensor<T, 3>& t) const {
    check_tokens(t.shape());
    return t.clone().reshape(std::array<index_t, 2>{t.size(0), f_});
  }
  Var<T, 2> from_tokens(const Var<T, 3>& t) const {
    check_tokens(t.shape());
    return reshape(t, std::array<index_t, 2>{t.size(0), f_});
  }

  /// MSE of pred (B, M, 1) against the features at idx (B, M), categorical codes treated as
  /// numbers (see the file comment).
  Var<T, 0> prediction_loss(const Var<T, 3>& pred, const token_type& tokens,
                            const Tensor<std::int64_t, 2>& idx) const {
    PRETEXT_CHECK(!normalize_targets, config_error,
                  "pretext::modality::TabularFeatures::prediction_loss: normalize_targets "
                  "standardises each token over its values, and a feature token has one, so "
                  "every target would be 0; turn it off and standardise columns in the loader");
    check_tokens(tokens.shape());
    return continuous_prediction_loss(pred, tokens, idx, false,
                                      "pretext::modality::TabularFeatures::prediction_loss");
  }

 private:
  void check_tokens(const Shape<3>& s) const {
    PRETEXT_CHECK(s[1] == f_ && s[2] == 1, shape_error,
                  "pretext::modality::TabularFeatures: tokens ", pretext::detail::shape_string(s),
                  " are not (B, ", f_, ", 1), one value per feature");
  }

  index_t num_;
  std::vector<index_t> cards_;
  index_t f_ = 0;
};

/// Raw feature tokens (B, F, 1) -> embeddings (B, F, D); see the file comment for the
/// parameters. Every parameter starts U(-1/sqrt(D), 1/sqrt(D)), rtdl's default.
///
/// There is no concatenation op on the tape, so with both kinds of feature the two parts are
/// computed over all F positions and combined with constant 0/1 masks (the categorical part
/// of a numeric position is multiplied by 0, and so on): two (B, F, D) products instead of one
/// of each width. With one kind only, just that part runs.
template <floating T = float>
class FeatureTokenizer : public nn::Module<FeatureTokenizer<T>> {
  struct Part : nn::Module<Part> {
    using value_type = T;
    template <class V>
    void visit(V& v) {
      v.param("weight", weight);
      v.param("bias", bias);
    }
    Var<T, 2> weight;  ///< numeric: (F_num, D); categorical: (sum of cards, D)
    Var<T, 2> bias;    ///< numeric: (F_num, D); categorical: (F_cat, D)
  };

 public:
  using value_type = T;

  FeatureTokenizer(index_t num_numeric, std::vector<index_t> categorical_cardinalities, index_t dim,
                   Generator& g)
      : num_(num_numeric), cards_(std::move(categorical_cardinalities)), dim_(dim) {
    f_ = adapter_detail::check_tabular_layout("pretext::modality::FeatureTokenizer", num_, cards_);
    PRETEXT_CHECK(dim > 0, config_error, "pretext::modality::FeatureTokenizer: dim ", dim,
                  " must be positive");
    index_t total = 0;
    for (index_t c : cards_) {
      offsets_.push_back(total);
      total += c;
    }
    const T s = static_cast<T>(1.0 / std::sqrt(static_cast<double>(dim)));
    auto param = [&](index_t rows) {
      Tensor<T, 2> w(Shape<2>{rows, dim});
      uniform_(w, g, -s, s);
      return Var<T, 2>(w, true);
    };
    if (num_ > 0) {
      numeric.weight = param(num_);
      numeric.bias = param(num_);
    }
    if (!cards_.empty()) {
      categorical.weight = param(total);
      categorical.bias = param(num_categorical());
    }
  }
  /// The layout of a TabularFeatures adapter.
  FeatureTokenizer(const TabularFeatures<T>& features, index_t dim, Generator& g)
      : FeatureTokenizer(features.num_numeric(), features.categorical_cardinalities(), dim, g) {}

  template <class V>
  void visit(V& v) {
    if (num_ > 0) v.module("numeric", numeric);
    if (!cards_.empty()) v.module("categorical", categorical);
  }

  index_t dim() const noexcept { return dim_; }
  index_t num_features() const noexcept { return f_; }
  index_t num_numeric() const noexcept { return num_; }
  index_t num_categorical() const noexcept { return static_cast<index_t>(cards_.size()); }

  /// Raw tokens (B, F, 1) (from TabularFeatures::tokens) -> (B, F, D).
  Var<T, 3> operator()(const Tensor<T, 3>& tokens) const {
    PRETEXT_CHECK(tokens.size(1) == f_ && tokens.size(2) == 1, shape_error,
                  "pretext::modality::FeatureTokenizer: tokens ",
                  pretext::detail::shape_string(tokens.shape()), " are not (B, ", f_,
                  ", 1), one value per feature");
    const index_t B = tokens.size(0), Fc = num_categorical();
    if (Fc == 0)  // (B, F, 1) * (F, D) + (F, D)
      return add(mul(tokens, numeric.weight), numeric.bias);

    // Categorical ids into the shared table; numeric positions read row 0 and are masked out.
    auto ids = Tensor<std::int64_t, 2>::zeros(Shape<2>{B, f_});
    for (index_t b = 0; b < B; ++b)
      for (index_t j = 0; j < Fc; ++j) {
        const auto ju = static_cast<std::size_t>(j);
        const index_t f = num_ + j;
        ids(b, f) =
            offsets_[ju] + adapter_detail::category_code("pretext::modality::FeatureTokenizer",
                                                         tokens(b, f, 0), cards_[ju], b, f, ju);
      }
    auto pos_cat = Tensor<std::int64_t, 1>::zeros(Shape<1>{f_});  // bias row of each feature
    for (index_t j = 0; j < Fc; ++j) pos_cat(num_ + j) = j;
    if (num_ == 0)  // (B, F, D) + (F, D)
      return add(embedding(categorical.weight, ids), embedding(categorical.bias, pos_cat));

    auto pos_num = Tensor<std::int64_t, 1>::zeros(Shape<1>{f_});
    auto is_num = Tensor<T, 2>::zeros(Shape<2>{f_, 1});
    auto is_cat = Tensor<T, 2>::zeros(Shape<2>{f_, 1});
    for (index_t f = 0; f < f_; ++f) {
      if (f < num_) {
        pos_num(f) = f;
        is_num(f, 0) = T(1);
      } else {
        is_cat(f, 0) = T(1);
      }
    }
    // Numeric values with the categorical positions zeroed: their x w_f term vanishes.
    const Tensor<T, 3> xs = tokens.clone();
    for (index_t b = 0; b < B; ++b)
      for (index_t f = num_; f < f_; ++f) xs(b, f, 0) = T(0);
    const auto w_num = embedding(numeric.weight, pos_num);          // (F, D)
    const auto b_num = embedding(numeric.bias, pos_num);            // (F, D)
    const auto e_cat = embedding(categorical.weight, ids);          // (B, F, D)
    const auto b_cat = embedding(categorical.bias, pos_cat);        // (F, D)
    const auto bias = add(mul(is_num, b_num), mul(is_cat, b_cat));  // (F, D)
    return add(add(mul(xs, w_num), mul(is_cat, e_cat)), bias);
  }
  /// Raw tokens as an objective's stem receives them (a constant Var): no gradient flows to the
  /// data, as for the category codes.
  Var<T, 3> operator()(const Var<T, 3>& tokens) const { return (*this)(tokens.data()); }
  /// A (B, F) batch directly.
  Var<T, 3> operator()(const Tensor<T, 2>& x) const {
    return (*this)(x.reshape(std::array<index_t, 3>{x.size(0), x.size(1), 1}));
  }

  Part numeric;      ///< "numeric.weight", "numeric.bias" (absent without numeric features)
  Part categorical;  ///< "categorical.weight", "categorical.bias" (absent without categorical)

 private:
  index_t num_;
  std::vector<index_t> cards_;
  index_t dim_;
  index_t f_ = 0;
  std::vector<index_t> offsets_;
};

}  // namespace pretext::modality
