// SPDX-License-Identifier: Apache-2.0
// Convolution layers with torch.nn's parameter names, layouts and default initialisation:
//   Conv1d<Cin, Cout>           (B, Cin, L) -> (B, Cout, Lo);       weight (Cout, Cin / G, k)
//   Conv2d<Cin, Cout>           (B, Cin, H, W) -> (B, Cout, Ho, Wo); weight (Cout, Cin / G, kH, kW)
//   ConvTranspose2d<Cin, Cout>  (B, Cin, H, W) -> (B, Cout, Ho, Wo); weight (Cin, Cout / G, kH, kW)
// and "bias" (Cout). Channel counts are template arguments when known (in_width / out_width, so
// Sequential checks them at compile time) or `dynamic`. Initialisation is PyTorch's:
// kaiming_uniform(a = sqrt(5)) on the weight, i.e. U(+-1/sqrt(fan_in)), and U(+-1/sqrt(fan_in))
// on the bias, with fan_in = weight.size(1) kH kW (Cin / G kH kW; Cout / G kH kW when transposed).
//
//   nn::Conv2d<1, 32> conv(5, {.padding = 2}, gen);          // 5x5, same size
//   nn::Conv2d<dynamic, dynamic> c(32, 64, 3, {.stride = 2, .padding = 1, .bias = false}, gen);
#pragma once

#include <cmath>

#include "pretext/autograd/ops_conv.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/linear.hpp"  // detail::resolve_width
#include "pretext/nn/module.hpp"

namespace pretext::nn {

/// Options of the convolution layers, as torch.nn.Conv2d's keyword arguments. Each Size2 takes
/// one number or {height, width}; Conv1d takes one number. output_padding is for
/// ConvTranspose2d only.
struct ConvOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  index_t groups = 1;
  bool bias = true;
  Size2 output_padding = 0;
};

namespace detail {

/// Checks options a layer can reject before it sees an input.
inline void check_conv_layer(const char* layer, index_t in, index_t out, Size2 kernel,
                             const ConvOptions& o, bool transposed) {
  PRETEXT_CHECK(kernel.h > 0 && kernel.w > 0, config_error, "pretext::nn::", layer,
                ": kernel_size ", kernel, " must be positive");
  autograd::detail::check_conv_options(layer, o.stride, o.padding, o.dilation, o.groups);
  PRETEXT_CHECK(in % o.groups == 0 && out % o.groups == 0, config_error, "pretext::nn::", layer,
                ": in_channels ", in, " and out_channels ", out,
                " must both be divisible by groups = ", o.groups);
  PRETEXT_CHECK(transposed || o.output_padding == Size2(0), config_error, "pretext::nn::", layer,
                ": output_padding is an option of ConvTranspose2d only");
}

/// The one number of a 1-D option given as Size2 (both extents equal).
inline index_t single(const char* what, Size2 s) {
  PRETEXT_CHECK(s.h == s.w, config_error, "pretext::nn::Conv1d: ", what, " ", s,
                " has two extents; a 1-D layer takes one number");
  return s.w;
}

/// A weight (a, b, k...) with PyTorch's default initialisation, and its bias (n):
/// U(+-1/sqrt(fan_in)) with fan_in = b prod(k).
template <class T, int R>
Var<T, R> conv_weight(const Shape<R>& shape, Generator& g) {
  Tensor<T, R> w(shape);
  init::kaiming_uniform_(w, g, std::sqrt(5.0));
  return Var<T, R>(w, true);
}
template <class T, int R>
Var<T, 1> conv_bias(index_t n, const Var<T, R>& weight, Generator& g) {
  Tensor<T, 1> b(Shape<1>{n});
  init::bias_uniform_(b, g, init::fans(weight.data()).first);
  return Var<T, 1>(b, true);
}

}  // namespace detail

template <index_t Cin, index_t Cout, floating T = float>
class Conv2d : public Module<Conv2d<Cin, Cout, T>> {
  static_assert(Cin == dynamic || Cin > 0, "pretext::nn::Conv2d: Cin must be positive or dynamic");
  static_assert(Cout == dynamic || Cout > 0,
                "pretext::nn::Conv2d: Cout must be positive or dynamic");

 public:
  using value_type = T;
  static constexpr index_t in_width = Cin;  ///< channels, for Sequential's static check
  static constexpr index_t out_width = Cout;

  /// Run-time channel counts (equal to the static ones where those are given).
  Conv2d(index_t in, index_t out, Size2 kernel, const ConvOptions& options, Generator& g)
      : in_(detail::resolve_width("Conv2d", "in_channels", Cin, in)),
        out_(detail::resolve_width("Conv2d", "out_channels", Cout, out)),
        kernel_(kernel),
        opt_(options) {
    detail::check_conv_layer("Conv2d", in_, out_, kernel, opt_, false);
    weight = detail::conv_weight<T, 4>(Shape<4>{out_, in_ / opt_.groups, kernel.h, kernel.w}, g);
    if (opt_.bias) bias = detail::conv_bias(out_, weight, g);
  }
  Conv2d(index_t in, index_t out, Size2 kernel, Generator& g) : Conv2d(in, out, kernel, {}, g) {}
  Conv2d(index_t in, index_t out, Size2 kernel, const ConvOptions& options = {})
      : Conv2d(in, out, kernel, options, default_generator()) {}
  /// Static channel counts.
  Conv2d(Size2 kernel, const ConvOptions& options,
         Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : Conv2d(Cin, Cout, kernel, options, g) {}
  Conv2d(Size2 kernel, Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : Conv2d(Cin, Cout, kernel, {}, g) {}
  explicit Conv2d(Size2 kernel,
                  const ConvOptions& options = {}) requires(Cin != dynamic && Cout != dynamic)
      : Conv2d(Cin, Cout, kernel, options, default_generator()) {}

  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
  }

  index_t in_channels() const noexcept { return in_; }
  index_t out_channels() const noexcept { return out_; }
  Size2 kernel_size() const noexcept { return kernel_; }
  const ConvOptions& options() const noexcept { return opt_; }

  /// x (B, Cin, H, W) -> (B, Cout, Ho, Wo).
  Var<T, 4> operator()(const Var<T, 4>& x) const {
    PRETEXT_CHECK(x.size(1) == in_, shape_error, "pretext::nn::Conv2d: input of shape ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " channels but the layer takes ", in_);
    return conv2d(x, weight, bias.defined() ? &bias : nullptr, opt_.stride, opt_.padding,
                  opt_.dilation, opt_.groups);
  }

  Var<T, 4> weight;  ///< (Cout, Cin / groups, kH, kW)
  Var<T, 1> bias;    ///< (Cout), undefined without bias

 private:
  index_t in_, out_;
  Size2 kernel_;
  ConvOptions opt_;
};

template <index_t Cin, index_t Cout, floating T = float>
class Conv1d : public Module<Conv1d<Cin, Cout, T>> {
  static_assert(Cin == dynamic || Cin > 0, "pretext::nn::Conv1d: Cin must be positive or dynamic");
  static_assert(Cout == dynamic || Cout > 0,
                "pretext::nn::Conv1d: Cout must be positive or dynamic");

 public:
  using value_type = T;
  static constexpr index_t in_width = Cin;
  static constexpr index_t out_width = Cout;

  Conv1d(index_t in, index_t out, index_t kernel, const ConvOptions& options, Generator& g)
      : in_(detail::resolve_width("Conv1d", "in_channels", Cin, in)),
        out_(detail::resolve_width("Conv1d", "out_channels", Cout, out)),
        kernel_(kernel),
        stride_(detail::single("stride", options.stride)),
        padding_(detail::single("padding", options.padding)),
        dilation_(detail::single("dilation", options.dilation)),
        groups_(options.groups) {
    detail::check_conv_layer("Conv1d", in_, out_, Size2(kernel), options, false);
    weight = detail::conv_weight<T, 3>(Shape<3>{out_, in_ / groups_, kernel}, g);
    if (options.bias) bias = detail::conv_bias(out_, weight, g);
  }
  Conv1d(index_t in, index_t out, index_t kernel, Generator& g) : Conv1d(in, out, kernel, {}, g) {}
  Conv1d(index_t in, index_t out, index_t kernel, const ConvOptions& options = {})
      : Conv1d(in, out, kernel, options, default_generator()) {}
  Conv1d(index_t kernel, const ConvOptions& options,
         Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : Conv1d(Cin, Cout, kernel, options, g) {}
  Conv1d(index_t kernel, Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : Conv1d(Cin, Cout, kernel, {}, g) {}
  explicit Conv1d(index_t kernel,
                  const ConvOptions& options = {}) requires(Cin != dynamic && Cout != dynamic)
      : Conv1d(Cin, Cout, kernel, options, default_generator()) {}

  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
  }

  index_t in_channels() const noexcept { return in_; }
  index_t out_channels() const noexcept { return out_; }
  index_t kernel_size() const noexcept { return kernel_; }

  /// x (B, Cin, L) -> (B, Cout, Lo).
  Var<T, 3> operator()(const Var<T, 3>& x) const {
    PRETEXT_CHECK(x.size(1) == in_, shape_error, "pretext::nn::Conv1d: input of shape ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " channels but the layer takes ", in_);
    return conv1d(x, weight, bias.defined() ? &bias : nullptr, stride_, padding_, dilation_,
                  groups_);
  }

  Var<T, 3> weight;  ///< (Cout, Cin / groups, k)
  Var<T, 1> bias;    ///< (Cout), undefined without bias

 private:
  index_t in_, out_, kernel_, stride_, padding_, dilation_, groups_;
};

template <index_t Cin, index_t Cout, floating T = float>
class ConvTranspose2d : public Module<ConvTranspose2d<Cin, Cout, T>> {
  static_assert(Cin == dynamic || Cin > 0,
                "pretext::nn::ConvTranspose2d: Cin must be positive or dynamic");
  static_assert(Cout == dynamic || Cout > 0,
                "pretext::nn::ConvTranspose2d: Cout must be positive or dynamic");

 public:
  using value_type = T;
  static constexpr index_t in_width = Cin;
  static constexpr index_t out_width = Cout;

  ConvTranspose2d(index_t in, index_t out, Size2 kernel, const ConvOptions& options, Generator& g)
      : in_(detail::resolve_width("ConvTranspose2d", "in_channels", Cin, in)),
        out_(detail::resolve_width("ConvTranspose2d", "out_channels", Cout, out)),
        kernel_(kernel),
        opt_(options) {
    detail::check_conv_layer("ConvTranspose2d", in_, out_, kernel, opt_, true);
    weight = detail::conv_weight<T, 4>(Shape<4>{in_, out_ / opt_.groups, kernel.h, kernel.w}, g);
    if (opt_.bias) bias = detail::conv_bias(out_, weight, g);
  }
  ConvTranspose2d(index_t in, index_t out, Size2 kernel, Generator& g)
      : ConvTranspose2d(in, out, kernel, {}, g) {}
  ConvTranspose2d(index_t in, index_t out, Size2 kernel, const ConvOptions& options = {})
      : ConvTranspose2d(in, out, kernel, options, default_generator()) {}
  ConvTranspose2d(Size2 kernel, const ConvOptions& options,
                  Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : ConvTranspose2d(Cin, Cout, kernel, options, g) {}
  ConvTranspose2d(Size2 kernel, Generator& g) requires(Cin != dynamic && Cout != dynamic)
      : ConvTranspose2d(Cin, Cout, kernel, {}, g) {}
  explicit ConvTranspose2d(Size2 kernel, const ConvOptions& options = {}) requires(Cin != dynamic &&
                                                                                   Cout != dynamic)
      : ConvTranspose2d(Cin, Cout, kernel, options, default_generator()) {}

  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
  }

  index_t in_channels() const noexcept { return in_; }
  index_t out_channels() const noexcept { return out_; }
  Size2 kernel_size() const noexcept { return kernel_; }
  const ConvOptions& options() const noexcept { return opt_; }

  /// x (B, Cin, H, W) -> (B, Cout, Ho, Wo), Ho = (H - 1) stride - 2 padding + dilation (kH - 1)
  /// + output_padding + 1.
  Var<T, 4> operator()(const Var<T, 4>& x) const {
    PRETEXT_CHECK(x.size(1) == in_, shape_error, "pretext::nn::ConvTranspose2d: input of shape ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(1),
                  " channels but the layer takes ", in_);
    return conv_transpose2d(x, weight, bias.defined() ? &bias : nullptr, opt_.stride, opt_.padding,
                            opt_.output_padding, opt_.groups, opt_.dilation);
  }

  Var<T, 4> weight;  ///< (Cin, Cout / groups, kH, kW)
  Var<T, 1> bias;    ///< (Cout), undefined without bias

 private:
  index_t in_, out_;
  Size2 kernel_;
  ConvOptions opt_;
};

}  // namespace pretext::nn
