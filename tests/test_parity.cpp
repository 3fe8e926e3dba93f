// SPDX-License-Identifier: Apache-2.0
// Parity with PyTorch 1.13: outputs and input gradients of every case in
// tests/fixtures/parity.safetensors (written by tests/fixtures/make_fixtures.py), in float.
//
// Tolerance: |ours - torch| <= 1e-5 * (|torch| + max|torch over the tensor|) — relative 1e-5,
// with the tensor's scale as the floor so that elements that cancel to near zero (sums of
// products in a different order) are not held to a relative bound they cannot meet.
#include <pretext/io.hpp>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>

#include "reference.hpp"

using namespace pretext;

namespace {

const io::SafetensorsFile& fixtures() {
  static const auto f = io::SafetensorsFile::open(PRETEXT_FIXTURES_DIR "/parity.safetensors");
  return f;
}

template <int R>
void check_matches(const Tensor<float, R>& ours, const std::string& name, double rtol) {
  test::check_scaled(ours, fixtures().get<float, R>(name), name, rtol);
}

/// Loads "<name>.in<i>" with ranks R..., runs fn, and compares the output and the gradients of
/// sum(out * u) with PyTorch's.
template <int... R, class Fn, std::size_t... I>
void parity_impl(const std::string& name, Fn&& fn, double rtol, std::index_sequence<I...>) {
  const auto& f = fixtures();
  std::tuple<Var<float, R>...> in{
      Var<float, R>(f.get<float, R>(name + ".in" + std::to_string(I)), true)...};
  const auto out = std::apply(fn, in);
  constexpr int RO = std::remove_cvref_t<decltype(out)>::rank;
  check_matches<RO>(out.data(), name + ".out", rtol);
  out.backward(f.get<float, RO>(name + ".u"));
  (check_matches<R>(std::get<I>(in).grad(), name + ".grad" + std::to_string(I), rtol), ...);
}
template <int... R, class Fn>
void parity(const std::string& name, Fn&& fn, double rtol = 1e-5) {
  CAPTURE(name);
  parity_impl<R...>(name, std::forward<Fn>(fn), rtol, std::make_index_sequence<sizeof...(R)>{});
}

Tensor<std::int64_t, 1> target(const std::string& name) {
  return fixtures().get<std::int64_t, 1>(name + ".target");
}

}  // namespace

using V1 = Var<float, 1>;
using V2 = Var<float, 2>;
using V3 = Var<float, 3>;

TEST_CASE("parity with PyTorch: unary ops") {
  parity<2>("exp", [](const V2& a) { return exp(a); });
  parity<2>("tanh", [](const V2& a) { return tanh(a); });
  parity<2>("sigmoid", [](const V2& a) { return sigmoid(a); });
  parity<2>("relu", [](const V2& a) { return relu(a); });
  parity<2>("gelu", [](const V2& a) { return gelu(a); });
  parity<2>("gelu_tanh", [](const V2& a) { return gelu_tanh(a); });
  parity<2>("silu", [](const V2& a) { return silu(a); });
  parity<2>("abs", [](const V2& a) { return abs(a); });
  parity<2>("neg", [](const V2& a) { return neg(a); });
  parity<2>("square", [](const V2& a) { return square(a); });
  parity<2>("pow3", [](const V2& a) { return pow(a, 3.0f); });
  parity<2>("log", [](const V2& a) { return log(a); });
  parity<2>("sqrt", [](const V2& a) { return sqrt(a); });
  parity<2>("rsqrt", [](const V2& a) { return rsqrt(a); });
  parity<2>("reciprocal", [](const V2& a) { return reciprocal(a); });
  parity<2>("pow2_5", [](const V2& a) { return pow(a, 2.5f); });
}

TEST_CASE("parity with PyTorch: broadcasting binary ops") {
  parity<3, 2>("add", [](const V3& a, const V2& b) { return a + b; });
  parity<3, 2>("sub", [](const V3& a, const V2& b) { return a - b; });
  parity<3, 2>("mul", [](const V3& a, const V2& b) { return a * b; });
  parity<3, 2>("div", [](const V3& a, const V2& b) { return a / b; });
  parity<3, 2>("maximum", [](const V3& a, const V2& b) { return maximum(a, b); });
  parity<3, 2>("minimum", [](const V3& a, const V2& b) { return minimum(a, b); });
}

TEST_CASE("parity with PyTorch: reductions and views") {
  parity<3>("sum_axis", [](const V3& a) { return sum(a, 1); });
  parity<3>("mean_all", [](const V3& a) { return mean(a); });
  parity<3>("max_axis", [](const V3& a) { return max(a, 2, keepdim); });
  parity<3>("min_all", [](const V3& a) { return min(a); });
  parity<3>("logsumexp", [](const V3& a) { return logsumexp(a, 1); });
  parity<3>("var_axis", [](const V3& a) { return var(a, 2); });
  parity<3>("std_all", [](const V3& a) { return stddev(a); });
  parity<3>("norm_axis", [](const V3& a) { return norm(a, 0, 2.0); });
  parity<3>("permute_reshape", [](const V3& a) { return reshape(permute(a, {2, 0, 1}), {4, 15}); });
  parity<3>("slice", [](const V3& a) { return slice(a, 1, 1, 5, 2); });
}

TEST_CASE("parity with PyTorch: softmax, layer_norm, matmul, linear") {
  parity<3>("softmax", [](const V3& a) { return softmax(a, -1); });
  parity<3>("log_softmax", [](const V3& a) { return log_softmax(a, 1); });
  parity<3, 1, 1>("layer_norm",
                  [](const V3& a, const V1& g, const V1& b) { return layer_norm(a, g, b); });
  parity<2, 2>("matmul", [](const V2& a, const V2& b) { return matmul(a, b); });
  parity<3, 3>("bmm", [](const V3& a, const V3& b) { return matmul(a, b); });
  parity<2, 2, 1>("linear_gelu", [](const V2& x, const V2& w, const V1& b) {
    return linear(x, w, b, cpu::Activation::gelu);
  });
}

TEST_CASE("parity with PyTorch: losses") {
  const auto labels = target("cross_entropy");
  parity<2>("cross_entropy",
            [&](const V2& z) { return cross_entropy(z, labels, {.label_smoothing = 0.1}); });
  parity<2, 2>("mse", [](const V2& a, const V2& b) { return mse_loss(a, b); });
  parity<2, 2>("l1", [](const V2& a, const V2& b) { return l1_loss(a, b); });
  parity<2, 2>("smooth_l1", [](const V2& a, const V2& b) { return smooth_l1_loss(a, b, 0.5f); });
  parity<2, 2>("bce_logits",
               [](const V2& a, const V2& b) { return binary_cross_entropy_with_logits(a, b); });
  parity<2, 2>("cosine", [](const V2& a, const V2& b) { return cosine_similarity(a, b); });
  parity<2, 2>("kl_div",
               [](const V2& a, const V2& b) { return kl_div(a, b, reduction::batchmean); });
}

TEST_CASE("parity with PyTorch: a 2-layer MLP with GELU, layer norm and cross-entropy") {
  const auto y = target("mlp");
  parity<2, 2, 1, 1, 1, 2, 1>("mlp", [&](const V2& x, const V2& w1, const V1& b1, const V1& g,
                                         const V1& be, const V2& w2, const V1& b2) {
    const auto h = layer_norm(linear(x, w1, b1, cpu::Activation::gelu), g, be);
    return cross_entropy(linear(h, w2, b2), y);
  });
}
