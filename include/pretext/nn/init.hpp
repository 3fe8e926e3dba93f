// SPDX-License-Identifier: Apache-2.0
// Weight initialisation, as torch.nn.init: fans from the shape (out, in, kernel...), gains per
// nonlinearity, xavier/kaiming in uniform and normal forms, and truncated normal (ViT, BERT).
// Each fills a tensor in place from a Generator and returns it.
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"

#include <cmath>
#include <string_view>
#include <utility>

namespace pretext::nn::init {

/// (fan_in, fan_out) of a weight shaped (out, in, k...): in * prod(k) and out * prod(k).
template <class T, int R>
std::pair<double, double> fans(const Tensor<T, R>& w) {
  static_assert(R >= 1, "pretext::nn::init::fans: needs a tensor of rank 1 or more");
  if constexpr (R == 1) {
    return {static_cast<double>(w.size(0)), static_cast<double>(w.size(0))};
  } else {
    double field = 1;
    for (int i = 2; i < R; ++i) field *= static_cast<double>(w.size(i));
    return {static_cast<double>(w.size(1)) * field, static_cast<double>(w.size(0)) * field};
  }
}

/// The recommended gain of torch.nn.init.calculate_gain: linear/conv/sigmoid 1, tanh 5/3,
/// relu sqrt(2), leaky_relu sqrt(2 / (1 + a^2)), selu 3/4.
inline double gain(std::string_view nonlinearity, double a = 0.01) {
  if (nonlinearity == "linear" || nonlinearity == "conv" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  if (nonlinearity == "selu") return 0.75;
  pretext::detail::fail<config_error>(
      "pretext::nn::init::gain: unknown nonlinearity '", nonlinearity,
      "'; use linear, conv, sigmoid, tanh, relu, leaky_relu or selu");
}

enum class FanMode { fan_in, fan_out };

/// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
template <class T, int R>
const Tensor<T, R>& xavier_uniform_(const Tensor<T, R>& w, Generator& g, double gain = 1.0) {
  const auto [fi, fo] = fans(w);
  const double b = gain * std::sqrt(6.0 / (fi + fo));
  return uniform_(w, g, static_cast<T>(-b), static_cast<T>(b));
}
/// N(0, s) with s = gain * sqrt(2 / (fan_in + fan_out)).
template <class T, int R>
const Tensor<T, R>& xavier_normal_(const Tensor<T, R>& w, Generator& g, double gain = 1.0) {
  const auto [fi, fo] = fans(w);
  return normal_(w, g, T(0), static_cast<T>(gain * std::sqrt(2.0 / (fi + fo))));
}
/// U(-b, b) with b = gain(leaky_relu, a) * sqrt(3 / fan). With a = sqrt(5) this is the default
/// of nn.Linear and nn.Conv: b = 1 / sqrt(fan_in).
template <class T, int R>
const Tensor<T, R>& kaiming_uniform_(const Tensor<T, R>& w, Generator& g, double a = 0,
                                     FanMode mode = FanMode::fan_in,
                                     std::string_view nonlinearity = "leaky_relu") {
  const auto [fi, fo] = fans(w);
  const double fan = mode == FanMode::fan_in ? fi : fo;
  const double b = gain(nonlinearity, a) * std::sqrt(3.0 / fan);
  return uniform_(w, g, static_cast<T>(-b), static_cast<T>(b));
}
/// N(0, s) with s = gain(nonlinearity, a) / sqrt(fan).
template <class T, int R>
const Tensor<T, R>& kaiming_normal_(const Tensor<T, R>& w, Generator& g, double a = 0,
                                    FanMode mode = FanMode::fan_in,
                                    std::string_view nonlinearity = "leaky_relu") {
  const auto [fi, fo] = fans(w);
  const double fan = mode == FanMode::fan_in ? fi : fo;
  return normal_(w, g, T(0), static_cast<T>(gain(nonlinearity, a) / std::sqrt(fan)));
}
/// N(0, std) truncated to [-2 std, 2 std] (ViT and BERT use std 0.02).
template <class T, int R>
const Tensor<T, R>& trunc_normal_(const Tensor<T, R>& w, Generator& g, double std = 0.02) {
  return truncated_normal_(w, g, T(0), static_cast<T>(std), static_cast<T>(-2 * std),
                           static_cast<T>(2 * std));
}
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the default bias of nn.Linear and nn.Conv.
template <class T, int R>
const Tensor<T, R>& bias_uniform_(const Tensor<T, R>& b, Generator& g, double fan_in) {
  const double k = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  return uniform_(b, g, static_cast<T>(-k), static_cast<T>(k));
}

}  // namespace pretext::nn::init
