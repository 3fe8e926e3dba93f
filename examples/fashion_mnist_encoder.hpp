// SPDX-License-Identifier: Apache-2.0
// The small CNN encoder that the pre-training demo trains and the floors compare against, and
// the features a linear probe or kNN reads from it.
//
// Shapes: (B, 784) pixel rows -> (B, 1, 28, 28) -conv3x3(32),relu,pool-> (B, 32, 14, 14)
//         -conv3x3(K),relu,pool-> (B, K, 7, 7) -flatten-> (B, 49 K) conv features
//         -linear,relu-> (B, 128) the encoder's output (what projectors and heads read).
// K = 64 (3136 conv features) unless the build sets PRETEXT_DEMO_CONV2_CHANNELS (CMake cache
// variable of the same name; scripts/demo.sh passes the environment variable): the README
// measures a wider second layer (K = 128, 192) against the default. The CMake option
// PRETEXT_DEMO_CONV_BN (environment variable of the same name for demo.sh, ON or OFF) puts batch
// norm between each conv and its ReLU; the README measures it. Without it those two layers are
// nn::Identity, so that every layer keeps its index either way.
#pragma once

#include <pretext/eval.hpp>
#include <pretext/pretext.hpp>

#include <string>
#include <type_traits>

#ifndef PRETEXT_DEMO_CONV2_CHANNELS
#define PRETEXT_DEMO_CONV2_CHANNELS 64
#endif
#ifndef PRETEXT_DEMO_CONV_BN
#define PRETEXT_DEMO_CONV_BN 0
#endif

namespace example {

using namespace pretext;

/// K, the second conv layer's output channels, and its default.
inline constexpr index_t conv2_channels = PRETEXT_DEMO_CONV2_CHANNELS, default_conv2_channels = 64;
static_assert(conv2_channels >= 1, "PRETEXT_DEMO_CONV2_CHANNELS must be a positive integer");
/// Whether the build puts batch norm between each conv layer and its ReLU.
inline constexpr bool conv_bn = PRETEXT_DEMO_CONV_BN;

/// What a results table's title adds for this build's encoder: nothing for the default, else
/// "; encoder with K channels in conv2" and/or "; batch norm after each conv", so that a
/// variant's results.json says which it is.
inline std::string encoder_title_note() {
  std::string note;
  if (conv2_channels != default_conv2_channels)
    note += "; encoder with " + std::to_string(conv2_channels) + " channels in conv2";
  if (conv_bn) note += "; batch norm after each conv";
  return note;
}

/// The encoder's output width and the width of its conv features (K x 7 x 7).
inline constexpr index_t encoder_width = 128, conv_width = conv2_channels * 7 * 7;

/// (B, 784) pixel rows as (B, 1, 28, 28) images.
struct ToImage : nn::Stateless<ToImage> {
  static constexpr index_t in_width = 784;
  static constexpr index_t out_width = nn::dynamic;
  template <floating T>
  Var<T, 4> operator()(const Var<T, 2>& x) const {
    return reshape(x, std::array<index_t, 4>{x.size(0), 1, 28, 28});
  }
};

template <index_t C>
using ConvNorm = std::conditional_t<conv_bn, nn::BatchNorm<C>, nn::Identity>;

using Encoder =
    nn::Sequential<ToImage, nn::Conv2d<1, 32>, ConvNorm<32>, nn::ReLU, nn::MaxPool2d,
                   nn::Conv2d<32, conv2_channels>, ConvNorm<conv2_channels>, nn::ReLU,
                   nn::MaxPool2d, nn::Flatten, nn::Linear<conv_width, encoder_width>, nn::ReLU>;

/// The layers draw their weights last to first, in named statements: compilers evaluate a
/// call's arguments in different orders (g++ right to left, clang left to right), so drawing
/// inside one constructor call would give each compiler other weights. Last to first is the
/// order the README's numbers were measured with (g++).
inline Encoder make_encoder(Generator& g) {
  const nn::ConvOptions same{.padding = 1};
  nn::Linear<conv_width, encoder_width> fc(g);
  nn::Conv2d<32, conv2_channels> conv2(3, same, g);
  nn::Conv2d<1, 32> conv1(3, same, g);
  return Encoder({}, std::move(conv1), {}, {}, nn::MaxPool2d(2), std::move(conv2), {}, {},
                 nn::MaxPool2d(2), {}, std::move(fc), {});
}

/// The encoder up to its flatten: (B, 784) -> (B, conv_width) conv features. Fine-tuning starts
/// from it with the linear probe's head (LP-FT), since the probe reads these features.
using ConvEncoder = nn::Sequential<ToImage, nn::Conv2d<1, 32>, ConvNorm<32>, nn::ReLU,
                                   nn::MaxPool2d, nn::Conv2d<32, conv2_channels>,
                                   ConvNorm<conv2_channels>, nn::ReLU, nn::MaxPool2d, nn::Flatten>;

/// A copy of e's conv layers as a ConvEncoder.
inline ConvEncoder conv_encoder(const Encoder& e) {
  return ConvEncoder({}, e.get<1>().clone(), e.get<2>().clone(), {}, nn::MaxPool2d(2),
                     e.get<5>().clone(), e.get<6>().clone(), {}, nn::MaxPool2d(2), {});
}

/// The conv features (B, conv_width) of pixel rows (B, 784): the encoder up to its flatten, which
/// is what the probe and kNN read (the reference protocol probes frozen conv features).
inline Var<float, 2> conv_features(const Encoder& e, const Var<float, 2>& x) {
  const auto h = e.get<4>()(e.get<3>()(e.get<2>()(e.get<1>()(e.get<0>()(x)))));
  return e.get<9>()(e.get<8>()(e.get<7>()(e.get<6>()(e.get<5>()(h)))));
}

/// The frozen conv features (N, conv_width) of pixel rows x (N, 784), in batches of 500, from a
/// copy of e in evaluation mode (batch norm, in a build with it, reads its running statistics).
inline Tensor<float, 2> frozen_conv_features(const Encoder& e, const Tensor<float, 2>& x) {
  Encoder frozen = e.clone();
  frozen.eval();
  return eval::extract_features(
      [&frozen](const Var<float, 2>& v) { return conv_features(frozen, v); }, x, 500);
}

}  // namespace example
