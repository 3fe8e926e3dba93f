// SPDX-License-Identifier: Apache-2.0
// Differentiable convolution and pooling on NCHW batches, as torch.nn.functional (G = groups):
//   conv2d            x (B, Cin, H, W), weight (Cout, Cin/G, kH, kW) -> (B, Cout, Ho, Wo)
//   conv1d            x (B, Cin, L),    weight (Cout, Cin/G, k)      -> (B, Cout, Lo)
//   conv_transpose2d  x (B, Cin, H, W), weight (Cin, Cout/G, kH, kW) -> (B, Cout, Ho, Wo)
//   conv_transpose1d  x (B, Cin, L),    weight (Cin, Cout/G, k)      -> (B, Cout, Lo)
//   max_pool2d, avg_pool2d (B, C, H, W) -> (B, C, Ho, Wo); max_pool1d, avg_pool1d (B, C, L)
//   global_avg_pool2d (B, C, H, W) -> (B, C)
// each convolution with an optional bias (Cout),
// with Ho = floor((H + 2 padding - dilation (k - 1) - 1) / stride) + 1 for convolutions and pools
// (floor mode), and Ho = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1 for
// transposed convolutions.
//
// Convolutions are im2col + GEMM per image and group (see backend/cpu/conv.hpp): the forward
// pass is W (Cout, Cin/G kH kW) x col (Cin/G kH kW, Ho Wo), the input gradient col2im(W^T dy),
// the weight gradient dy col^T summed over the batch; col is recomputed in backward rather than
// kept (it is kH kW times the input). Threads take whole images. A transposed convolution is the
// same three products with the roles of forward and input gradient exchanged.
//
// Arguments come in torch.nn.functional's order, also where it is irregular:
// conv2d(x, w, bias, stride, padding, dilation, groups) but
// conv_transpose2d(x, w, bias, stride, padding, output_padding, groups, dilation).
// Options follow PyTorch's int-or-pair convention: Size2 takes one number for both axes or
// {height, width}. Invalid options (a stride or dilation below 1, negative padding) throw
// config_error; shapes that do not fit (channels not divisible by groups, the weight's channels
// differing from the input's, a kernel larger than the padded input) throw shape_error naming
// the op and the shapes.
#pragma once

#include <cstdint>
#include <ostream>
#include <tuple>

#include "pretext/autograd/ops_view.hpp"
#include "pretext/autograd/variable.hpp"
#include "pretext/backend/cpu/conv.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext {

/// Two extents (height, width) of a 2-D option; one number sets both, as in PyTorch's
/// `stride=2` versus `stride=(2, 1)`: conv2d(x, w, b, 2) or conv2d(x, w, b, {2, 1}).
struct Size2 {
  index_t h = 0, w = 0;
  constexpr Size2() = default;
  constexpr Size2(index_t both) noexcept : h(both), w(both) {}  // NOLINT: implicit on purpose
  constexpr Size2(index_t height, index_t width) noexcept : h(height), w(width) {}
  friend constexpr bool operator==(const Size2&, const Size2&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Size2& s) {
    return os << "(" << s.h << ", " << s.w << ")";
  }
};

namespace autograd::detail {

using pretext::detail::shape_string;

inline void check_conv_options(const char* op, Size2 stride, Size2 padding, Size2 dilation,
                               index_t groups) {
  PRETEXT_CHECK(stride.h > 0 && stride.w > 0, config_error, "pretext::", op, ": stride ", stride,
                " must be positive");
  PRETEXT_CHECK(padding.h >= 0 && padding.w >= 0, config_error, "pretext::", op, ": padding ",
                padding, " must not be negative");
  PRETEXT_CHECK(dilation.h > 0 && dilation.w > 0, config_error, "pretext::", op, ": dilation ",
                dilation, " must be positive");
  PRETEXT_CHECK(groups > 0, config_error, "pretext::", op, ": groups ", groups,
                " must be positive");
}

/// The geometry of conv2d(x, w) after checking every precondition. Rank 3 shapes (B, C, L) and
/// (Cout, Cin / G, k) are conv1d's, taken as H = kH = 1 (messages show them as given).
template <std::size_t N>
cpu::ConvGeometry conv2d_geometry(const char* op, const std::array<index_t, N>& xs,
                                  const std::array<index_t, N>& ws, const Shape<1>* bias,
                                  Size2 stride, Size2 padding, Size2 dilation, index_t groups) {
  static_assert(N == 3 || N == 4);
  const Shape<4> x =
      N == 4 ? Shape<4>{xs[0], xs[1], xs[2], xs[N - 1]} : Shape<4>{xs[0], xs[1], 1, xs[N - 1]};
  const Shape<4> w =
      N == 4 ? Shape<4>{ws[0], ws[1], ws[2], ws[N - 1]} : Shape<4>{ws[0], ws[1], 1, ws[N - 1]};
  check_conv_options(op, stride, padding, dilation, groups);
  const index_t cin = x[1], cout = w[0];
  PRETEXT_CHECK(cin % groups == 0 && cout % groups == 0, shape_error, "pretext::", op,
                ": input channels (x ", shape_string(xs), ") and output channels (weight ",
                shape_string(ws), ") must both be divisible by groups = ", groups);
  PRETEXT_CHECK(w[1] * groups == cin, shape_error, "pretext::", op, ": x ", shape_string(xs),
                " has ", cin, " channels but weight ", shape_string(ws), " with groups = ", groups,
                " expects ", w[1] * groups, "; weight must be (Cout, Cin / groups, kH, kW)");
  PRETEXT_CHECK(w[2] > 0 && w[3] > 0, shape_error, "pretext::", op, ": weight ", shape_string(ws),
                " has an empty kernel");
  PRETEXT_CHECK(!bias || (*bias)[0] == cout, shape_error, "pretext::", op, ": bias ",
                shape_string(bias ? *bias : Shape<1>{}), " must have Cout = ", cout,
                " elements (weight ", shape_string(ws), ")");
  cpu::ConvGeometry g{cin,       x[2],      x[3],       w[2],       w[3], stride.h, stride.w,
                      padding.h, padding.w, dilation.h, dilation.w, 0,    0};
  g.Ho = cpu::conv_out_size(g.H, g.kH, g.sH, g.pH, g.dH);
  g.Wo = cpu::conv_out_size(g.W, g.kW, g.sW, g.pW, g.dW);
  PRETEXT_CHECK(g.Ho > 0 && g.Wo > 0, shape_error, "pretext::", op, ": the kernel of weight ",
                shape_string(ws), " with dilation ", dilation,
                " is larger than the padded input (x ", shape_string(xs), ", padding ", padding,
                "); pad the input or use a smaller kernel");
  return g;
}

/// Returns the number of inputs `need` stands for (2 without bias, 3 with).
template <class Need>
constexpr std::size_t arity() {
  return std::tuple_size_v<std::remove_cvref_t<Need>>;
}

template <floating T>
Var<T, 4> conv2d_impl(const char* op, const Var<T, 4>& x, const Var<T, 4>& w, const Var<T, 1>* b,
                      Size2 stride, Size2 padding, Size2 dilation, index_t groups) {
  const cpu::ConvGeometry g = conv2d_geometry(op, x.shape(), w.shape(), b ? &b->shape() : nullptr,
                                              stride, padding, dilation, groups);
  const index_t B = x.size(0), cout = w.size(0);
  const Tensor<T, 4> xc = x.data().contiguous(), wc = w.data().contiguous();
  const Tensor<T, 1> bc = b ? b->data().contiguous() : Tensor<T, 1>();
  Tensor<T, 4> y(Shape<4>{B, cout, g.Ho, g.Wo});  // (B, Cout, Ho, Wo)
  cpu::conv_im2col_gemm(xc.data(), B, g, groups, wc.data(), cout, b ? bc.data() : nullptr,
                        y.data());
  auto fn = [op, g, groups, sx = save(x.data()), sw = save(w.data())](const Tensor<T, 4>& gy_in,
                                                                      const auto& need) {
    const Tensor<T, 4> gy = gy_in.contiguous();  // (B, Cout, Ho, Wo)
    const index_t B = gy.size(0), cout = gy.size(1);
    Tensor<T, 4> gx, gw;
    Tensor<T, 1> gb;
    if (need[0]) {  // (B, Cin, H, W) = col2im(W^T dy)
      const Tensor<T, 4> wt = sw.get(op).contiguous();
      gx = Tensor<T, 4>(Shape<4>{B, g.C, g.H, g.W});
      cpu::conv_gemm_col2im(gy.data(), B, g, groups, wt.data(), cout, static_cast<T*>(nullptr),
                            gx.data());
    }
    if (need[1]) {  // (Cout, Cin / G, kH, kW) = sum_b dy_b col_b^T
      const Tensor<T, 4> xt = sx.get(op).contiguous();
      gw = Tensor<T, 4>(Shape<4>{cout, g.C / groups, g.kH, g.kW});
      cpu::conv_weight_grad(gy.data(), B, xt.data(), g, groups, cout, gw.data());
    }
    if constexpr (arity<decltype(need)>() == 3) {
      if (need[2]) {
        gb = Tensor<T, 1>(Shape<1>{cout});
        cpu::channel_sums(gy.data(), B, cout, g.cols(), gb.data());
      }
      return std::tuple(std::move(gx), std::move(gw), std::move(gb));
    } else {
      return std::tuple(std::move(gx), std::move(gw));
    }
  };
  if (b) return record(op, std::move(y), fn, x, w, *b);
  return record(op, std::move(y), fn, x, w);
}

template <floating T>
Var<T, 4> conv_transpose2d_impl(const char* op, const Var<T, 4>& x, const Var<T, 4>& w,
                                const Var<T, 1>* b, Size2 stride, Size2 padding,
                                Size2 output_padding, Size2 dilation, index_t groups) {
  check_conv_options(op, stride, padding, dilation, groups);
  const auto& xs = x.shape();
  const auto& ws = w.shape();
  const index_t B = xs[0], cin = xs[1], cout = ws[1] * groups;
  PRETEXT_CHECK(output_padding.h >= 0 && output_padding.w >= 0 &&
                    (output_padding.h < stride.h || output_padding.h < dilation.h) &&
                    (output_padding.w < stride.w || output_padding.w < dilation.w),
                config_error, "pretext::", op, ": output_padding ", output_padding,
                " must be non-negative and smaller than the stride ", stride, " or the dilation ",
                dilation);
  PRETEXT_CHECK(cin % groups == 0, shape_error, "pretext::", op, ": input channels (x ",
                shape_string(xs), ") must be divisible by groups = ", groups);
  PRETEXT_CHECK(ws[0] == cin, shape_error, "pretext::", op, ": x ", shape_string(xs), " has ", cin,
                " channels but weight ", shape_string(ws), " has ", ws[0],
                "; weight must be (Cin, Cout / groups, kH, kW)");
  PRETEXT_CHECK(ws[2] > 0 && ws[3] > 0, shape_error, "pretext::", op, ": weight ", shape_string(ws),
                " has an empty kernel");
  PRETEXT_CHECK(!b || b->size(0) == cout, shape_error, "pretext::", op, ": bias ",
                shape_string(b ? b->shape() : Shape<1>{}), " must have Cout = ", cout,
                " elements (weight ", shape_string(ws), ", groups ", groups, ")");
  // The image side of the product is the output (Cout, Ho, Wo); the grid is the input (H, W).
  cpu::ConvGeometry g{cout,      0,         0,          ws[2],      ws[3], stride.h, stride.w,
                      padding.h, padding.w, dilation.h, dilation.w, xs[2], xs[3]};
  g.H = (xs[2] - 1) * g.sH - 2 * g.pH + g.dH * (g.kH - 1) + output_padding.h + 1;
  g.W = (xs[3] - 1) * g.sW - 2 * g.pW + g.dW * (g.kW - 1) + output_padding.w + 1;
  PRETEXT_CHECK(g.H > 0 && g.W > 0 && g.Ho > 0 && g.Wo > 0, shape_error, "pretext::", op, ": x ",
                shape_string(xs), " with weight ", shape_string(ws), ", stride ", stride,
                ", padding ", padding, " and dilation ", dilation, " gives an empty output (", g.H,
                ", ", g.W, "); reduce the padding");
  const Tensor<T, 4> xc = x.data().contiguous(), wc = w.data().contiguous();
  const Tensor<T, 1> bc = b ? b->data().contiguous() : Tensor<T, 1>();
  Tensor<T, 4> y(Shape<4>{B, cout, g.H, g.W});  // (B, Cout, Ho, Wo)
  cpu::conv_gemm_col2im(xc.data(), B, g, groups, wc.data(), cin, b ? bc.data() : nullptr, y.data());
  auto fn = [op, g, groups, sx = save(x.data()), sw = save(w.data())](const Tensor<T, 4>& gy_in,
                                                                      const auto& need) {
    const Tensor<T, 4> gy = gy_in.contiguous();  // (B, Cout, Ho, Wo)
    const index_t B = gy.size(0), cin = sw.get(op).size(0);
    Tensor<T, 4> gx, gw;
    Tensor<T, 1> gb;
    if (need[0]) {  // (B, Cin, H, W) = conv2d(dy, w)
      const Tensor<T, 4> wt = sw.get(op).contiguous();
      gx = Tensor<T, 4>(Shape<4>{B, cin, g.Ho, g.Wo});
      cpu::conv_im2col_gemm(gy.data(), B, g, groups, wt.data(), cin, static_cast<T*>(nullptr),
                            gx.data());
    }
    if (need[1]) {  // (Cin, Cout / G, kH, kW) = sum_b x_b col(dy_b)^T
      const Tensor<T, 4> xt = sx.get(op).contiguous();
      gw = Tensor<T, 4>(Shape<4>{cin, g.C / groups, g.kH, g.kW});
      cpu::conv_weight_grad(xt.data(), B, gy.data(), g, groups, cin, gw.data());
    }
    if constexpr (arity<decltype(need)>() == 3) {
      if (need[2]) {
        gb = Tensor<T, 1>(Shape<1>{g.C});
        cpu::channel_sums(gy.data(), B, g.C, g.H * g.W, gb.data());
      }
      return std::tuple(std::move(gx), std::move(gw), std::move(gb));
    } else {
      return std::tuple(std::move(gx), std::move(gw));
    }
  };
  if (b) return record(op, std::move(y), fn, x, w, *b);
  return record(op, std::move(y), fn, x, w);
}

/// (B, C, L) -> (B, C, 1, L) and weights (O, I, k) -> (O, I, 1, k): 1-D as 2-D with H = 1.
template <floating T>
Var<T, 4> as_image(const Var<T, 3>& x) {
  return reshape(x, std::array<index_t, 4>{x.size(0), x.size(1), 1, x.size(2)});
}
template <floating T>
Var<T, 3> from_image(const Var<T, 4>& y) {
  return reshape(y, std::array<index_t, 3>{y.size(0), y.size(1), y.size(3)});
}

}  // namespace autograd::detail

// ---- convolutions ------------------------------------------------------------------------------

/// torch.nn.functional.conv2d: x (B, Cin, H, W), weight (Cout, Cin / groups, kH, kW), bias (Cout)
/// -> (B, Cout, Ho, Wo). Zero padding on both sides of each axis.
template <floating T>
Var<T, 4> conv2d(const Var<T, 4>& x, const Var<T, 4>& weight, const Var<T, 1>& bias,
                 Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, index_t groups = 1) {
  return autograd::detail::conv2d_impl("conv2d", x, weight, &bias, stride, padding, dilation,
                                       groups);
}
/// conv2d without a bias.
template <floating T>
Var<T, 4> conv2d(const Var<T, 4>& x, const Var<T, 4>& weight, Size2 stride = 1, Size2 padding = 0,
                 Size2 dilation = 1, index_t groups = 1) {
  return autograd::detail::conv2d_impl<T>("conv2d", x, weight, nullptr, stride, padding, dilation,
                                          groups);
}
/// conv2d with the bias as a pointer (nullptr: none), for layers whose bias is optional.
template <floating T>
Var<T, 4> conv2d(const Var<T, 4>& x, const Var<T, 4>& weight, const Var<T, 1>* bias,
                 Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, index_t groups = 1) {
  return autograd::detail::conv2d_impl("conv2d", x, weight, bias, stride, padding, dilation,
                                       groups);
}

/// torch.nn.functional.conv1d: x (B, Cin, L), weight (Cout, Cin / groups, k), bias (Cout) or
/// nullptr -> (B, Cout, Lo).
template <floating T>
Var<T, 3> conv1d(const Var<T, 3>& x, const Var<T, 3>& weight, const Var<T, 1>* bias,
                 index_t stride = 1, index_t padding = 0, index_t dilation = 1,
                 index_t groups = 1) {
  using namespace autograd::detail;
  // Checked here so that messages show the 1-D shapes (2-D ones would add an axis of 1).
  conv2d_geometry("conv1d", x.shape(), weight.shape(), bias ? &bias->shape() : nullptr,
                  Size2{1, stride}, Size2{0, padding}, Size2{1, dilation}, groups);
  return from_image(conv2d_impl("conv1d", as_image(x), as_image(weight), bias, Size2{1, stride},
                                Size2{0, padding}, Size2{1, dilation}, groups));
}
template <floating T>
Var<T, 3> conv1d(const Var<T, 3>& x, const Var<T, 3>& weight, const Var<T, 1>& bias,
                 index_t stride = 1, index_t padding = 0, index_t dilation = 1,
                 index_t groups = 1) {
  return conv1d(x, weight, &bias, stride, padding, dilation, groups);
}
template <floating T>
Var<T, 3> conv1d(const Var<T, 3>& x, const Var<T, 3>& weight, index_t stride = 1,
                 index_t padding = 0, index_t dilation = 1, index_t groups = 1) {
  return conv1d<T>(x, weight, nullptr, stride, padding, dilation, groups);
}

/// torch.nn.functional.conv_transpose2d: x (B, Cin, H, W), weight (Cin, Cout / groups, kH, kW),
/// bias (Cout) or nullptr -> (B, Cout, Ho, Wo), Ho = (H - 1) stride - 2 padding + dilation
/// (kH - 1) + output_padding + 1. It is conv2d's input gradient: conv_transpose2d(y, w) with
/// the same options undoes conv2d(x, w)'s shape change (output_padding picks among the input
/// sizes a strided conv2d maps to the same output).
template <floating T>
Var<T, 4> conv_transpose2d(const Var<T, 4>& x, const Var<T, 4>& weight, const Var<T, 1>* bias,
                           Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0,
                           index_t groups = 1, Size2 dilation = 1) {
  return autograd::detail::conv_transpose2d_impl("conv_transpose2d", x, weight, bias, stride,
                                                 padding, output_padding, dilation, groups);
}
template <floating T>
Var<T, 4> conv_transpose2d(const Var<T, 4>& x, const Var<T, 4>& weight, const Var<T, 1>& bias,
                           Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0,
                           index_t groups = 1, Size2 dilation = 1) {
  return conv_transpose2d(x, weight, &bias, stride, padding, output_padding, groups, dilation);
}
template <floating T>
Var<T, 4> conv_transpose2d(const Var<T, 4>& x, const Var<T, 4>& weight, Size2 stride = 1,
                           Size2 padding = 0, Size2 output_padding = 0, index_t groups = 1,
                           Size2 dilation = 1) {
  return conv_transpose2d<T>(x, weight, nullptr, stride, padding, output_padding, groups, dilation);
}

/// torch.nn.functional.conv_transpose1d: x (B, Cin, L), weight (Cin, Cout / groups, k), bias
/// (Cout) or nullptr -> (B, Cout, Lo).
template <floating T>
Var<T, 3> conv_transpose1d(const Var<T, 3>& x, const Var<T, 3>& weight, const Var<T, 1>* bias,
                           index_t stride = 1, index_t padding = 0, index_t output_padding = 0,
                           index_t groups = 1, index_t dilation = 1) {
  using namespace autograd::detail;
  return from_image(conv_transpose2d_impl("conv_transpose1d", as_image(x), as_image(weight), bias,
                                          Size2{1, stride}, Size2{0, padding},
                                          Size2{0, output_padding}, Size2{1, dilation}, groups));
}
template <floating T>
Var<T, 3> conv_transpose1d(const Var<T, 3>& x, const Var<T, 3>& weight, const Var<T, 1>& bias,
                           index_t stride = 1, index_t padding = 0, index_t output_padding = 0,
                           index_t groups = 1, index_t dilation = 1) {
  return conv_transpose1d(x, weight, &bias, stride, padding, output_padding, groups, dilation);
}
template <floating T>
Var<T, 3> conv_transpose1d(const Var<T, 3>& x, const Var<T, 3>& weight, index_t stride = 1,
                           index_t padding = 0, index_t output_padding = 0, index_t groups = 1,
                           index_t dilation = 1) {
  return conv_transpose1d<T>(x, weight, nullptr, stride, padding, output_padding, groups, dilation);
}

// ---- pooling -----------------------------------------------------------------------------------

namespace autograd::detail {

inline cpu::PoolGeometry pool2d_geometry(const char* op, const Shape<4>& x, Size2 kernel,
                                         Size2 stride, Size2 padding) {
  PRETEXT_CHECK(kernel.h > 0 && kernel.w > 0, config_error, "pretext::", op, ": kernel ", kernel,
                " must be positive");
  PRETEXT_CHECK(stride.h > 0 && stride.w > 0, config_error, "pretext::", op, ": stride ", stride,
                " must be positive");
  PRETEXT_CHECK(
      padding.h >= 0 && padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w,
      config_error, "pretext::", op, ": padding ", padding,
      " must be between 0 and half the kernel ", kernel);
  cpu::PoolGeometry g{x[2],     x[3],      kernel.h,  kernel.w, stride.h,
                      stride.w, padding.h, padding.w, 0,        0};
  g.Ho = cpu::conv_out_size(g.H, g.kH, g.sH, g.pH, 1);
  g.Wo = cpu::conv_out_size(g.W, g.kW, g.sW, g.pW, 1);
  PRETEXT_CHECK(g.Ho > 0 && g.Wo > 0, shape_error, "pretext::", op, ": kernel ", kernel,
                " is larger than the padded input (x ", shape_string(x), ", padding ", padding,
                ")");
  return g;
}

template <floating T>
Var<T, 4> max_pool2d_impl(const char* op, const Var<T, 4>& x, Size2 kernel, Size2 stride,
                          Size2 padding) {
  const cpu::PoolGeometry g = pool2d_geometry(op, x.shape(), kernel, stride, padding);
  const index_t B = x.size(0), C = x.size(1);
  const Tensor<T, 4> xc = x.data().contiguous();
  Tensor<T, 4> y(Shape<4>{B, C, g.Ho, g.Wo});
  Tensor<std::int64_t, 4> argmax(Shape<4>{B, C, g.Ho, g.Wo});  // flat index in the (H, W) plane
  cpu::max_pool2d_forward(xc.data(), B * C, g, y.data(), argmax.data());
  return record(
      op, std::move(y),
      [g, argmax](const Tensor<T, 4>& gy_in, const auto&) {
        const Tensor<T, 4> gy = gy_in.contiguous();
        Tensor<T, 4> gx(Shape<4>{gy.size(0), gy.size(1), g.H, g.W});
        cpu::max_pool2d_backward(gy.data(), argmax.data(), gy.size(0) * gy.size(1), g, gx.data());
        return gx;
      },
      x);
}

template <floating T>
Var<T, 4> avg_pool2d_impl(const char* op, const Var<T, 4>& x, Size2 kernel, Size2 stride,
                          Size2 padding, bool count_include_pad) {
  const cpu::PoolGeometry g = pool2d_geometry(op, x.shape(), kernel, stride, padding);
  const index_t B = x.size(0), C = x.size(1);
  const Tensor<T, 4> xc = x.data().contiguous();
  Tensor<T, 4> y(Shape<4>{B, C, g.Ho, g.Wo});
  cpu::avg_pool2d_forward(xc.data(), B * C, g, count_include_pad, y.data());
  return record(
      op, std::move(y),
      [g, count_include_pad](const Tensor<T, 4>& gy_in, const auto&) {
        const Tensor<T, 4> gy = gy_in.contiguous();
        Tensor<T, 4> gx(Shape<4>{gy.size(0), gy.size(1), g.H, g.W});
        cpu::avg_pool2d_backward(gy.data(), gy.size(0) * gy.size(1), g, count_include_pad,
                                 gx.data());
        return gx;
      },
      x);
}

}  // namespace autograd::detail

/// torch.nn.functional.max_pool2d (floor mode, no dilation): x (B, C, H, W) -> (B, C, Ho, Wo),
/// padding reads as -inf. The gradient goes to the first maximum of each window (row-major);
/// a NaN in a window is its maximum. stride defaults to the kernel.
template <floating T>
Var<T, 4> max_pool2d(const Var<T, 4>& x, Size2 kernel, Size2 stride, Size2 padding = 0) {
  return autograd::detail::max_pool2d_impl("max_pool2d", x, kernel, stride, padding);
}
template <floating T>
Var<T, 4> max_pool2d(const Var<T, 4>& x, Size2 kernel) {
  return max_pool2d(x, kernel, kernel);
}

/// torch.nn.functional.avg_pool2d (floor mode): x (B, C, H, W) -> (B, C, Ho, Wo). With
/// count_include_pad (PyTorch's default) padded positions count in the divisor.
template <floating T>
Var<T, 4> avg_pool2d(const Var<T, 4>& x, Size2 kernel, Size2 stride, Size2 padding = 0,
                     bool count_include_pad = true) {
  return autograd::detail::avg_pool2d_impl("avg_pool2d", x, kernel, stride, padding,
                                           count_include_pad);
}
template <floating T>
Var<T, 4> avg_pool2d(const Var<T, 4>& x, Size2 kernel) {
  return avg_pool2d(x, kernel, kernel);
}

/// max_pool1d: x (B, C, L) -> (B, C, Lo); stride defaults to the kernel.
template <floating T>
Var<T, 3> max_pool1d(const Var<T, 3>& x, index_t kernel, index_t stride, index_t padding = 0) {
  using namespace autograd::detail;
  return from_image(max_pool2d_impl("max_pool1d", as_image(x), Size2{1, kernel}, Size2{1, stride},
                                    Size2{0, padding}));
}
template <floating T>
Var<T, 3> max_pool1d(const Var<T, 3>& x, index_t kernel) {
  return max_pool1d(x, kernel, kernel);
}

/// avg_pool1d: x (B, C, L) -> (B, C, Lo); stride defaults to the kernel.
template <floating T>
Var<T, 3> avg_pool1d(const Var<T, 3>& x, index_t kernel, index_t stride, index_t padding = 0,
                     bool count_include_pad = true) {
  using namespace autograd::detail;
  return from_image(avg_pool2d_impl("avg_pool1d", as_image(x), Size2{1, kernel}, Size2{1, stride},
                                    Size2{0, padding}, count_include_pad));
}
template <floating T>
Var<T, 3> avg_pool1d(const Var<T, 3>& x, index_t kernel) {
  return avg_pool1d(x, kernel, kernel);
}

/// The mean over each channel's plane: x (B, C, H, W) -> (B, C), as
/// adaptive_avg_pool2d(x, 1).flatten(1).
template <floating T>
Var<T, 2> global_avg_pool2d(const Var<T, 4>& x) {
  const index_t B = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  PRETEXT_CHECK(HW > 0, shape_error, "pretext::global_avg_pool2d: x ",
                pretext::detail::shape_string(x.shape()), " has no pixels to average");
  const Tensor<T, 4> xc = x.data().contiguous();
  Tensor<T, 2> y(Shape<2>{B, C});
  const T inv = T(1) / static_cast<T>(HW);
  parallel_for(0, B * C, std::max<index_t>(1, 32768 / HW), [&](index_t lo, index_t hi) {
    for (index_t p = lo; p < hi; ++p) {
      const T* s = xc.data() + p * HW;
      T acc = 0;
      for (index_t i = 0; i < HW; ++i) acc += s[i];
      y.data()[p] = acc * inv;
    }
  });
  return autograd::detail::record(
      "global_avg_pool2d", std::move(y),
      [shape = x.shape(), inv](const Tensor<T, 2>& gy_in, const auto&) {
        const Tensor<T, 2> gy = gy_in.contiguous();
        Tensor<T, 4> gx(shape);
        const index_t hw = shape[2] * shape[3];
        parallel_for(0, shape[0] * shape[1], std::max<index_t>(1, 32768 / hw),
                     [&](index_t lo, index_t hi) {
                       for (index_t p = lo; p < hi; ++p)
                         std::fill_n(gx.data() + p * hw, hw, gy.data()[p] * inv);
                     });
        return gx;
      },
      x);
}

}  // namespace pretext
