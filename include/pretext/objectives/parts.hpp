// SPDX-License-Identifier: Apache-2.0
// Parts shared by the objectives: masking policies as callables, feeding raw tokens to a stem,
// target positions, a learned token, and the concept of an encoder that takes an attention mask.
//
//   tokens: continuous (B, N, P) Tensor<T, 3> or ids (B, N) Tensor<std::int64_t, 2>
//   stem:   tokens -> (B, N, D) embeddings (a Linear for continuous tokens, an Embedding for ids,
//           followed by positional encodings), so everything after it is modality-free.
#pragma once

#include "pretext/autograd.hpp"
#include "pretext/autograd/ops_index.hpp"
#include "pretext/core/random.hpp"
#include "pretext/modality/adapter.hpp"
#include "pretext/modality/masking.hpp"
#include "pretext/nn/attention.hpp"

#include <concepts>
#include <cstdint>

namespace pretext::objectives {

/// A masking policy draws a TokenMask for B rows of N tokens from a generator.
template <class P>
concept MaskingPolicy = requires(const P& p, index_t B, index_t N, Generator& g) {
  { p(B, N, g) } -> std::same_as<modality::TokenMask>;
};

/// A random subset of round(ratio * N) tokens per row (MAE, SimMIM, BERT's choice of positions).
struct RandomMasking {
  double ratio = 0.75;
  modality::TokenMask operator()(index_t B, index_t N, Generator& g) const {
    return modality::random_mask(B, N, ratio, g);
  }
};

/// Rectangles on a grid_h x grid_w grid of tokens (BEiT); N must be grid_h * grid_w.
struct BlockMasking {
  double ratio = 0.4;
  index_t grid_h = 0, grid_w = 0;
  modality::TokenMask operator()(index_t B, index_t N, Generator& g) const {
    PRETEXT_CHECK(N == grid_h * grid_w, shape_error, "pretext::objectives::BlockMasking: ", N,
                  " tokens do not form the configured ", grid_h, " x ", grid_w,
                  " grid; set grid_h and grid_w to the adapter's grid");
    return modality::block_mask_2d(B, grid_h, grid_w, ratio, g);
  }
};

/// Contiguous spans of tokens (SpanBERT, wav2vec-style masking of frames).
struct SpanMasking {
  double ratio = 0.5;
  double mean_span = 3.0;
  modality::TokenMask operator()(index_t B, index_t N, Generator& g) const {
    return modality::span_mask_1d(B, N, ratio, g, mean_span);
  }
};

static_assert(MaskingPolicy<RandomMasking> && MaskingPolicy<BlockMasking> &&
              MaskingPolicy<SpanMasking>);

/// Something that maps (B, N, D) tokens to (B, N, D') under an attention mask (causal, padding).
template <class E, class T>
concept MaskedSequenceEncoder = requires(const E& e, const Var<T, 3>& x, const AttentionMask& m) {
  { e(x, m) } -> std::convertible_to<Var<T, 3>>;
};

namespace detail {

/// What a stem takes: continuous tokens as a constant Var (no gradient to the data), ids as they
/// are.
template <class T>
Var<T, 3> stem_input(const Tensor<T, 3>& tokens) {
  return Var<T, 3>(tokens);
}
inline const Tensor<std::int64_t, 2>& stem_input(const Tensor<std::int64_t, 2>& ids) {
  return ids;
}

/// Positions (B, N - 1) = 1, 2, ..., N - 1 in every row: the targets of next-token prediction.
inline Tensor<std::int64_t, 2> shifted_positions(index_t B, index_t N) {
  Tensor<std::int64_t, 2> out(Shape<2>{B, N - 1});
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 1; n < N; ++n) out.data()[b * (N - 1) + n - 1] = n;
  return out;
}

/// Positions (B, N) = 0, 1, ..., N - 1 in every row: every token is a target.
inline Tensor<std::int64_t, 2> all_positions(index_t B, index_t N) {
  Tensor<std::int64_t, 2> out(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) out.data()[b * N + n] = n;
  return out;
}

/// A learned token (D) initialised from N(0, 0.02^2) (MAE's and BEiT's mask token).
template <class T>
Var<T, 1> learned_token(index_t dim, Generator& g) {
  return Var<T, 1>(normal<T>({dim}, g, T(0), T(0.02)), true);
}

}  // namespace detail

}  // namespace pretext::objectives
