// SPDX-License-Identifier: Apache-2.0
// Convolution and pooling: forward against direct loops, gradients against finite differences
// (double), PyTorch's pooling rules (first maximum, count_include_pad), errors, and the layers'
// parameter names and shapes.
#include <pretext/testing/doctest.hpp>

#include "reference.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace pretext;
using V1 = Var<double, 1>;
using V2 = Var<double, 2>;
using V3 = Var<double, 3>;
using V4 = Var<double, 4>;

namespace {

test::Leaves leaf{500};

struct ConvCase {
  index_t B, Cin, H, W, Cout, kH, kW;
  Size2 stride, padding, dilation;
  index_t groups;
};

/// conv2d by its definition, in double: y[b, o, i, j] = bias[o] + sum over the group's channels
/// c and the kernel (p, q) of x[b, c, i s - pad + p d, j s - pad + q d] w[o, c, p, q].
template <class T>
std::vector<double> conv2d_direct(const Tensor<T, 4>& x, const Tensor<T, 4>& w,
                                  const Tensor<T, 1>* bias, Size2 s, Size2 pad, Size2 d,
                                  index_t groups, index_t Ho, index_t Wo) {
  const index_t B = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const index_t Cout = w.size(0), cg = Cin / groups, og = Cout / groups;
  std::vector<double> y;
  for (index_t b = 0; b < B; ++b)
    for (index_t o = 0; o < Cout; ++o)
      for (index_t i = 0; i < Ho; ++i)
        for (index_t j = 0; j < Wo; ++j) {
          double acc = bias ? static_cast<double>((*bias)(o)) : 0.0;
          const index_t q0 = (o / og) * cg;
          for (index_t c = 0; c < cg; ++c)
            for (index_t p = 0; p < w.size(2); ++p)
              for (index_t q = 0; q < w.size(3); ++q) {
                const index_t ih = i * s.h - pad.h + p * d.h, iw = j * s.w - pad.w + q * d.w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                    static_cast<double>(x(b, q0 + c, ih, iw)) * static_cast<double>(w(o, c, p, q));
              }
          y.push_back(acc);
        }
  return y;
}

/// conv_transpose2d by its definition: every input element scatters x[b, c, i, j] w[c, o, p, q]
/// to y[b, group's o, i s - pad + p d, j s - pad + q d].
std::vector<double> conv_transpose2d_direct(const Tensor<double, 4>& x, const Tensor<double, 4>& w,
                                            const Tensor<double, 1>* bias, Size2 s, Size2 pad,
                                            Size2 d, index_t groups, index_t Ho, index_t Wo) {
  const index_t B = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const index_t og = w.size(1), Cout = og * groups, cg = Cin / groups;
  std::vector<double> y(static_cast<std::size_t>(B * Cout * Ho * Wo), 0.0);
  auto at = [&](index_t b, index_t o, index_t i, index_t j) -> double& {
    return y[static_cast<std::size_t>(((b * Cout + o) * Ho + i) * Wo + j)];
  };
  for (index_t b = 0; b < B; ++b) {
    if (bias)
      for (index_t o = 0; o < Cout; ++o)
        for (index_t i = 0; i < Ho; ++i)
          for (index_t j = 0; j < Wo; ++j) at(b, o, i, j) = (*bias)(o);
    for (index_t c = 0; c < Cin; ++c)
      for (index_t i = 0; i < H; ++i)
        for (index_t j = 0; j < W; ++j)
          for (index_t o = 0; o < og; ++o)
            for (index_t p = 0; p < w.size(2); ++p)
              for (index_t q = 0; q < w.size(3); ++q) {
                const index_t oi = i * s.h - pad.h + p * d.h, oj = j * s.w - pad.w + q * d.w;
                if (oi < 0 || oi >= Ho || oj < 0 || oj >= Wo) continue;
                at(b, (c / cg) * og + o, oi, oj) += x(b, c, i, j) * w(c, o, p, q);
              }
  }
  return y;
}

}  // namespace

TEST_CASE("conv2d forward matches the direct loop (float)") {
  const std::vector<ConvCase> cases = {
      {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1},              // same padding
      {3, 4, 11, 10, 6, 3, 2, {2, 1}, {1, 0}, 2, 2},  // stride, dilation, groups, odd sizes
      {5, 6, 8, 8, 6, 1, 1, 1, 0, 1, 3},              // pointwise, grouped
      {4, 2, 6, 5, 3, 1, 1, 2, 1, 1, 1},              // 1x1 with stride and padding
      {1, 3, 13, 12, 5, 5, 5, 1, 2, 1, 1},            // one image: the GEMMs take the threads
      {2, 32, 14, 14, 16, 5, 5, 1, 2, 1, 1},          // the Fashion-MNIST layer, smaller
      {1, 2, 200, 40, 3, 3, 3, 1, 1, 1, 1},           // tall: several row bands of col
  };
  test::with_threads([&](int) {
    for (const auto& c : cases) {
      CAPTURE(c.Cin);
      CAPTURE(c.H);
      CAPTURE(c.groups);
      const auto x = test::randn<float>({c.B, c.Cin, c.H, c.W}, 1);
      const auto w = test::randn<float>({c.Cout, c.Cin / c.groups, c.kH, c.kW}, 2);
      const auto b = test::randn<float>({c.Cout}, 3);
      const index_t Ho = cpu::conv_out_size(c.H, c.kH, c.stride.h, c.padding.h, c.dilation.h);
      const index_t Wo = cpu::conv_out_size(c.W, c.kW, c.stride.w, c.padding.w, c.dilation.w);
      const auto y = conv2d(Var<float, 4>(x), Var<float, 4>(w), Var<float, 1>(b), c.stride,
                            c.padding, c.dilation, c.groups);
      REQUIRE(y.shape() == Shape<4>{c.B, c.Cout, Ho, Wo});
      // Sums of Cin kH kW float products: compared relative to the output's scale.
      const Shape<4> ys{c.B, c.Cout, Ho, Wo};
      test::check_scaled(y.data(),
                         Tensor<double, 4>::from(ys, conv2d_direct(x, w, &b, c.stride, c.padding,
                                                                   c.dilation, c.groups, Ho, Wo)),
                         "conv2d with bias", 1e-5);
      const auto y0 =
          conv2d(Var<float, 4>(x), Var<float, 4>(w), c.stride, c.padding, c.dilation, c.groups);
      test::check_scaled(
          y0.data(),
          Tensor<double, 4>::from(ys, conv2d_direct<float>(x, w, nullptr, c.stride, c.padding,
                                                           c.dilation, c.groups, Ho, Wo)),
          "conv2d", 1e-5);
    }
  });
}

TEST_CASE("conv_transpose2d forward matches the direct scatter, and is conv2d's input gradient") {
  const auto x = test::randn<double>({2, 4, 5, 6}, 4);
  const auto w = test::randn<double>({4, 3, 3, 2}, 5);  // (Cin, Cout / G, kH, kW), G = 2
  const auto b = test::randn<double>({6}, 6);
  const Size2 s{2, 3}, p{1, 0}, op{1, 2}, d{1, 2};
  const auto y = conv_transpose2d(V4(x), V4(w), V1(b), s, p, op, 2, d);
  const index_t Ho = (5 - 1) * 2 - 2 + 1 * 2 + 1 + 1, Wo = (6 - 1) * 3 - 0 + 2 * 1 + 2 + 1;
  REQUIRE(y.shape() == Shape<4>{2, 6, Ho, Wo});
  test::check_close(y.data(), conv_transpose2d_direct(x, w, &b, s, p, d, 2, Ho, Wo), 1e-12);

  // output_padding at or above the stride (allowed below the dilation): the output grows past
  // what any input position reaches, and those positions hold only the bias.
  const auto y2 = conv_transpose2d(V4(x), V4(w), V1(b), 1, 1, {2, 1}, 2, 3);
  const index_t H2 = (5 - 1) - 2 + 3 * 2 + 2 + 1, W2 = (6 - 1) - 2 + 3 * 1 + 1 + 1;
  REQUIRE(y2.shape() == Shape<4>{2, 6, H2, W2});
  test::check_close(y2.data(), conv_transpose2d_direct(x, w, &b, 1, 1, 3, 2, H2, W2), 1e-12);

  // conv2d(z, w) maps (B, 6, Ho, Wo) back to (B, 4, 5, 6); its input gradient for an output
  // gradient x is conv_transpose2d(x, w).
  V4 z(test::randn<double>({2, 6, Ho, Wo}, 7), true);
  conv2d(z, V4(w), s, p, d, 2).backward(x);
  const auto y0 = conv_transpose2d(V4(x), V4(w), s, p, op, 2, d);
  test::check_scaled(z.grad(), y0.data(), "conv2d input gradient", 1e-12);
}

TEST_CASE("gradcheck: conv2d") {
  const std::vector<ConvCase> cases = {
      {2, 4, 7, 9, 6, 3, 2, 2, 1, 2, 2},            // stride 2, padding 1, dilation 2, groups 2
      {3, 3, 6, 5, 4, 3, 3, {1, 2}, {2, 1}, 1, 1},  // per-axis options, batch over threads
      {2, 4, 5, 5, 4, 1, 1, 1, 0, 1, 4},            // pointwise depthwise
      {1, 2, 5, 7, 3, 2, 3, {2, 1}, {0, 1}, {2, 1}, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.Cin);
    CAPTURE(c.groups);
    const auto x = leaf({c.B, c.Cin, c.H, c.W});
    const auto w = leaf({c.Cout, c.Cin / c.groups, c.kH, c.kW});
    const auto b = leaf({c.Cout});
    PRETEXT_CHECK_GRADIENTS(
        [&](const V4& a, const V4& k, const V1& bias) {
          return conv2d(a, k, bias, c.stride, c.padding, c.dilation, c.groups);
        },
        std::tuple{x, w, b});
    PRETEXT_CHECK_GRADIENTS(
        [&](const V4& a, const V4& k) {
          return conv2d(a, k, c.stride, c.padding, c.dilation, c.groups);
        },
        std::tuple{x, w});
  }
  // A non-contiguous input (a permuted view) and a weight that needs no gradient.
  const auto xt = leaf({2, 6, 5, 3});
  const V4 w(test::randn<double>({2, 3, 3, 3}, 9));
  PRETEXT_CHECK_GRADIENTS(
      [&](const V4& a) {
        return conv2d(permute(a, {0, 3, 2, 1}), w, 1, 1);
      },
      std::tuple{xt});
}

TEST_CASE("gradcheck: conv1d and conv_transpose") {
  const auto x = leaf({3, 4, 11});
  const auto w = leaf({6, 2, 3});
  const auto b = leaf({6});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& a, const V3& k, const V1& bias) { return conv1d(a, k, bias, 2, 1, 2, 2); },
      std::tuple{x, w, b});
  PRETEXT_CHECK_GRADIENTS([](const V3& a, const V3& k) { return conv1d(a, k, 1, 3); },
                          std::tuple{x, leaf({5, 4, 4})});

  const auto xi = leaf({2, 4, 4, 3});
  const auto wt = leaf({4, 3, 3, 3});  // (Cin, Cout / G, kH, kW), G = 2: Cout = 6
  const auto bt = leaf({6});
  PRETEXT_CHECK_GRADIENTS([](const V4& a, const V4& k,
                             const V1& bias) { return conv_transpose2d(a, k, bias, 2, 1, 1, 2); },
                          std::tuple{xi, wt, bt});
  PRETEXT_CHECK_GRADIENTS(
      [](const V4& a, const V4& k) {
        return conv_transpose2d(a, k, Size2{2, 1}, Size2{0, 1}, Size2{1, 0}, 1, Size2{1, 2});
      },
      std::tuple{xi, leaf({4, 2, 2, 3})});
  PRETEXT_CHECK_GRADIENTS(
      [](const V4& a, const V4& k) { return conv_transpose2d(a, k, 1, 1, 2, 1, 3); },
      std::tuple{xi, leaf({4, 2, 2, 2})});
  PRETEXT_CHECK_GRADIENTS([](const V3& a, const V3& k) { return conv_transpose1d(a, k, 2, 1, 1); },
                          std::tuple{leaf({2, 3, 5}), leaf({3, 2, 3})});
}

TEST_CASE("gradcheck: pooling") {
  const auto x = leaf({2, 3, 7, 8});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return max_pool2d(a, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return max_pool2d(a, 3, 2, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS(
      [](const V4& a) {
        return max_pool2d(a, {3, 2}, {1, 2}, {1, 0});
      },
      std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return avg_pool2d(a, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return avg_pool2d(a, 3, 2, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return avg_pool2d(a, 3, 2, 1, false); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return global_avg_pool2d(a); }, std::tuple{x});
  const auto s = leaf({2, 3, 9});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return max_pool1d(a, 3, 2, 1); }, std::tuple{s});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return avg_pool1d(a, 2); }, std::tuple{s});
  // A transposed (non-contiguous) input.
  PRETEXT_CHECK_GRADIENTS([](const V4& a) { return max_pool2d(transpose(a, 2, 3), 2); },
                          std::tuple{x});
}

TEST_CASE("max_pool2d: first maximum takes the gradient, padding is -inf, NaN wins") {
  // All equal: each 2x2 window's gradient goes to its top-left element.
  V4 x(Tensor<double, 4>::ones(Shape<4>{1, 1, 4, 4}), true);
  max_pool2d(x, 2).backward(Tensor<double, 4>::ones(Shape<4>{1, 1, 2, 2}));
  test::check_close(x.grad(), {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}, 0);

  // Negative values with padding: padding never wins.
  const auto neg = Tensor<double, 4>::from(Shape<4>{1, 1, 2, 2}, {-4, -3, -2, -1});
  const auto y = max_pool2d(V4(neg), 3, 1, 1);
  test::check_close(y.data(), {-1, -1, -1, -1}, 0);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto withnan = Tensor<double, 4>::from(Shape<4>{1, 1, 2, 2}, {1, nan, 5, 2});
  CHECK(std::isnan(max_pool2d(V4(withnan), 2).item()));
}

TEST_CASE("max_pool2d with many ties matches PyTorch's scan on every configuration") {
  // Values in {0, 1, 2} (ties everywhere) and a few NaNs; the reference scans each window in
  // row-major order and takes v when v > best or v is NaN, as PyTorch's CPU kernel.
  const index_t B = 2, C = 3, H = 7, W = 9;
  Generator g(5);
  auto x = uniform<double>({B, C, H, W}, g, 0.0, 3.0);
  for (index_t i = 0; i < x.numel(); ++i) x.data()[i] = std::floor(x.data()[i]);
  x.data()[17] = x.data()[100] = x.data()[101] = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    Size2 k, s, p;
  };
  for (const Case& c :
       {Case{2, 2, 0}, Case{3, 2, 1}, Case{{3, 2}, {1, 2}, {1, 1}}, Case{3, 1, 1}}) {
    CAPTURE(c.k);
    CAPTURE(c.s);
    V4 xv(x, true);
    const auto y = max_pool2d(xv, c.k, c.s, c.p);
    const index_t Ho = y.size(2), Wo = y.size(3);
    std::vector<double> ref_y, ref_dx(static_cast<std::size_t>(x.numel()), 0.0);
    for (index_t pl = 0; pl < B * C; ++pl)
      for (index_t oh = 0; oh < Ho; ++oh)
        for (index_t ow = 0; ow < Wo; ++ow) {
          const index_t h0 = std::max<index_t>(oh * c.s.h - c.p.h, 0),
                        h1 = std::min(oh * c.s.h - c.p.h + c.k.h, H);
          const index_t w0 = std::max<index_t>(ow * c.s.w - c.p.w, 0),
                        w1 = std::min(ow * c.s.w - c.p.w + c.k.w, W);
          double best = -HUGE_VAL;
          index_t at = h0 * W + w0;
          for (index_t ih = h0; ih < h1; ++ih)
            for (index_t iw = w0; iw < w1; ++iw) {
              const double v = x.data()[pl * H * W + ih * W + iw];
              if (v > best || std::isnan(v)) best = v, at = ih * W + iw;
            }
          ref_y.push_back(best);
          ref_dx[static_cast<std::size_t>(pl * H * W + at)] += 1.0;
        }
    test::check_close(y.data(), ref_y, 0);
    y.backward(Tensor<double, 4>::ones(y.shape()));
    test::check_close(xv.grad(), ref_dx, 0);
  }
}

TEST_CASE("avg_pool2d: count_include_pad divides by the padded window") {
  const auto x = Tensor<double, 4>::ones(Shape<4>{1, 1, 3, 3});
  // 3x3 windows, stride 1, padding 1: the corner window holds 4 ones, the edge 6, the centre 9.
  test::check_close(avg_pool2d(V4(x), 3, 1, 1).data(),
                    {4 / 9., 6 / 9., 4 / 9., 6 / 9., 1, 6 / 9., 4 / 9., 6 / 9., 4 / 9.}, 1e-15);
  test::check_close(avg_pool2d(V4(x), 3, 1, 1, false).data(), {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1e-15);
  const auto r = Tensor<double, 4>::from(Shape<4>{1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  test::check_close(global_avg_pool2d(V4(r)).data(), {2.5, 6.5}, 1e-15);
}

TEST_CASE("conv and pool: invalid configurations throw, naming the op and shapes") {
  const Var<float, 4> x(test::randn<float>({2, 4, 5, 5}, 1));
  const Var<float, 4> w(test::randn<float>({6, 2, 3, 3}, 2));
  const Var<float, 1> b(test::randn<float>({6}, 3));
  CHECK_NOTHROW(conv2d(x, w, b, 1, 1, 1, 2));
  // Cin mismatch: groups 1 needs weight (6, 4, 3, 3).
  CHECK_THROWS_AS(conv2d(x, w, b), shape_error);
  const auto msg = test::error_message<shape_error>([&] { conv2d(x, w, b); });
  CHECK(msg.find("conv2d") != std::string::npos);
  CHECK(msg.find("[2, 4, 5, 5]") != std::string::npos);
  CHECK(msg.find("[6, 2, 3, 3]") != std::string::npos);
  // Channels not divisible by groups.
  CHECK_THROWS_AS(conv2d(x, w, b, 1, 1, 1, 3), shape_error);
  // Kernel larger than the padded input.
  const Var<float, 4> big(test::randn<float>({6, 2, 7, 7}, 4));
  CHECK_THROWS_AS(conv2d(x, big, b, 1, 0, 1, 2), shape_error);
  CHECK_THROWS_AS(conv2d(x, w, b, 1, 0, 3, 2), shape_error);  // dilated kernel spans 7
  // Non-positive stride or dilation, negative padding, zero groups.
  CHECK_THROWS_AS(conv2d(x, w, b, 0, 1, 1, 2), config_error);
  CHECK_THROWS_AS(conv2d(x, w, b, {1, -1}, 1, 1, 2), config_error);
  CHECK_THROWS_AS(conv2d(x, w, b, 1, -1, 1, 2), config_error);
  CHECK_THROWS_AS(conv2d(x, w, b, 1, 1, 0, 2), config_error);
  CHECK_THROWS_AS(conv2d(x, w, b, 1, 1, 1, 0), config_error);
  // Bias of the wrong length.
  CHECK_THROWS_AS(conv2d(x, w, Var<float, 1>(test::randn<float>({5}, 5)), 1, 1, 1, 2), shape_error);
  // conv1d reports its own name and shapes.
  const Var<float, 3> s(test::randn<float>({2, 3, 8}, 6));
  const Var<float, 3> k(test::randn<float>({4, 2, 3}, 7));
  const auto msg1 = test::error_message<shape_error>([&] { conv1d(s, k); });
  CHECK(msg1.find("conv1d") != std::string::npos);
  CHECK(msg1.find("[2, 3, 8]") != std::string::npos);
  // Transposed: weight's first axis must be Cin; output_padding below stride or dilation.
  const Var<float, 4> wt(test::randn<float>({4, 3, 3, 3}, 8));
  CHECK_NOTHROW(conv_transpose2d(x, wt, 2, 1, 1));
  CHECK_THROWS_AS(conv_transpose2d(x, Var<float, 4>(test::randn<float>({3, 3, 3, 3}, 9))),
                  shape_error);
  CHECK_THROWS_AS(conv_transpose2d(x, wt, 2, 1, 2), config_error);
  CHECK_THROWS_AS(conv_transpose2d(x, wt, 1, 4), shape_error);  // empty output
  // Pools.
  CHECK_THROWS_AS(max_pool2d(x, 0), config_error);
  CHECK_THROWS_AS(max_pool2d(x, 2, 0), config_error);
  CHECK_THROWS_AS(max_pool2d(x, 2, 2, 2), config_error);  // padding above half the kernel
  CHECK_THROWS_AS(max_pool2d(x, 6), shape_error);
  CHECK_THROWS_AS(avg_pool2d(x, {2, 7}), shape_error);
  // Layers.
  CHECK_THROWS_AS((nn::Conv2d<nn::dynamic, nn::dynamic>(4, 6, 3, {.groups = 4})), config_error);
  CHECK_THROWS_AS((nn::Conv2d<4, 6>(4, 5, 3)), config_error);
  CHECK_THROWS_AS((nn::Conv2d<nn::dynamic, nn::dynamic>(4, 6, 0)), config_error);
  CHECK_THROWS_AS((nn::Conv1d<nn::dynamic, nn::dynamic>(4, 6, 3, {.stride = {1, 2}})),
                  config_error);
  CHECK_THROWS_AS((nn::Conv2d<nn::dynamic, nn::dynamic>(4, 6, 3, {.output_padding = 1})),
                  config_error);
  nn::Conv2d<4, 6> layer(3);
  CHECK_THROWS_AS(layer(Var<float, 4>(test::randn<float>({1, 3, 5, 5}, 1))), shape_error);
}

TEST_CASE("conv layers: torch.nn names, shapes and default initialisation") {
  Generator g(11);
  nn::Conv2d<4, 8> conv(3, {.padding = 1, .groups = 2}, g);
  const auto params = conv.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name() == "weight");
  CHECK(params[0].shape() == std::vector<index_t>{8, 2, 3, 3});
  CHECK(params[1].name() == "bias");
  CHECK(params[1].shape() == std::vector<index_t>{8});
  // U(+-1/sqrt(fan_in)), fan_in = Cin / groups k k = 18, for both.
  const double bound = 1 / std::sqrt(18.0);
  for (const auto& p : params)
    for (float v : p.data().to_vector()) CHECK(std::abs(v) <= bound);
  CHECK(conv(Var<float, 4>(test::randn<float>({2, 4, 6, 5}, 1))).shape() == Shape<4>{2, 8, 6, 5});

  nn::Conv2d<nn::dynamic, nn::dynamic, double> nb(3, 5, {3, 1}, {.stride = 2, .bias = false}, g);
  REQUIRE(nb.named_parameters().size() == 1);
  CHECK(nb.weight.shape() == Shape<4>{5, 3, 3, 1});
  CHECK(nb(V4(test::randn<double>({1, 3, 7, 4}, 2))).shape() == Shape<4>{1, 5, 3, 2});

  nn::Conv1d<3, 6> c1(5, {.padding = 2, .groups = 3}, g);
  CHECK(c1.weight.shape() == Shape<3>{6, 1, 5});
  CHECK(c1(Var<float, 3>(test::randn<float>({2, 3, 10}, 3))).shape() == Shape<3>{2, 6, 10});

  nn::ConvTranspose2d<8, 4> up(2, {.stride = 2}, g);
  CHECK(up.weight.shape() == Shape<4>{8, 4, 2, 2});
  CHECK(up.bias.shape() == Shape<1>{4});
  CHECK(up(Var<float, 4>(test::randn<float>({2, 8, 7, 7}, 4))).shape() == Shape<4>{2, 4, 14, 14});
  nn::ConvTranspose2d<nn::dynamic, nn::dynamic> up3(
      8, 4, 3, {.stride = 2, .padding = 1, .output_padding = 1}, g);
  CHECK(up3(Var<float, 4>(test::randn<float>({1, 8, 7, 7}, 5))).shape() == Shape<4>{1, 4, 14, 14});
}

TEST_CASE("a small CNN in Sequential: static channel check, pools, backward reaches every layer") {
  Generator g(3);
  nn::Sequential net(nn::Conv2d<1, 8>(5, {.padding = 2}, g), nn::ReLU{}, nn::MaxPool2d(2),
                     nn::Conv2d<8, 16>(3, {.padding = 1}, g), nn::ReLU{}, nn::AvgPool2d(2),
                     nn::Conv2d<16, 16>(1, g), nn::GlobalAvgPool2d{}, nn::Linear<16, 10>(g));
  const auto names = [&] {
    std::vector<std::string> n;
    for (const auto& p : net.named_parameters()) n.push_back(p.name());
    return n;
  }();
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "6.weight",
                                          "6.bias", "8.weight", "8.bias"});
  const Var<float, 4> x(test::randn<float>({4, 1, 12, 12}, 1));
  const auto y = net(x);
  REQUIRE(y.shape() == Shape<2>{4, 10});
  sum(y).backward();
  for (const auto& p : net.named_parameters()) {
    CAPTURE(p.name());
    CHECK(p.grad().defined());
  }
}

TEST_CASE("conv2d: the same results on one thread and on two") {
  const auto x = test::randn<float>({5, 6, 9, 9}, 1);
  const auto w = test::randn<float>({8, 3, 3, 3}, 2);
  const auto gy = test::randn<float>({5, 8, 5, 5}, 3);
  std::vector<Tensor<float, 4>> outs, gxs, gws;
  test::with_threads([&](int) {
    Var<float, 4> xv(x, true), wv(w, true);
    const auto y = conv2d(xv, wv, 2, 1, 1, 2);
    y.backward(gy);
    outs.push_back(y.data());
    gxs.push_back(xv.grad());
    gws.push_back(wv.grad());
  });
  // Images go to threads whole, so the output and input gradient are identical; the weight
  // gradient sums per-thread partials, in another order.
  auto as_double = [](const Tensor<float, 4>& t) {
    const auto v = t.to_vector();
    return std::vector<double>(v.begin(), v.end());
  };
  test::check_close(outs[1], as_double(outs[0]), 0);
  test::check_close(gxs[1], as_double(gxs[0]), 0);
  test::check_close(gws[1], as_double(gws[0]), 1e-5);
}
