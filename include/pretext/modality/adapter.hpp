// SPDX-License-Identifier: Apache-2.0
// The modality-adapter contract: what turns a raw batch into a token sequence and back, so that
// pre-training objectives (MAE, BERT-style masked prediction, autoencoders) hold no
// modality-specific code. Letters: B batch, N tokens per sample, M predicted positions per
// sample, P values per continuous token, V vocabulary size.
//
// Every adapter A has
//   using value_type = T;          // element type of predictions and losses (float, double)
//   using batch_type = ...;        // what the loader hands over: Tensor<T, R> (continuous data)
//                                  //   or Tensor<std::int64_t, 2> (B, N) token ids
//   using token_type = ...;        // Tensor<T, 3> (B, N, P) raw tokens, or the ids (B, N)
//   token_type tokens(const batch_type&) const;  // no graph: what is embedded and predicted
//   index_t num_tokens() const;    // N (-1: any, for text without a fixed length)
//   index_t target_dim() const;    // P for continuous tokens, V for ids
//   Var<T, 0> prediction_loss(const Var<T, 3>& pred,          // (B, M, target_dim)
//                             const token_type& tokens,        // from tokens()
//                             const Tensor<std::int64_t, 2>& idx) const;  // (B, M) in [0, N)
//   static constexpr bool continuous;
// and continuous adapters also
//   bool normalize_targets;        // MAE's norm_pix_loss: targets standardised per token
//   batch_type from_tokens(const Tensor<T, 3>&) const;  // tokens() inverted (reconstructions)
//
// The loss compares pred[b, m] with tokens[b, idx[b, m]]: mean squared error over the M P values
// for continuous tokens, mean cross-entropy over the non-padding positions for ids. The stem that
// embeds tokens is nn::Linear on (B, N, P) for continuous tokens (Linear takes any rank >= 2)
// and nn::Embedding for ids.
//
// The helpers below (tokens_at, normalize_tokens and the two losses) are shared by the adapters
// and are public because objectives need them too (picking visible tokens, say).
#pragma once

#include "pretext/autograd/losses.hpp"
#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/autograd/variable.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>  // memcpy of token rows
#include <type_traits>

namespace pretext::modality {

// ---- the contract -------------------------------------------------------------------------------

namespace adapter_detail {
/// The member types and the compile-time flag every adapter declares.
template <class A>
concept declares_adapter_types = requires {
  typename A::value_type;
  typename A::batch_type;
  typename A::token_type;
  typename std::bool_constant<A::continuous>;  // a compile-time flag
};
}  // namespace adapter_detail

/// An adapter between a modality's batches and token sequences (see the file comment).
template <class A>
concept TokenAdapter = adapter_detail::declares_adapter_types<A> &&
    floating<typename A::value_type> &&
    requires(const A& a, const typename A::batch_type& x, const typename A::token_type& tok,
             const Var<typename A::value_type, 3>& pred, const Tensor<std::int64_t, 2>& idx) {
  { a.tokens(x) } -> std::same_as<typename A::token_type>;
  { a.num_tokens() } -> std::convertible_to<index_t>;
  { a.target_dim() } -> std::convertible_to<index_t>;
  { a.prediction_loss(pred, tok, idx) } -> std::same_as<Var<typename A::value_type, 0>>;
};

/// Continuous tokens (B, N, P) of the adapter's value type, predicted by regression, with an
/// inverse from_tokens() and the normalize_targets switch.
template <class A>
concept ContinuousTokens = TokenAdapter<A> && A::continuous &&
    std::same_as<typename A::token_type, Tensor<typename A::value_type, 3>> &&
    requires(A& a, const typename A::token_type& tok) {
  { a.from_tokens(tok) } -> std::same_as<typename A::batch_type>;
  { a.normalize_targets } -> std::convertible_to<bool>;
};

/// Token ids (B, N), predicted by classification over target_dim() classes.
template <class A>
concept DiscreteTokens = TokenAdapter<A> && !A::continuous &&
                         std::same_as<typename A::token_type, Tensor<std::int64_t, 2>>;

// ---- shared helpers -----------------------------------------------------------------------------

namespace adapter_detail {

/// Checks positions idx (B, M) against a batch of `batch` samples of n tokens each.
inline void check_positions(const char* who, const Tensor<std::int64_t, 2>& idx, index_t batch,
                            index_t n) {
  PRETEXT_CHECK(idx.size(0) == batch, shape_error, who, ": positions ",
                pretext::detail::shape_string(idx.shape()), " are for ", idx.size(0),
                " samples but the tokens hold ", batch, "; give one row of positions per sample");
  for (index_t b = 0; b < idx.size(0); ++b)
    for (index_t m = 0; m < idx.size(1); ++m) {
      const std::int64_t i = idx(b, m);
      PRETEXT_CHECK(i >= 0 && i < n, index_error, who, ": position ", i, " at (", b, ", ", m,
                    ") of idx ", pretext::detail::shape_string(idx.shape()),
                    " is not a token index in [0, ", n, ")");
    }
}

/// Checks that pred (B, M, width) fits idx (B, M).
template <class T>
void check_prediction(const char* who, const Var<T, 3>& pred, const Tensor<std::int64_t, 2>& idx,
                      index_t width) {
  PRETEXT_CHECK(pred.size(0) == idx.size(0) && pred.size(1) == idx.size(1) && pred.size(2) == width,
                shape_error, who, ": predictions ", pretext::detail::shape_string(pred.shape()),
                " do not fit positions ", pretext::detail::shape_string(idx.shape()),
                " and tokens of width ", width, "; expected (", idx.size(0), ", ", idx.size(1),
                ", ", width, ")");
}

/// A loss of 0 that still depends on pred (gradient 0): the mean over no positions.
template <class T>
Var<T, 0> zero_loss(const Var<T, 3>& pred) {
  return mul(sum(pred), T(0));
}

}  // namespace adapter_detail

/// The tokens at positions idx: tokens (B, N, P), idx (B, M) in [0, N) -> (B, M, P), a new
/// contiguous tensor (no graph).
template <element E>
Tensor<E, 3> tokens_at(const Tensor<E, 3>& tokens, const Tensor<std::int64_t, 2>& idx) {
  const index_t B = tokens.size(0), N = tokens.size(1), P = tokens.size(2), M = idx.size(1);
  adapter_detail::check_positions("pretext::modality::tokens_at", idx, B, N);
  const Tensor<E, 3> src = tokens.contiguous();
  Tensor<E, 3> out(Shape<3>{B, M, P});
  for (index_t b = 0; b < B; ++b)
    for (index_t m = 0; m < M; ++m)
      std::memcpy(out.data() + (b * M + m) * P, src.data() + (b * N + idx(b, m)) * P,
                  sizeof(E) * static_cast<std::size_t>(P));
  return out;
}

/// The ids at positions idx: ids (B, N), idx (B, M) in [0, N) -> (B, M).
template <element E>
Tensor<E, 2> tokens_at(const Tensor<E, 2>& ids, const Tensor<std::int64_t, 2>& idx) {
  const index_t B = ids.size(0), M = idx.size(1);
  adapter_detail::check_positions("pretext::modality::tokens_at", idx, B, ids.size(1));
  Tensor<E, 2> out(Shape<2>{B, M});
  for (index_t b = 0; b < B; ++b)
    for (index_t m = 0; m < M; ++m) out(b, m) = ids(b, idx(b, m));
  return out;
}

/// Each token standardised over its P values: (x - mean) / sqrt(var + eps) with the unbiased
/// variance, exactly MAE's norm_pix_loss target (torch's var() default). (B, N, P) -> (B, N, P).
/// Needs P >= 2: a single value has no spread.
template <floating T>
Tensor<T, 3> normalize_tokens(const Tensor<T, 3>& tokens, double eps = 1e-6) {
  const index_t P = tokens.size(2);
  PRETEXT_CHECK(P >= 2, config_error, "pretext::modality::normalize_tokens: tokens ",
                pretext::detail::shape_string(tokens.shape()),
                " have one value each; per-token normalisation needs at least 2 (turn "
                "normalize_targets off)");
  Tensor<T, 3> out = tokens.clone();
  const index_t rows = out.numel() / P;
  for (index_t r = 0; r < rows; ++r) {
    T* x = out.data() + r * P;
    double mean = 0;
    for (index_t j = 0; j < P; ++j) mean += static_cast<double>(x[j]);
    mean /= static_cast<double>(P);
    double ss = 0;
    for (index_t j = 0; j < P; ++j) ss += (x[j] - mean) * (x[j] - mean);
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(P - 1) + eps);
    for (index_t j = 0; j < P; ++j) x[j] = static_cast<T>((x[j] - mean) * inv);
  }
  return out;
}

/// Mean squared error of pred (B, M, P) against tokens (B, N, P) at positions idx (B, M), over
/// all M P values; the targets are standardised per token first when normalize. M = 0 gives 0.
template <floating T>
Var<T, 0> continuous_prediction_loss(const Var<T, 3>& pred, const Tensor<T, 3>& tokens,
                                     const Tensor<std::int64_t, 2>& idx, bool normalize,
                                     const char* who = "pretext::modality::prediction_loss") {
  adapter_detail::check_prediction(who, pred, idx, tokens.size(2));
  adapter_detail::check_positions(who, idx, tokens.size(0), tokens.size(1));
  Tensor<T, 3> target = tokens_at(tokens, idx);
  if (normalize) target = normalize_tokens(target);
  if (target.numel() == 0) return adapter_detail::zero_loss(pred);
  return mse_loss(pred, target);
}

/// Mean cross-entropy of logits pred (B, M, V) against ids (B, N) at positions idx (B, M), over
/// the positions whose target is not pad_id (pad_id < 0: none is skipped). No counted position
/// gives 0 (not NaN), so a batch of padding does not stop training.
template <floating T>
Var<T, 0> discrete_prediction_loss(const Var<T, 3>& pred, const Tensor<std::int64_t, 2>& ids,
                                   const Tensor<std::int64_t, 2>& idx, std::int64_t pad_id,
                                   const char* who = "pretext::modality::prediction_loss") {
  const index_t V = pred.size(2);
  adapter_detail::check_prediction(who, pred, idx, V);
  const Tensor<std::int64_t, 2> target = tokens_at(ids, idx);  // (B, M)
  index_t counted = 0;
  for (index_t b = 0; b < target.size(0); ++b)
    for (index_t m = 0; m < target.size(1); ++m) {
      const std::int64_t y = target(b, m);
      if (y == pad_id) continue;
      PRETEXT_CHECK(y >= 0 && y < V, index_error, who, ": target id ", y, " at position ",
                    idx(b, m), " of sample ", b, " is outside the ", V,
                    " classes the predictions score");
      ++counted;
    }
  if (counted == 0) return adapter_detail::zero_loss(pred);
  CrossEntropyOptions opt;
  opt.ignore_index = pad_id;
  const index_t rows = pred.size(0) * pred.size(1);
  return cross_entropy(reshape(pred, std::array<index_t, 2>{rows, V}),
                       target.reshape(std::array<index_t, 1>{rows}), opt);
}

}  // namespace pretext::modality
