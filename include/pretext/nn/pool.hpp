// SPDX-License-Identifier: Apache-2.0
// Pooling layers, as torch.nn's (floor mode): they own no parameters and keep the channel count
// (so Sequential's width check passes through them).
//   MaxPool2d / AvgPool2d   (B, C, H, W) -> (B, C, Ho, Wo); stride defaults to the kernel
//   MaxPool1d / AvgPool1d   (B, C, L) -> (B, C, Lo)
//   GlobalAvgPool2d         (B, C, H, W) -> (B, C), the mean of each channel
//
//   nn::MaxPool2d pool(2);                 // 2x2, stride 2
//   nn::AvgPool2d avg(3, 1, 1);            // 3x3, stride 1, padding 1
#pragma once

#include "pretext/autograd/ops_conv.hpp"
#include "pretext/nn/module.hpp"

namespace pretext::nn {

struct MaxPool2d : Stateless<MaxPool2d> {
  explicit MaxPool2d(Size2 kernel) : MaxPool2d(kernel, kernel) {}
  MaxPool2d(Size2 kernel, Size2 stride, Size2 padding = 0)
      : kernel(kernel), stride(stride), padding(padding) {}

  /// x (B, C, H, W) -> (B, C, Ho, Wo).
  template <floating T>
  Var<T, 4> operator()(const Var<T, 4>& x) const {
    return max_pool2d(x, kernel, stride, padding);
  }

  Size2 kernel, stride, padding;
};

struct AvgPool2d : Stateless<AvgPool2d> {
  explicit AvgPool2d(Size2 kernel) : AvgPool2d(kernel, kernel) {}
  AvgPool2d(Size2 kernel, Size2 stride, Size2 padding = 0, bool count_include_pad = true)
      : kernel(kernel), stride(stride), padding(padding), count_include_pad(count_include_pad) {}

  /// x (B, C, H, W) -> (B, C, Ho, Wo).
  template <floating T>
  Var<T, 4> operator()(const Var<T, 4>& x) const {
    return avg_pool2d(x, kernel, stride, padding, count_include_pad);
  }

  Size2 kernel, stride, padding;
  bool count_include_pad = true;
};

struct MaxPool1d : Stateless<MaxPool1d> {
  explicit MaxPool1d(index_t kernel) : MaxPool1d(kernel, kernel) {}
  MaxPool1d(index_t kernel, index_t stride, index_t padding = 0)
      : kernel(kernel), stride(stride), padding(padding) {}

  /// x (B, C, L) -> (B, C, Lo).
  template <floating T>
  Var<T, 3> operator()(const Var<T, 3>& x) const {
    return max_pool1d(x, kernel, stride, padding);
  }

  index_t kernel, stride, padding;
};

struct AvgPool1d : Stateless<AvgPool1d> {
  explicit AvgPool1d(index_t kernel) : AvgPool1d(kernel, kernel) {}
  AvgPool1d(index_t kernel, index_t stride, index_t padding = 0, bool count_include_pad = true)
      : kernel(kernel), stride(stride), padding(padding), count_include_pad(count_include_pad) {}

  /// x (B, C, L) -> (B, C, Lo).
  template <floating T>
  Var<T, 3> operator()(const Var<T, 3>& x) const {
    return avg_pool1d(x, kernel, stride, padding, count_include_pad);
  }

  index_t kernel, stride, padding;
  bool count_include_pad = true;
};

/// (B, C, H, W) -> (B, C): torch.nn.AdaptiveAvgPool2d(1) followed by Flatten.
struct GlobalAvgPool2d : Stateless<GlobalAvgPool2d> {
  template <floating T>
  Var<T, 2> operator()(const Var<T, 4>& x) const {
    return global_avg_pool2d(x);
  }
};

}  // namespace pretext::nn
