// SPDX-License-Identifier: Apache-2.0
// Patches: images (B, C, H, W) and signals (B, C, L) to token sequences and back.
//   patchify2d   (B, C, H, W) -> (B, N, C p p), N = (H/p)(W/p), patches in row-major order and
//                each patch's values ordered (c, i, j) - the flattening of a conv weight.
//   unpatchify2d (B, N, C p p) -> (B, C, H, W), its inverse.
//   patchify1d / unpatchify1d likewise with (B, C, L) and (B, N, C p).
// PatchEmbed2d / PatchEmbed1d project each patch to D with "proj.weight" (D, C, p, p) /
// (D, C, p) and "proj.bias" (D): the layout of timm's conv patch embedding (a conv with
// kernel = stride = p), computed as one GEMM over the patchified input.
#pragma once

#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"

namespace pretext {

template <floating T>
Var<T, 3> patchify2d(const Var<T, 4>& x, index_t p) {
  const index_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  PRETEXT_CHECK(p > 0 && H % p == 0 && W % p == 0, shape_error, "pretext::patchify2d: image ",
                detail::shape_string(x.shape()), " does not divide into ", p, "x", p, " patches");
  const auto six = reshape(x, std::array<index_t, 6>{B, C, H / p, p, W / p, p});
  return reshape(permute(six, std::array<int, 6>{0, 2, 4, 1, 3, 5}),
                 std::array<index_t, 3>{B, (H / p) * (W / p), C * p * p});
}

template <floating T>
Var<T, 4> unpatchify2d(const Var<T, 3>& t, index_t channels, index_t height, index_t width,
                       index_t p) {
  const index_t B = t.size(0), gh = height / p, gw = width / p;
  PRETEXT_CHECK(p > 0 && height % p == 0 && width % p == 0 && t.size(1) == gh * gw &&
                    t.size(2) == channels * p * p,
                shape_error, "pretext::unpatchify2d: tokens ", detail::shape_string(t.shape()),
                " do not make a (", channels, ", ", height, ", ", width, ") image of ", p, "x", p,
                " patches");
  const auto six = reshape(t, std::array<index_t, 6>{B, gh, gw, channels, p, p});
  return reshape(permute(six, std::array<int, 6>{0, 3, 1, 4, 2, 5}),
                 std::array<index_t, 4>{B, channels, height, width});
}

template <floating T>
Var<T, 3> patchify1d(const Var<T, 3>& x, index_t p) {
  const index_t B = x.size(0), C = x.size(1), L = x.size(2);
  PRETEXT_CHECK(p > 0 && L % p == 0, shape_error, "pretext::patchify1d: signal ",
                detail::shape_string(x.shape()), " does not divide into patches of ", p);
  const auto four = reshape(x, std::array<index_t, 4>{B, C, L / p, p});
  return reshape(permute(four, std::array<int, 4>{0, 2, 1, 3}),
                 std::array<index_t, 3>{B, L / p, C * p});
}

template <floating T>
Var<T, 3> unpatchify1d(const Var<T, 3>& t, index_t channels, index_t length, index_t p) {
  const index_t B = t.size(0);
  PRETEXT_CHECK(p > 0 && length % p == 0 && t.size(1) == length / p && t.size(2) == channels * p,
                shape_error, "pretext::unpatchify1d: tokens ", detail::shape_string(t.shape()),
                " do not make a (", channels, ", ", length, ") signal of patches of ", p);
  const auto four = reshape(t, std::array<index_t, 4>{B, length / p, channels, p});
  return reshape(permute(four, std::array<int, 4>{0, 2, 1, 3}),
                 std::array<index_t, 3>{B, channels, length});
}

namespace nn {

/// Rank = 2 for images (proj.weight (D, C, p, p)), 1 for signals (proj.weight (D, C, p)).
template <int Dims, floating T = float>
class PatchEmbed : public Module<PatchEmbed<Dims, T>> {
  static_assert(Dims == 1 || Dims == 2, "pretext::nn::PatchEmbed: 1-D signals or 2-D images");

  struct Proj : Module<Proj> {
    using value_type = T;
    template <class V>
    void visit(V& v) {
      v.param("weight", weight);
      v.param("bias", bias);
    }
    Var<T, Dims + 2> weight;  ///< (D, C, p[, p])
    Var<T, 1> bias;           ///< (D)
  };

 public:
  using value_type = T;

  PatchEmbed(index_t channels, index_t patch, index_t dim, Generator& g)
      : channels_(channels), patch_(patch), dim_(dim) {
    PRETEXT_CHECK(channels > 0 && patch > 0 && dim > 0, config_error,
                  "pretext::nn::PatchEmbed: channels ", channels, ", patch ", patch, ", dim ", dim,
                  " must be positive");
    Shape<Dims + 2> ws{};
    ws[0] = dim;
    ws[1] = channels;
    for (int i = 0; i < Dims; ++i) ws[2 + i] = patch;
    Tensor<T, Dims + 2> w(ws);
    init::kaiming_uniform_(w, g, std::sqrt(5.0));  // Conv's default, as timm leaves it
    Tensor<T, 1> b(Shape<1>{dim});
    init::bias_uniform_(b, g, static_cast<double>(w.numel() / dim));
    proj.weight = Var<T, Dims + 2>(w, true);
    proj.bias = Var<T, 1>(b, true);
  }

  template <class V>
  void visit(V& v) {
    v.module("proj", proj);
  }

  index_t patch() const noexcept { return patch_; }
  index_t dim() const noexcept { return dim_; }

  /// (B, C, H, W) or (B, C, L) -> tokens (B, N, D).
  Var<T, 3> operator()(const Var<T, Dims + 2>& x) const {
    PRETEXT_CHECK(x.size(1) == channels_, shape_error, "pretext::nn::PatchEmbed: input ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " channels, the layer takes ", channels_);
    Var<T, 3> tokens;
    if constexpr (Dims == 2)
      tokens = patchify2d(x, patch_);
    else
      tokens = patchify1d(x, patch_);
    const auto w2 = reshape(proj.weight, std::array<index_t, 2>{dim_, proj.weight.numel() / dim_});
    return detail::on_rows(tokens, [&](const Var<T, 2>& m) { return linear(m, w2, proj.bias); });
  }

  Proj proj;

 private:
  index_t channels_, patch_, dim_;
};

using PatchEmbed2d = PatchEmbed<2>;
using PatchEmbed1d = PatchEmbed<1>;

}  // namespace nn
}  // namespace pretext
