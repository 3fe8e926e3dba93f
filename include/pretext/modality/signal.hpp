// SPDX-License-Identifier: Apache-2.0
// SignalFrames<T>: audio and time series as sequences of non-overlapping frames.
//   batch   (B, C L) rows, channel-major (channel c's L samples, then channel c + 1's); the
//           (B, C, L) form is also taken
//   tokens  (B, N, C f), N = L / f: patchify1d's order, so token n holds samples [n f, (n+1) f)
//           of every channel and sample (c, t) is column c f + (t mod f) of token t / f
//   from_tokens (B, N, C f) -> (B, C L), the exact inverse
// Frames do not overlap: an overlapping (hop < frame) framing has no unique inverse to
// reconstruct from; window the signal before the adapter if a model wants that.
#pragma once

#include "pretext/modality/adapter.hpp"
#include "pretext/nn/patch.hpp"

#include <array>
#include <cstdint>

namespace pretext::modality {

template <floating T = float>
class SignalFrames {
 public:
  using value_type = T;
  using batch_type = Tensor<T, 2>;  ///< (B, C L)
  using token_type = Tensor<T, 3>;  ///< (B, N, C f)
  static constexpr bool continuous = true;

  /// Signals of `channels` channels and `length` samples cut into frames of `frame` samples.
  /// Throws config_error for non-positive sizes and shape_error when frame does not divide
  /// length.
  SignalFrames(index_t channels, index_t length, index_t frame, bool normalize_targets = false)
      : normalize_targets(normalize_targets), c_(channels), l_(length), f_(frame) {
    PRETEXT_CHECK(channels > 0 && length > 0 && frame > 0, config_error,
                  "pretext::modality::SignalFrames: channels ", channels, ", length ", length,
                  " and frame ", frame, " must be positive");
    PRETEXT_CHECK(length % frame == 0, shape_error, "pretext::modality::SignalFrames: length ",
                  length, " does not divide into frames of ", frame,
                  "; crop or pad the signals to a multiple of ", frame, " (",
                  length / frame * frame, " or ", (length / frame + 1) * frame,
                  ") or choose a frame that divides ", length);
  }

  /// Targets standardised per frame (MAE's norm_pix_loss; see normalize_tokens).
  bool normalize_targets = false;

  index_t channels() const noexcept { return c_; }
  index_t length() const noexcept { return l_; }
  index_t frame() const noexcept { return f_; }
  index_t num_tokens() const noexcept { return l_ / f_; }
  index_t target_dim() const noexcept { return c_ * f_; }
  index_t sample_size() const noexcept { return c_ * l_; }  ///< values in one batch row

  /// (B, C L) -> (B, N, C f); a new tensor, never a view of x.
  token_type tokens(const Tensor<T, 2>& x) const {
    PRETEXT_CHECK(x.size(1) == sample_size(), shape_error,
                  "pretext::modality::SignalFrames: batch ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " values per row; the adapter takes C*L = ", c_, "*", l_, " = ", sample_size(),
                  " (channel-major rows, or (B, ", c_, ", ", l_, ") signals)");
    const index_t B = x.size(0);
    return x.reshape(std::array<index_t, 4>{B, c_, num_tokens(), f_})
        .permute({0, 2, 1, 3})
        .clone()
        .reshape(std::array<index_t, 3>{B, num_tokens(), target_dim()});
  }
  /// (B, C, L) -> (B, N, C f).
  token_type tokens(const Tensor<T, 3>& x) const {
    PRETEXT_CHECK(x.size(1) == c_ && x.size(2) == l_, shape_error,
                  "pretext::modality::SignalFrames: signals ",
                  pretext::detail::shape_string(x.shape()), " are not (B, ", c_, ", ", l_,
                  ") as the adapter was configured");
    return tokens(x.reshape(std::array<index_t, 2>{x.size(0), sample_size()}));
  }

  /// (B, N, C f) -> (B, C L): the inverse of tokens().
  batch_type from_tokens(const Tensor<T, 3>& t) const {
    check_tokens(t.shape());
    const index_t B = t.size(0);
    return t.reshape(std::array<index_t, 4>{B, num_tokens(), c_, f_})
        .permute({0, 2, 1, 3})
        .clone()
        .reshape(std::array<index_t, 2>{B, sample_size()});
  }
  /// The same on the tape, differentiable.
  Var<T, 2> from_tokens(const Var<T, 3>& t) const {
    check_tokens(t.shape());
    return reshape(unpatchify1d(t, c_, l_, f_), std::array<index_t, 2>{t.size(0), sample_size()});
  }

  /// MSE of pred (B, M, C f) against the frames at idx (B, M) (see adapter.hpp).
  Var<T, 0> prediction_loss(const Var<T, 3>& pred, const token_type& tokens,
                            const Tensor<std::int64_t, 2>& idx) const {
    check_tokens(tokens.shape());
    return continuous_prediction_loss(pred, tokens, idx, normalize_targets,
                                      "pretext::modality::SignalFrames::prediction_loss");
  }

 private:
  void check_tokens(const Shape<3>& s) const {
    PRETEXT_CHECK(s[1] == num_tokens() && s[2] == target_dim(), shape_error,
                  "pretext::modality::SignalFrames: tokens ", pretext::detail::shape_string(s),
                  " are not (B, ", num_tokens(), ", ", target_dim(), ") - the ", num_tokens(),
                  " frames of ", c_, "x", f_, " values this adapter makes");
  }

  index_t c_, l_, f_;
};

}  // namespace pretext::modality
