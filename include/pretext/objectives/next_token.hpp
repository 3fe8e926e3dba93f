// SPDX-License-Identifier: Apache-2.0
// Next-token prediction (GPT; autoregressive prediction of the next frame of a signal or the next
// patch of an image in raster order), for any modality an adapter describes.
//
//   tokens (B, N, P | ids) -stem-> (B, N, D) -encoder with a causal mask-> (B, N, D)
//   -first N-1 positions-> -head-> (B, N-1, target_dim)
//   -adapter.prediction_loss against tokens 1 .. N-1-> scalar
//
// The causal mask makes position i see positions <= i only, so its output may predict token
// i + 1. The encoder must take an AttentionMask (nn::TransformerEncoder does).
#pragma once

#include "pretext/nn/module.hpp"
#include "pretext/objectives/parts.hpp"
#include "pretext/train/objective.hpp"

#include <utility>

namespace pretext::objectives {

template <modality::TokenAdapter Adapter, nn::module Stem, nn::module Encoder, nn::module Head>
requires MaskedSequenceEncoder<Encoder, typename Adapter::value_type>
class NextTokenPrediction : public nn::Module<NextTokenPrediction<Adapter, Stem, Encoder, Head>> {
 public:
  using value_type = typename Adapter::value_type;
  using T = value_type;
  using batch_type = typename Adapter::batch_type;
  using token_type = typename Adapter::token_type;

  NextTokenPrediction(Adapter adapter, Stem stem, Encoder encoder, Head head)
      : adapter(std::move(adapter)),
        stem(std::move(stem)),
        encoder(std::move(encoder)),
        head(std::move(head)) {}

  template <class V>
  void visit(V& v) {
    v.module("stem", stem);
    v.module("encoder", encoder);
    v.module("head", head);
  }

  /// Predictions (B, N - 1, target_dim) of tokens 1 .. N-1, and the loss.
  std::pair<Var<T, 0>, Var<T, 3>> forward(const batch_type& x) const {
    const token_type tokens = adapter.tokens(x);
    const index_t B = tokens.size(0), N = tokens.size(1);
    PRETEXT_CHECK(N >= 2, shape_error, "pretext::objectives::NextTokenPrediction: ", N,
                  " token(s) per row; predicting the next token needs at least 2");
    const Var<T, 3> h = encoder(stem(detail::stem_input(tokens)), AttentionMask{.causal = true});
    Var<T, 3> pred = head(narrow(h, 1, 0, N - 1));
    Var<T, 0> loss = adapter.prediction_loss(pred, tokens, detail::shifted_positions(B, N));
    return {std::move(loss), std::move(pred)};
  }

  Var<T, 0> loss(const batch_type& x, train::StepContext&) { return forward(x).first; }

  Adapter adapter;
  Stem stem;
  Encoder encoder;
  Head head;
};

}  // namespace pretext::objectives
