// SPDX-License-Identifier: Apache-2.0
// ImagePatches<T>: images as sequences of non-overlapping p x p patches (ViT, MAE).
//   batch   (B, C H W) flattened rows, as Fashion-MNIST loads (B, 784); (B, C, H, W) also taken
//   tokens  (B, N, C p p), N = (H/p)(W/p): patchify2d's order, patches row-major over the grid
//           (token n = (y/p) gw + x/p) and each patch's values ordered (c, i, j), so pixel
//           (c, y, x) is column c p p + (y mod p) p + (x mod p)
//   from_tokens (B, N, C p p) -> (B, C H W), the exact inverse (for pictures of reconstructions)
#pragma once

#include "pretext/modality/adapter.hpp"
#include "pretext/nn/patch.hpp"

#include <array>
#include <cstdint>

namespace pretext::modality {

template <floating T = float>
class ImagePatches {
 public:
  using value_type = T;
  using batch_type = Tensor<T, 2>;  ///< (B, C H W)
  using token_type = Tensor<T, 3>;  ///< (B, N, C p p)
  static constexpr bool continuous = true;

  /// Images of channels x height x width cut into patch x patch squares. Throws config_error for
  /// non-positive sizes and shape_error when the patch does not divide the image.
  ImagePatches(index_t channels, index_t height, index_t width, index_t patch,
               bool normalize_targets = false)
      : normalize_targets(normalize_targets), c_(channels), h_(height), w_(width), p_(patch) {
    PRETEXT_CHECK(channels > 0 && height > 0 && width > 0 && patch > 0, config_error,
                  "pretext::modality::ImagePatches: channels ", channels, ", height ", height,
                  ", width ", width, " and patch ", patch, " must be positive");
    PRETEXT_CHECK(height % patch == 0 && width % patch == 0, shape_error,
                  "pretext::modality::ImagePatches: a ", height, "x", width,
                  " image does not divide into ", patch, "x", patch,
                  " patches; choose a patch that divides both sides or crop the images");
  }

  /// MAE's norm_pix_loss: the loss compares predictions with each target patch standardised
  /// over its own values (see normalize_tokens).
  bool normalize_targets = false;

  index_t channels() const noexcept { return c_; }
  index_t height() const noexcept { return h_; }
  index_t width() const noexcept { return w_; }
  index_t patch() const noexcept { return p_; }
  index_t grid_h() const noexcept { return h_ / p_; }  ///< patches per column
  index_t grid_w() const noexcept { return w_ / p_; }  ///< patches per row
  index_t num_tokens() const noexcept { return grid_h() * grid_w(); }
  index_t target_dim() const noexcept { return c_ * p_ * p_; }
  index_t sample_size() const noexcept { return c_ * h_ * w_; }  ///< values in one batch row

  /// (B, C H W) -> (B, N, C p p); a new tensor, never a view of x.
  token_type tokens(const Tensor<T, 2>& x) const {
    PRETEXT_CHECK(
        x.size(1) == sample_size(), shape_error, "pretext::modality::ImagePatches: batch ",
        pretext::detail::shape_string(x.shape()), " has ", x.size(1),
        " values per row; the adapter takes C*H*W = ", c_, "*", h_, "*", w_, " = ", sample_size(),
        " (rows of a (B, ", sample_size(), ") batch, or (B, ", c_, ", ", h_, ", ", w_, ") images)");
    const index_t B = x.size(0), gh = grid_h(), gw = grid_w();
    return x.reshape(std::array<index_t, 6>{B, c_, gh, p_, gw, p_})
        .permute({0, 2, 4, 1, 3, 5})
        .clone()
        .reshape(std::array<index_t, 3>{B, gh * gw, target_dim()});
  }
  /// (B, C, H, W) -> (B, N, C p p).
  token_type tokens(const Tensor<T, 4>& x) const {
    PRETEXT_CHECK(x.size(1) == c_ && x.size(2) == h_ && x.size(3) == w_, shape_error,
                  "pretext::modality::ImagePatches: images ",
                  pretext::detail::shape_string(x.shape()), " are not (B, ", c_, ", ", h_, ", ", w_,
                  ") as the adapter was configured");
    return tokens(x.reshape(std::array<index_t, 2>{x.size(0), sample_size()}));
  }

  /// (B, N, C p p) -> (B, C H W): the inverse of tokens().
  batch_type from_tokens(const Tensor<T, 3>& t) const {
    check_tokens(t.shape());
    const index_t B = t.size(0);
    return t.reshape(std::array<index_t, 6>{B, grid_h(), grid_w(), c_, p_, p_})
        .permute({0, 3, 1, 4, 2, 5})
        .clone()
        .reshape(std::array<index_t, 2>{B, sample_size()});
  }
  /// The same on the tape: predicted patches (B, N, C p p) -> (B, C H W), differentiable.
  Var<T, 2> from_tokens(const Var<T, 3>& t) const {
    check_tokens(t.shape());
    return reshape(unpatchify2d(t, c_, h_, w_, p_),
                   std::array<index_t, 2>{t.size(0), sample_size()});
  }

  /// MSE of pred (B, M, C p p) against the patches at idx (B, M) (see adapter.hpp).
  Var<T, 0> prediction_loss(const Var<T, 3>& pred, const token_type& tokens,
                            const Tensor<std::int64_t, 2>& idx) const {
    check_tokens(tokens.shape());
    return continuous_prediction_loss(pred, tokens, idx, normalize_targets,
                                      "pretext::modality::ImagePatches::prediction_loss");
  }

 private:
  void check_tokens(const Shape<3>& s) const {
    PRETEXT_CHECK(s[1] == num_tokens() && s[2] == target_dim(), shape_error,
                  "pretext::modality::ImagePatches: tokens ", pretext::detail::shape_string(s),
                  " are not (B, ", num_tokens(), ", ", target_dim(), ") - the ", grid_h(), "x",
                  grid_w(), " patches of ", c_, "x", p_, "x", p_, " values this adapter makes");
  }

  index_t c_, h_, w_, p_;
};

}  // namespace pretext::modality
