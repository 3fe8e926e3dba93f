// SPDX-License-Identifier: Apache-2.0
// TransformerEncoderBlock<E>: self-attention and an MLP, each in a residual branch, named as
// torch.nn.TransformerEncoderLayer (batch_first=True) so weights move both ways:
//   self_attn.{in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias},
//   linear1 (E -> ratio E), linear2 (ratio E -> E), norm1, norm2.
// Pre-norm (the default, ViT/MAE): x + attn(norm1(x)), then x + mlp(norm2(x)).
// Post-norm (BERT): norm1(x + attn(x)), then norm2(x + mlp(x)).
// The MLP's activation is GELU (exact) unless configured; dropout is not applied (p = 0).
// TransformerEncoder<E>: depth blocks "blocks.i" and, after pre-norm blocks, a final "norm".
#pragma once

#include <string>
#include <vector>

#include "pretext/nn/attention.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/norm.hpp"

namespace pretext::nn {

struct TransformerOptions {
  index_t heads = 4;
  double mlp_ratio = 4.0;
  bool norm_first = true;
  cpu::Activation activation = cpu::Activation::gelu;
  double eps = 1e-5;
};

template <index_t E, floating T = float>
class TransformerEncoderBlock : public Module<TransformerEncoderBlock<E, T>> {
 public:
  using value_type = T;
  static constexpr index_t in_width = E;
  static constexpr index_t out_width = E;

  TransformerEncoderBlock(index_t width, const TransformerOptions& o, Generator& g)
      : options(o),
        self_attn(width, o.heads, g),
        linear1(width, hidden(width, o), g),
        linear2(hidden(width, o), width, g),
        norm1(width, o.eps),
        norm2(width, o.eps) {}
  TransformerEncoderBlock(const TransformerOptions& o, Generator& g) requires(E != dynamic)
      : TransformerEncoderBlock(E, o, g) {}

  template <class V>
  void visit(V& v) {
    v.module("self_attn", self_attn);
    v.module("linear1", linear1);
    v.module("linear2", linear2);
    v.module("norm1", norm1);
    v.module("norm2", norm2);
  }

  /// x (B, N, E) -> (B, N, E).
  Var<T, 3> operator()(const Var<T, 3>& x, const AttentionMask& mask = {}) const {
    auto mlp = [&](const Var<T, 3>& h) { return linear2(linear1(h, options.activation)); };
    if (options.norm_first) {
      const auto h = x + self_attn(norm1(x), mask);
      return h + mlp(norm2(h));
    }
    const auto h = norm1(x + self_attn(x, mask));
    return norm2(h + mlp(h));
  }

  TransformerOptions options;
  MultiHeadAttention<E, T> self_attn;
  Linear<E, dynamic, T> linear1;
  Linear<dynamic, E, T> linear2;
  LayerNorm<E, T> norm1, norm2;

 private:
  static index_t hidden(index_t width, const TransformerOptions& o) {
    const auto h = static_cast<index_t>(std::llround(static_cast<double>(width) * o.mlp_ratio));
    PRETEXT_CHECK(h > 0, config_error, "pretext::nn::TransformerEncoderBlock: mlp_ratio ",
                  o.mlp_ratio, " gives an empty MLP");
    return h;
  }
};

/// A stack of TransformerEncoderBlocks named "blocks.0", "blocks.1", ... and, for pre-norm
/// blocks, a final LayerNorm "norm" (ViT's and MAE's encoder layout). x (B, N, E) -> (B, N, E);
/// the attention mask (causal, key padding) goes to every block.
template <index_t E, floating T = float>
class TransformerEncoder : public Module<TransformerEncoder<E, T>> {
 public:
  using value_type = T;
  static constexpr index_t in_width = E;
  static constexpr index_t out_width = E;

  TransformerEncoder(index_t width, index_t depth, const TransformerOptions& o, Generator& g)
      : norm(width, o.eps), final_norm_(o.norm_first) {
    PRETEXT_CHECK(depth >= 0, config_error, "pretext::nn::TransformerEncoder: depth ", depth,
                  " must be >= 0");
    blocks.reserve(static_cast<std::size_t>(depth));
    for (index_t i = 0; i < depth; ++i) blocks.emplace_back(width, o, g);
  }
  TransformerEncoder(index_t depth, const TransformerOptions& o,
                     Generator& g) requires(E != dynamic)
      : TransformerEncoder(E, depth, o, g) {}

  template <class V>
  void visit(V& v) {
    for (std::size_t i = 0; i < blocks.size(); ++i)
      v.module("blocks." + std::to_string(i), blocks[i]);
    if (final_norm_) v.module("norm", norm);
  }

  Var<T, 3> operator()(const Var<T, 3>& x, const AttentionMask& mask = {}) const {
    Var<T, 3> h = x;
    for (const auto& b : blocks) h = b(h, mask);
    return final_norm_ ? norm(h) : h;
  }

  std::vector<TransformerEncoderBlock<E, T>> blocks;
  LayerNorm<E, T> norm;  ///< used only after pre-norm blocks

 private:
  bool final_norm_;
};

}  // namespace pretext::nn
