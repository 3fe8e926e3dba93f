// SPDX-License-Identifier: Apache-2.0
// Masked prediction, for any modality an adapter describes.
//
// MaskedAutoencoder (MAE, He et al. 2021): the encoder sees only the visible tokens; a light
// decoder gets the encoded tokens back in place plus a learned mask token everywhere else, and
// the loss is on the masked tokens only.
//   tokens (B, N, P | ids) -stem-> (B, N, D) -gather visible-> (B, K, D) -encoder-> (B, K, D)
//   -scatter + mask token-> (B, N, D) -decoder-> (B, N, Dd) -gather masked-> (B, M, Dd)
//   -head-> (B, M, target_dim) -adapter.prediction_loss against the masked tokens-> scalar
// The mask token lives in the encoder's width D and the decoder's first layer maps D -> Dd: the
// same family of functions as MAE's (project, then insert a token in Dd), one parameter simpler.
//
// MaskedPrediction (BERT; SimMIM and masked frame / feature regression for continuous tokens):
// the encoder sees every position, masked ones replaced, and predicts the originals there.
//   ids: BERT's 80/10/10 corruption of the chosen positions ([MASK] id / random id / unchanged).
//   continuous tokens: the embedded token replaced by a learned mask token.
//   tokens -corrupt-> -stem-> (B, N, D) -encoder-> (B, N, D) -gather masked-> (M, D) -head->
//   (M, target_dim) -adapter.prediction_loss-> scalar
// Rows may mask different counts (padding): then each row is scored on its own.
//
// Neither class knows the modality: the adapter makes tokens and scores predictions, the stem
// embeds them. The only branch is on the kind of token (ids or vectors), which decides how a
// masked input is corrupted.
#pragma once

#include "pretext/nn/module.hpp"
#include "pretext/objectives/parts.hpp"
#include "pretext/train/objective.hpp"

#include <utility>
#include <vector>

namespace pretext::objectives {

template <modality::TokenAdapter Adapter, nn::module Stem, nn::module Encoder, nn::module Decoder,
          nn::module Head, MaskingPolicy Masking = RandomMasking>
class MaskedAutoencoder
    : public nn::Module<MaskedAutoencoder<Adapter, Stem, Encoder, Decoder, Head, Masking>> {
 public:
  using value_type = typename Adapter::value_type;
  using T = value_type;
  using batch_type = typename Adapter::batch_type;
  using token_type = typename Adapter::token_type;

  /// width: D, the stem's and encoder's token width (the mask token's size).
  MaskedAutoencoder(Adapter adapter, Stem stem, Encoder encoder, Decoder decoder, Head head,
                    index_t width, Masking masking, Generator& g)
      : adapter(std::move(adapter)),
        masking(std::move(masking)),
        stem(std::move(stem)),
        encoder(std::move(encoder)),
        decoder(std::move(decoder)),
        head(std::move(head)),
        mask_token(detail::learned_token<T>(width, g)) {}

  template <class V>
  void visit(V& v) {
    v.module("stem", stem);
    v.module("encoder", encoder);
    v.module("decoder", decoder);
    v.module("head", head);
    v.param("mask_token", mask_token);
  }

  struct Output {
    Var<T, 0> loss;
    Var<T, 3> pred;  ///< (B, M, target_dim): predictions of the masked tokens
    modality::TokenMask mask;
    token_type tokens;
  };

  /// The forward pass with a given mask (it must mask the same count in every row).
  Output forward(const batch_type& x, modality::TokenMask mask) const {
    return run(adapter.tokens(x), std::move(mask));
  }

  /// The forward pass with a mask drawn from the policy and g.
  Output forward(const batch_type& x, Generator& g) const {
    token_type tokens = adapter.tokens(x);
    auto mask = masking(tokens.size(0), tokens.size(1), g);
    return run(std::move(tokens), std::move(mask));
  }

  Var<T, 0> loss(const batch_type& x, train::StepContext& ctx) {
    Output out = forward(x, ctx.generator());
    ctx.report("mask_ratio", static_cast<double>(out.mask.masked.size(1)) /
                                 static_cast<double>(out.mask.tokens()));
    return std::move(out.loss);
  }

  /// Continuous tokens only: the input's tokens with the masked ones replaced by the
  /// predictions (B, N, P), computed without a graph - the picture of what MAE reconstructs.
  Tensor<T, 3> reconstruct(const batch_type& x, const modality::TokenMask& mask) const
      requires(Adapter::continuous) {
    NoGrad no_grad;
    const Output out = forward(x, mask);
    Tensor<T, 3> result = out.tokens.clone();
    const Tensor<T, 3> pred = out.pred.data().contiguous();
    const index_t B = result.size(0), M = mask.masked.size(1);
    for (index_t b = 0; b < B; ++b)
      for (index_t m = 0; m < M; ++m)
        result.select(0, b).select(0, mask.masked(b, m)).copy_(pred.select(0, b).select(0, m));
    return result;
  }

  Adapter adapter;
  Masking masking;
  Stem stem;
  Encoder encoder;
  Decoder decoder;
  Head head;
  Var<T, 1> mask_token;  ///< (D)

 private:
  Output run(token_type tokens, modality::TokenMask mask) const {
    const index_t B = tokens.size(0), N = tokens.size(1);
    PRETEXT_CHECK(mask.batch() == B && mask.tokens() == N && mask.uniform(), shape_error,
                  "pretext::objectives::MaskedAutoencoder: the mask is ",
                  pretext::detail::shape_string(mask.mask.shape()), " for ", B, " rows of ", N,
                  " tokens", mask.uniform() ? "" : " and masks different counts per row",
                  "; the encoder drops masked tokens, so every row needs the same count");
    const Var<T, 3> h = stem(detail::stem_input(tokens));                   // (B, N, D)
    const Var<T, 3> z = encoder(gather_tokens(h, mask.visible));            // (B, K, D)
    const Var<T, 3> full = scatter_tokens(z, mask.visible, mask_token, N);  // (B, N, D)
    const Var<T, 3> d = decoder(full);                                      // (B, N, Dd)
    Var<T, 3> pred = head(gather_tokens(d, mask.masked));                   // (B, M, out)
    Var<T, 0> loss = adapter.prediction_loss(pred, tokens, mask.masked);
    return {std::move(loss), std::move(pred), std::move(mask), std::move(tokens)};
  }
};

/// BERT's corruption settings, used when the tokens are ids.
struct TokenCorruption {
  std::int64_t mask_id = 2;                    ///< [MASK]; modality::Vocabulary puts it at 2
  std::vector<std::int64_t> special_ids = {};  ///< never chosen (pad, cls, sep, ...)
};

template <modality::TokenAdapter Adapter, nn::module Stem, nn::module Encoder, nn::module Head,
          MaskingPolicy Masking = RandomMasking>
class MaskedPrediction
    : public nn::Module<MaskedPrediction<Adapter, Stem, Encoder, Head, Masking>> {
 public:
  using value_type = typename Adapter::value_type;
  using T = value_type;
  using batch_type = typename Adapter::batch_type;
  using token_type = typename Adapter::token_type;

  /// width: D, the stem's token width (the size of the mask token for continuous tokens).
  /// For ids the policy's `ratio` is the share of (non-special) positions chosen.
  MaskedPrediction(Adapter adapter, Stem stem, Encoder encoder, Head head, index_t width,
                   Masking masking, Generator& g, TokenCorruption corruption = {})
      : adapter(std::move(adapter)),
        masking(std::move(masking)),
        corruption(std::move(corruption)),
        stem(std::move(stem)),
        encoder(std::move(encoder)),
        head(std::move(head)),
        mask_token(detail::learned_token<T>(width, g)) {}

  template <class V>
  void visit(V& v) {
    v.module("stem", stem);
    v.module("encoder", encoder);
    v.module("head", head);
    if constexpr (Adapter::continuous) v.param("mask_token", mask_token);
  }

  struct Output {
    Var<T, 0> loss;
    Var<T, 3>
        pred;  ///< (B, M, target_dim) at the masked positions (row 0's only, when rows differ)
    Tensor<std::uint8_t, 2> mask;  ///< (B, N)
  };

  Output forward(const batch_type& x, Generator& g) const {
    const token_type tokens = adapter.tokens(x);
    const index_t B = tokens.size(0), N = tokens.size(1);
    Tensor<std::uint8_t, 2> mask;
    Var<T, 3> h;
    if constexpr (Adapter::continuous) {
      mask = masking(B, N, g).mask;
      h = replace_tokens(stem(detail::stem_input(tokens)), mask, mask_token);
    } else {
      auto c = modality::bert_corrupt(tokens, masking.ratio, corruption.mask_id,
                                      adapter.target_dim(), g, corruption.special_ids);
      mask = std::move(c.mask);
      h = stem(c.input);
    }
    const Var<T, 3> z = encoder(h);  // (B, N, D)
    const modality::TokenMask m = modality::mask_from(mask);
    if (m.uniform()) {  // the same count in every row: one batched gather
      Var<T, 3> pred = head(gather_tokens(z, m.masked));  // (B, M, out)
      Var<T, 0> loss = adapter.prediction_loss(pred, tokens, m.masked);
      return {std::move(loss), std::move(pred), std::move(mask)};
    }
    // Rows mask different counts (padding): one loss per row, weighted by its count so the
    // result is the mean over all masked positions.
    Var<T, 0> loss;
    Var<T, 3> first;
    index_t total = 0;
    for (index_t b = 0; b < B; ++b) total += row_count(mask, b);
    for (index_t b = 0; b < B; ++b) {
      const index_t k = row_count(mask, b);
      if (k == 0) continue;
      Tensor<std::int64_t, 2> idx(Shape<2>{1, k});
      for (index_t n = 0, j = 0; n < N; ++n)
        if (mask(b, n) != 0) idx.data()[j++] = n;
      const Var<T, 3> pred = head(gather_tokens(narrow(z, 0, b, 1), idx));
      const auto row_tokens = tokens.narrow(0, b, 1).contiguous();
      const Var<T, 0> l = adapter.prediction_loss(pred, row_tokens, idx) *
                          static_cast<T>(static_cast<double>(k) / static_cast<double>(total));
      loss = loss.defined() ? loss + l : l;
      if (!first.defined()) first = pred;
    }
    PRETEXT_CHECK(total > 0, config_error,
                  "pretext::objectives::MaskedPrediction: no position was masked in the batch; "
                  "raise the masking ratio or use longer sequences");
    return {std::move(loss), std::move(first), std::move(mask)};
  }

  Var<T, 0> loss(const batch_type& x, train::StepContext& ctx) {
    Output out = forward(x, ctx.generator());
    return std::move(out.loss);
  }

  Adapter adapter;
  Masking masking;
  TokenCorruption corruption;
  Stem stem;
  Encoder encoder;
  Head head;
  Var<T, 1> mask_token;  ///< (D); used for continuous tokens only

 private:
  static index_t row_count(const Tensor<std::uint8_t, 2>& mask, index_t b) {
    index_t k = 0;
    for (index_t n = 0; n < mask.size(1); ++n) k += mask(b, n) != 0;
    return k;
  }
};

}  // namespace pretext::objectives
