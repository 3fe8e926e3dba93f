// SPDX-License-Identifier: Apache-2.0
// Multi-head self-attention with a fused QKV projection, laid out as torch.nn.MultiheadAttention
// (batch_first=True) so weights move both ways:
//   in_proj_weight (3E, E), in_proj_bias (3E), out_proj.weight (E, E), out_proj.bias (E).
// Scaled dot-product attention takes an optional causal mask and an optional key-padding mask
// (B, N), nonzero where a key is padding (PyTorch's True = ignore). Masked scores are -inf before
// a max-subtracted softmax, so they get exactly zero weight; a row with every key masked gives
// NaN, as in PyTorch.
#pragma once

#include "pretext/autograd/ops_linalg.hpp"
#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_rowwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

namespace pretext {

/// Which scores scaled_dot_product_attention ignores.
struct AttentionMask {
  bool causal = false;  ///< query i sees keys j <= i
  /// (B, N) nonzero where the key is padding; null for none.
  const Tensor<std::uint8_t, 2>* key_padding = nullptr;
};

/// softmax(q k^T * scale + mask) v over (B, H, N, Dh) inputs -> (B, H, N, Dh); scale defaults to
/// 1 / sqrt(Dh). Differentiable in q, k and v.
template <floating T>
Var<T, 4> scaled_dot_product_attention(const Var<T, 4>& q, const Var<T, 4>& k, const Var<T, 4>& v,
                                       const AttentionMask& mask = {}, double scale = 0) {
  const index_t B = q.size(0), H = q.size(1), N = q.size(2), Dh = q.size(3), Nk = k.size(2);
  PRETEXT_CHECK(k.size(0) == B && v.size(0) == B && k.size(1) == H && v.size(1) == H &&
                    k.size(3) == Dh && v.size(2) == Nk,
                shape_error, "pretext::scaled_dot_product_attention: q ",
                detail::shape_string(q.shape()), ", k ", detail::shape_string(k.shape()), ", v ",
                detail::shape_string(v.shape()), " do not fit (B, H, N, Dh) / (B, H, Nk, Dh)");
  const T s = static_cast<T>(scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(Dh)));
  const auto q3 = reshape(q, std::array<index_t, 3>{B * H, N, Dh});
  const auto k3 = reshape(k, std::array<index_t, 3>{B * H, Nk, Dh});
  const auto v3 = reshape(v, std::array<index_t, 3>{B * H, Nk, v.size(3)});
  Var<T, 3> scores = mul(matmul(q3, transpose(k3, 1, 2)), s);  // (B H, N, Nk)
  if (mask.causal || mask.key_padding) {
    // One additive (B, 1, N, Nk) table of 0 and -inf, broadcast over heads.
    if (mask.key_padding)
      PRETEXT_CHECK(mask.key_padding->size(0) == B && mask.key_padding->size(1) == Nk, shape_error,
                    "pretext::scaled_dot_product_attention: key_padding mask ",
                    detail::shape_string(mask.key_padding->shape()), " should be (", B, ", ", Nk,
                    ")");
    Tensor<T, 4> table = Tensor<T, 4>::zeros(Shape<4>{B, 1, N, Nk});
    const T ninf = -std::numeric_limits<T>::infinity();
    for (index_t b = 0; b < B; ++b)
      for (index_t i = 0; i < N; ++i)
        for (index_t j = 0; j < Nk; ++j) {
          const bool pad = mask.key_padding && (*mask.key_padding)(b, j) != 0;
          if (pad || (mask.causal && j > i)) table(b, 0, i, j) = ninf;
        }
    const auto s4 = reshape(scores, std::array<index_t, 4>{B, H, N, Nk});
    scores = reshape(pretext::add(s4, table), std::array<index_t, 3>{B * H, N, Nk});
  }
  const auto out = matmul(softmax(scores, -1), v3);  // (B H, N, Dv)
  return reshape(out, std::array<index_t, 4>{B, H, N, v.size(3)});
}

namespace nn {

template <index_t E, floating T = float>
class MultiHeadAttention : public Module<MultiHeadAttention<E, T>> {
 public:
  using value_type = T;
  static constexpr index_t in_width = E;
  static constexpr index_t out_width = E;

  MultiHeadAttention(index_t embed_dim, index_t heads, Generator& g, bool bias = true)
      : e_(detail::resolve_width("MultiHeadAttention", "embed_dim", E, embed_dim)),
        heads_(heads),
        out_proj(embed_dim, embed_dim, g, bias) {
    PRETEXT_CHECK(heads > 0 && e_ % heads == 0, config_error,
                  "pretext::nn::MultiHeadAttention: embed_dim ", e_,
                  " must be divisible by the number of heads ", heads);
    // As torch: xavier-uniform in_proj_weight, zero biases; out_proj keeps Linear's weight init.
    Tensor<T, 2> w(Shape<2>{3 * e_, e_});
    init::xavier_uniform_(w, g);
    in_proj_weight = Var<T, 2>(w, true);
    if (bias) {
      in_proj_bias = Var<T, 1>(Tensor<T, 1>::zeros(Shape<1>{3 * e_}), true);
      out_proj.bias = Var<T, 1>(Tensor<T, 1>::zeros(Shape<1>{e_}), true);
    }
  }
  MultiHeadAttention(index_t heads, Generator& g) requires(E != dynamic)
      : MultiHeadAttention(E, heads, g) {}

  template <class V>
  void visit(V& v) {
    v.param("in_proj_weight", in_proj_weight);
    if (in_proj_bias.defined()) v.param("in_proj_bias", in_proj_bias);
    v.module("out_proj", out_proj);
  }

  index_t heads() const noexcept { return heads_; }

  /// Self-attention: x (B, N, E) -> (B, N, E).
  Var<T, 3> operator()(const Var<T, 3>& x, const AttentionMask& mask = {}) const {
    PRETEXT_CHECK(x.size(2) == e_, shape_error, "pretext::nn::MultiHeadAttention: input ",
                  pretext::detail::shape_string(x.shape()), " has width ", x.size(2),
                  " but the layer has embed_dim ", e_);
    const index_t B = x.size(0), N = x.size(1), H = heads_, Dh = e_ / heads_;
    const auto x2 = reshape(x, std::array<index_t, 2>{B * N, e_});
    const auto qkv = in_proj_bias.defined() ? linear(x2, in_proj_weight, in_proj_bias)
                                            : linear(x2, in_proj_weight);  // (B N, 3E)
    // (B, N, 3, H, Dh) -> (3, B, H, N, Dh)
    const auto split = permute(reshape(qkv, std::array<index_t, 5>{B, N, 3, H, Dh}),
                               std::array<int, 5>{2, 0, 3, 1, 4});
    const auto att = scaled_dot_product_attention(select(split, 0, 0), select(split, 0, 1),
                                                  select(split, 0, 2), mask);  // (B, H, N, Dh)
    const auto merged = reshape(permute(att, std::array<int, 4>{0, 2, 1, 3}),
                                std::array<index_t, 3>{B, N, e_});  // (B, N, E)
    return out_proj(merged);
  }

  Var<T, 2> in_proj_weight;  ///< (3E, E): rows [0, E) make q, [E, 2E) k, [2E, 3E) v
  Var<T, 1> in_proj_bias;    ///< (3E)

 private:
  index_t e_, heads_;

 public:
  Linear<E, E, T> out_proj;
};

}  // namespace nn
}  // namespace pretext
