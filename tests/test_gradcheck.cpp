// SPDX-License-Identifier: Apache-2.0
// Every differentiable op and loss against central finite differences in double, with odd
// shapes, broadcasting and non-contiguous inputs.
#include <pretext/testing/doctest.hpp>

#include "reference.hpp"

using namespace pretext;
using V1 = Var<double, 1>;
using V2 = Var<double, 2>;
using V3 = Var<double, 3>;

namespace {

test::Leaves leaf{100};

/// A leaf with values in [lo, hi].
template <std::size_t N>
Var<double, static_cast<int>(N)> leaf_in(const index_t (&shape)[N], double lo, double hi) {
  Generator g(leaf.next_seed++);
  return Var<double, static_cast<int>(N)>(uniform<double>(shape, g, lo, hi), true);
}

}  // namespace

TEST_CASE("gradcheck: unary math and activations") {
  const auto x = leaf({3, 7});
  const auto pos = leaf_in({5, 3}, 0.5, 2.0);
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return exp(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return tanh(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return sigmoid(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return relu(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return gelu(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return gelu_tanh(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return silu(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return abs(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return neg(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return -a; }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return square(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return pow(a, 3.0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return log(a); }, std::tuple{pos});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return sqrt(a); }, std::tuple{pos});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return rsqrt(a); }, std::tuple{pos});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return reciprocal(a); }, std::tuple{pos});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return pow(a, 2.5); }, std::tuple{pos});
  // A transposed (non-contiguous) input.
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return gelu(t(a)); }, std::tuple{x});
}

TEST_CASE("gradcheck: binary arithmetic with broadcasting") {
  const auto a = leaf({3, 1, 5});
  const auto b = leaf({4, 5});
  const auto c = leaf({3, 4, 5});
  const auto pos = leaf_in({4, 1}, 0.5, 2.0);
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V2& y) { return add(x, y); }, std::tuple{a, b});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V2& y) { return x - y; }, std::tuple{a, b});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V2& y) { return x * y; }, std::tuple{a, b});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V2& y) { return x / y; }, std::tuple{a, pos});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V3& y) { return maximum(x, y); },
                          std::tuple{c, leaf({3, 4, 5})});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V2& y) { return minimum(x, y); }, std::tuple{a, b});
  // The same variable on both sides: gradients from both uses add up.
  PRETEXT_CHECK_GRADIENTS([](const V3& x) { return x * x + x; }, std::tuple{c});
  // Scalars on either side, and a plain tensor as a constant.
  PRETEXT_CHECK_GRADIENTS([](const V3& x) { return 2.0 * x + 1.0; }, std::tuple{c});
  PRETEXT_CHECK_GRADIENTS([](const V3& x) { return 1.5 - x / 4.0; }, std::tuple{c});
  PRETEXT_CHECK_GRADIENTS([](const V2& x) { return 3.0 / x; }, std::tuple{pos});
  PRETEXT_CHECK_GRADIENTS([](const V3& x) { return maximum(x, 0.1); }, std::tuple{c});
  const auto k = test::randn<double>({4, 5}, 7);
  PRETEXT_CHECK_GRADIENTS([&](const V3& x) { return x * k + k; }, std::tuple{c});
  PRETEXT_CHECK_GRADIENTS([&](const V3& x) { return k - x; }, std::tuple{c});
}

TEST_CASE("gradcheck: views and copies") {
  const auto x = leaf({4, 6, 5});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return slice(a, 1, 1, 6, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return narrow(a, 2, 1, 3); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return select(a, 0, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return permute(a, {2, 0, 1}); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return transpose(a, 0, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& a) {
        return reshape(transpose(a, 0, 1), {6, -1});
      },
      std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return view(a, {24, 5}); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return flatten(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return squeeze(unsqueeze(a, 1), 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return contiguous(transpose(a, 1, 2)); },
                          std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return clone(a); }, std::tuple{x});
  const auto b = leaf({3, 1});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return expand(a, {2, 3, 4}); }, std::tuple{b});
  PRETEXT_CHECK_GRADIENTS([](const V2& a) { return t(a) * 2.0; }, std::tuple{b});
}

TEST_CASE("gradcheck: reductions") {
  const auto x = leaf({3, 5, 4});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return sum(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return sum(a, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return sum(a, -1, keepdim); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return mean(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return mean(a, 0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return max(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return max(a, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return min(a, 2, keepdim); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return min(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return logsumexp(a, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return var(a, 2); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return var(a, 0, keepdim, 0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return var(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return stddev(a, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return stddev(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a, 1.0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a, 3.0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a, INFINITY); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a, 2, 2.0); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return norm(a, 0, keepdim, 1.5); }, std::tuple{x});
}

TEST_CASE("gradcheck: softmax, log_softmax, layer_norm") {
  const auto x = leaf({2, 3, 7});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return softmax(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return softmax(a, 1); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return log_softmax(a); }, std::tuple{x});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return log_softmax(a, 0); }, std::tuple{x});
  const auto g = leaf({7}), b = leaf({7});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& a, const V1& gamma, const V1& beta) { return layer_norm(a, gamma, beta); },
      std::tuple{x, g, b});
  PRETEXT_CHECK_GRADIENTS([](const V3& a, const V1& gamma) { return layer_norm(a, gamma, 1e-3); },
                          std::tuple{x, g});
  PRETEXT_CHECK_GRADIENTS([](const V3& a) { return layer_norm(a); }, std::tuple{x});
}

TEST_CASE("gradcheck: matmul and linear") {
  const auto a = leaf({3, 5}), b = leaf({5, 4});
  PRETEXT_CHECK_GRADIENTS([](const V2& x, const V2& y) { return matmul(x, y); }, std::tuple{a, b});
  PRETEXT_CHECK_GRADIENTS([](const V2& x, const V2& y) { return matmul(t(y), t(x)); },
                          std::tuple{a, b});
  const auto p = leaf({2, 3, 5}), q = leaf({2, 5, 4}), q1 = leaf({1, 5, 4});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V3& y) { return matmul(x, y); }, std::tuple{p, q});
  PRETEXT_CHECK_GRADIENTS([](const V3& x, const V3& y) { return matmul(x, y); }, std::tuple{p, q1});
  PRETEXT_CHECK_GRADIENTS([](const V3& x) { return matmul(x, transpose(x, 1, 2)); }, std::tuple{p});
  const auto x = leaf({6, 5}), w = leaf({3, 5});
  const auto bias = leaf({3});
  for (auto act : {cpu::Activation::none, cpu::Activation::relu, cpu::Activation::gelu,
                   cpu::Activation::gelu_tanh, cpu::Activation::silu}) {
    CAPTURE(static_cast<int>(act));
    PRETEXT_CHECK_GRADIENTS(
        [act](const V2& xx, const V2& ww, const V1& bb) { return linear(xx, ww, bb, act); },
        std::tuple{x, w, bias});
  }
  PRETEXT_CHECK_GRADIENTS([](const V2& xx, const V2& ww) { return linear(xx, ww); },
                          std::tuple{x, w});
}

TEST_CASE("gradcheck: losses") {
  const auto pred = leaf({4, 3}), target = leaf({4, 3});
  PRETEXT_CHECK_GRADIENTS([](const V2& p, const V2& y) { return mse_loss(p, y); },
                          std::tuple{pred, target});
  PRETEXT_CHECK_GRADIENTS([](const V2& p, const V2& y) { return l1_loss(p, y, reduction::sum); },
                          std::tuple{pred, target});
  PRETEXT_CHECK_GRADIENTS([](const V2& p, const V2& y) { return smooth_l1_loss(p, y); },
                          std::tuple{pred, target});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& p, const V2& y) { return smooth_l1_loss(p, y, 0.5, reduction::none); },
      std::tuple{pred, target});

  const auto logits = leaf({5, 4});
  const auto labels = Tensor<std::int64_t, 1>::from({5}, {0, 3, 1, 3, 2});
  const auto with_ignored = Tensor<std::int64_t, 1>::from({5}, {0, -100, 1, 3, -100});
  PRETEXT_CHECK_GRADIENTS([&](const V2& z) { return cross_entropy(z, labels); },
                          std::tuple{logits});
  PRETEXT_CHECK_GRADIENTS([&](const V2& z) { return cross_entropy(z, with_ignored); },
                          std::tuple{logits});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& z) {
        return cross_entropy(z, labels, {.label_smoothing = 0.2}, reduction::sum);
      },
      std::tuple{logits});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& z) { return cross_entropy(z, with_ignored, {}, reduction::none); },
      std::tuple{logits});
  // A transposed (non-contiguous) view of the logits, smoothing together with a custom
  // ignore_index (rows 1 and 3 ignored) and an upstream gradient through reduction::none.
  const auto logits_t = leaf({4, 5});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& z) {
        return cross_entropy(t(z), labels, {.ignore_index = 3, .label_smoothing = 0.2});
      },
      std::tuple{logits_t});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& z) {
        return mul(cross_entropy(t(z), labels, {.ignore_index = 3, .label_smoothing = 0.2},
                                 reduction::none),
                   exp(sum(z, 0)));
      },
      std::tuple{logits_t});
  const auto probs = Var<double, 2>(softmax(test::randn<double>({5, 4}, 3)), true);
  PRETEXT_CHECK_GRADIENTS([](const V2& z, const V2& p) { return cross_entropy(z, p); },
                          std::tuple{logits, probs});

  const auto y01 = leaf_in({4, 3}, 0.0, 1.0);
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& z, const V2& y) { return binary_cross_entropy_with_logits(z, y); },
      std::tuple{pred, y01});

  const auto u = leaf({3, 6});
  const auto v = leaf({6});
  PRETEXT_CHECK_GRADIENTS([](const V2& a, const V1& b) { return cosine_similarity(a, b); },
                          std::tuple{u, v});
  PRETEXT_CHECK_GRADIENTS([](const V2& a, const V2& b) { return cosine_similarity(a, b, 0); },
                          std::tuple{u, leaf({3, 6})});

  const auto logq = Var<double, 2>(log_softmax(test::randn<double>({3, 5}, 4)), true);
  const auto p = leaf_in({3, 5}, 0.05, 1.0);
  PRETEXT_CHECK_GRADIENTS([](const V2& q, const V2& t) { return kl_div(q, t); },
                          std::tuple{logq, p});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& q, const V2& t) { return kl_div(q, t, reduction::batchmean); },
      std::tuple{logq, p});
  const auto logp = leaf({3, 5});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& q, const V2& t) { return kl_div(q, t, reduction::sum, /*log_target=*/true); },
      std::tuple{logq, logp});
}

TEST_CASE("gradcheck: a composite, and the report names the worst element") {
  // A 2-layer MLP with GELU, layer norm and cross-entropy.
  const auto x = leaf({6, 5}), w1 = leaf({8, 5}), w2 = leaf({3, 8});
  const auto b1 = leaf({8}), b2 = leaf({3}), g = leaf({8}), be = leaf({8});
  const auto labels = Tensor<std::int64_t, 1>::from({6}, {0, 1, 2, 2, 1, 0});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& xx, const V2& a, const V1& ab, const V2& c, const V1& cb, const V1& gg,
          const V1& bb) {
        const auto h = layer_norm(linear(xx, a, ab, cpu::Activation::gelu), gg, bb);
        return cross_entropy(linear(h, c, cb), labels);
      },
      std::tuple{x, w1, b1, w2, b2, g, be});

  // A deliberately wrong derivative is caught and located.
  const auto y = leaf({2, 3});
  auto wrong = [](const V2& a) {
    return autograd::detail::record(
        "wrong", pretext::square(a.data()),
        [a = a.data()](const Tensor<double, 2>& gr, const auto&) {
          auto d = pretext::mul(gr, a);  // should be 2 * a * g
          d(1, 2) *= 2;                  // correct for this one element only
          return d;
        },
        a);
  };
  const auto rep = gradcheck(wrong, std::tuple{y});
  CHECK_FALSE(rep.ok);
  CHECK(rep.input == 0);
  CHECK(rep.element != 5);
  CHECK(rep.message.find("FAILED") != std::string::npos);
}
