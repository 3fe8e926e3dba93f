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
#include "pretext/backend/cpu/attention.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"

#include <cmath>
#include <cstdint>

namespace pretext {

/// Which scores scaled_dot_product_attention ignores.
struct AttentionMask {
  bool causal = false;  ///< query i sees keys j <= i
  /// (B, N) nonzero where the key is padding; null for none.
  const Tensor<std::uint8_t, 2>* key_padding = nullptr;
};

namespace detail {

/// HeadStrides of a (B, H, rows, cols) tensor whose last axis is contiguous.
template <class T>
cpu::HeadStrides head_strides(const Tensor<T, 4>& t) {
  return {t.stride(0), t.stride(1), t.stride(2)};
}

/// t itself when its last axis is contiguous (what the fused kernel reads), else a copy.
template <class T, int R>
Tensor<T, R> last_axis_contiguous(const Tensor<T, R>& t) {
  return t.stride(R - 1) == 1 || t.size(R - 1) <= 1 ? t : t.contiguous();
}

/// The kernel's masking for a batch of B, checking the key-padding mask's shape (B, Nk); pad
/// keeps a contiguous copy of the mask alive while the pointer is in use.
inline cpu::AttentionMasking attention_masking(const AttentionMask& mask, index_t B, index_t Nk,
                                               Tensor<std::uint8_t, 2>& pad) {
  cpu::AttentionMasking m{.causal = mask.causal};
  if (mask.key_padding) {
    PRETEXT_CHECK(mask.key_padding->size(0) == B && mask.key_padding->size(1) == Nk, shape_error,
                  "pretext::scaled_dot_product_attention: key_padding mask ",
                  shape_string(mask.key_padding->shape()), " should be (", B, ", ", Nk, ")");
    pad = mask.key_padding->contiguous();
    m.key_pad = pad.data();
  }
  return m;
}

}  // namespace detail

/// softmax(q k^T * scale + mask) v over (B, H, N, Dh) inputs -> (B, H, N, Dh); scale defaults to
/// 1 / sqrt(Dh). Differentiable in q, k and v. One fused kernel (backend/cpu/attention.hpp)
/// reads q, k and v through their strides: no copies, no materialised mask.
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
  const cpu::AttentionDims dims{B, H, N, Nk, Dh, v.size(3)};
  Tensor<std::uint8_t, 2> pad;
  const auto masking = detail::attention_masking(mask, B, Nk, pad);
  const auto qd = detail::last_axis_contiguous(q.data()),
             kd = detail::last_axis_contiguous(k.data()),
             vd = detail::last_axis_contiguous(v.data());
  Tensor<T, 4> out(Shape<4>{B, H, N, dims.Dv}), probs(Shape<4>{B, H, N, Nk});
  cpu::attention_forward(dims, s, masking, qd.data(), detail::head_strides(qd), kd.data(),
                         detail::head_strides(kd), vd.data(), detail::head_strides(vd), out.data(),
                         detail::head_strides(out), probs.data());
  auto sq = autograd::detail::save(qd), sk = autograd::detail::save(kd),
       sv = autograd::detail::save(vd), sp = autograd::detail::save(probs);
  return autograd::detail::record(
      "scaled_dot_product_attention", std::move(out),
      [=](const Tensor<T, 4>& g, const auto&) {
        constexpr const char* name = "scaled_dot_product_attention";
        const auto &qq = sq.get(name), &kk = sk.get(name), &vv = sv.get(name);
        const auto gd = detail::last_axis_contiguous(g);
        Tensor<T, 4> dq(qq.shape()), dk(kk.shape()), dv(vv.shape());
        const auto hs = [](const auto& t) { return detail::head_strides(t); };
        cpu::attention_backward(dims, s, gd.data(), hs(gd), qq.data(), hs(qq), kk.data(), hs(kk),
                                vv.data(), hs(vv), sp.get(name).data(), dq.data(), hs(dq),
                                dk.data(), hs(dk), dv.data(), hs(dv));
        return std::tuple(std::move(dq), std::move(dk), std::move(dv));
      },
      q, k, v);
}

namespace detail {

/// Self-attention straight from the packed projection qkv (B N, 3E) [q | k | v], heads of
/// Dh = E / H side by side in each block: -> (B, N, E) with the heads merged, which is what
/// the output projection reads. Same as splitting, permuting and calling
/// scaled_dot_product_attention, without the copies: the kernel reads the column blocks in
/// place and the backward writes d(qkv) directly.
template <floating T>
Var<T, 3> packed_self_attention(const Var<T, 2>& qkv, index_t B, index_t N, index_t H,
                                const AttentionMask& mask) {
  const index_t E = qkv.size(1) / 3, Dh = E / H;
  const cpu::AttentionDims dims{B, H, N, N, Dh, Dh};
  const T s = static_cast<T>(1.0 / std::sqrt(static_cast<double>(Dh)));
  Tensor<std::uint8_t, 2> pad;
  const auto masking = attention_masking(mask, B, N, pad);
  const Tensor<T, 2> x = qkv.data().contiguous();  // itself when already contiguous
  const cpu::HeadStrides in{N * 3 * E, Dh, 3 * E}, merged{N * E, Dh, E};
  Tensor<T, 3> out(Shape<3>{B, N, E});
  Tensor<T, 4> probs(Shape<4>{B, H, N, N});
  cpu::attention_forward(dims, s, masking, x.data(), in, x.data() + E, in, x.data() + 2 * E, in,
                         out.data(), merged, probs.data());
  auto sx = autograd::detail::save(x);
  auto sp = autograd::detail::save(probs);
  return autograd::detail::record(
      "self_attention", std::move(out),
      [=](const Tensor<T, 3>& g, const auto&) {
        const auto& xx = sx.get("self_attention");
        const Tensor<T, 3> gd = g.contiguous();
        Tensor<T, 2> dx(xx.shape());
        cpu::attention_backward(dims, s, gd.data(), merged, xx.data(), in, xx.data() + E, in,
                                xx.data() + 2 * E, in, sp.get("self_attention").data(), dx.data(),
                                in, dx.data() + E, in, dx.data() + 2 * E, in);
        return dx;
      },
      qkv);
}

}  // namespace detail

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
    const index_t B = x.size(0), N = x.size(1), H = heads_;
    const auto x2 = reshape(x, std::array<index_t, 2>{B * N, e_});
    const auto qkv = in_proj_bias.defined() ? linear(x2, in_proj_weight, in_proj_bias)
                                            : linear(x2, in_proj_weight);         // (B N, 3E)
    return out_proj(pretext::detail::packed_self_attention(qkv, B, N, H, mask));  // (B, N, E)
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
