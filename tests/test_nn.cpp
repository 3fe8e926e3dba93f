// SPDX-License-Identifier: Apache-2.0
// Modules: naming, modes, deep copy, state dicts, dynamic width errors, and a finite-difference
// gradcheck in double of every layer (inputs and parameters).
#include <pretext/io.hpp>
#include <pretext/testing/doctest.hpp>

#include <cstdio>
#include <filesystem>

#include "reference.hpp"

using namespace pretext;
using V1 = Var<double, 1>;
using V2 = Var<double, 2>;
using V3 = Var<double, 3>;
using V4 = Var<double, 4>;

namespace {

test::Leaves leaf{500};

std::vector<std::string> names_of(auto& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.name());
  return out;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

}  // namespace

TEST_CASE("Sequential names parameters as torch.nn.Sequential and counts them") {
  Generator g(1);
  nn::Sequential<nn::Linear<6, 5>, nn::ReLU, nn::Dropout, nn::LayerNorm<5>, nn::Linear<5, 3>> net{
      nn::Linear<6, 5>(g), {}, nn::Dropout(0.1), {}, nn::Linear<5, 3>(g)};
  CHECK(names_of(net) ==
        std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias"});
  CHECK(net.num_parameters() == 6 * 5 + 5 + 5 + 5 + 5 * 3 + 3);
  CHECK(decltype(net)::in_width == 6);
  CHECK(decltype(net)::out_width == 3);
  const auto ps = net.parameters();
  CHECK(ps[0].shape() == std::vector<index_t>{5, 6});
  CHECK(ps[0].rank() == 2);
}

TEST_CASE("nested modules get dotted names; train and eval reach every module") {
  Generator g(2);
  nn::TransformerEncoderBlock<8, double> block(nn::TransformerOptions{.heads = 2}, g);
  CHECK(names_of(block) ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                 "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                 "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                 "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(block.self_attn.in_proj_weight.shape() == Shape<2>{24, 8});
  CHECK(block.linear1.weight.shape() == Shape<2>{32, 8});
  block.eval();
  CHECK_FALSE(block.is_training());
  CHECK_FALSE(block.norm2.is_training());
  CHECK_FALSE(block.self_attn.out_proj.is_training());
  block.train();
  CHECK(block.self_attn.out_proj.is_training());
}

TEST_CASE("dropout: identity in eval, inverted scaling in training, same mask for same seed") {
  Generator g1(7), g2(7);
  nn::Dropout d1(0.25, &g1), d2(0.25, &g2);
  const Var<float, 2> x(Tensor<float, 2>::ones(Shape<2>{64, 64}));
  const auto y1 = d1(x).data(), y2 = d2(x).data();
  CHECK(y1.to_vector() == y2.to_vector());
  index_t zeros = 0;
  for (float v : y1.to_vector()) {
    CHECK((v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f));
    zeros += v == 0.0f;
  }
  CHECK(std::abs(static_cast<double>(zeros) / 4096.0 - 0.25) < 0.03);
  d1.eval();
  CHECK(d1(x).data().to_vector() == x.data().to_vector());
  CHECK_THROWS_AS(nn::Dropout(1.0), config_error);
}

TEST_CASE("clone is deep; requires_grad_ freezes") {
  Generator g(3);
  nn::Linear<4, 3> a(g);
  auto b = a.clone();
  CHECK_FALSE(b.weight.data().shares_storage(a.weight.data()));
  CHECK(b.weight.data().to_vector() == a.weight.data().to_vector());
  b.weight.data().fill_(0.0f);
  CHECK(a.weight.data()(0, 0) != 0.0f);
  b.requires_grad_(false);
  CHECK_FALSE(b.weight.requires_grad());
  CHECK(a.weight.requires_grad());
}

TEST_CASE("dynamic widths: mismatches throw shape_error naming both") {
  Generator g(4);
  nn::Linear<nn::dynamic, nn::dynamic> lin(10, 4, g);
  const Var<float, 2> x(Tensor<float, 2>::zeros(Shape<2>{2, 9}));
  CHECK_THROWS_WITH_AS(lin(x), doctest::Contains("has 9 features but the layer takes 10"),
                       shape_error);
  CHECK_THROWS_AS((nn::Linear<10, 4>(11, 4, g)), config_error);
  nn::LayerNorm<nn::dynamic> ln(5);
  CHECK_THROWS_AS(ln(x), shape_error);
  CHECK_THROWS_AS((nn::MultiHeadAttention<nn::dynamic>(10, 3, g)), config_error);
  // Static and dynamic layers mix: the dynamic one is checked when it runs.
  nn::Sequential<nn::Linear<nn::dynamic, 7>, nn::ReLU, nn::Linear<7, 2>> net(
      nn::Linear<nn::dynamic, 7>(9, 7, g), {}, nn::Linear<7, 2>(g));
  CHECK(net(x).shape() == Shape<2>{2, 2});
}

namespace {
// y (fused) and ref (layer by layer) hold the same values, and backward through sum(y^2) and
// sum(ref^2) gives x and w the same gradients, bit for bit.
template <int R>
void check_same_gradients(const Var<double, R>& y, const Var<double, R>& ref,
                          const Var<double, R>& x, const V2& w) {
  CHECK(y.data().to_vector() == ref.data().to_vector());
  sum(mul(y, y)).backward();
  const auto gx = x.grad().to_vector(), gw = w.grad().to_vector();
  x.zero_grad();
  w.zero_grad();
  sum(mul(ref, ref)).backward();
  CHECK(x.grad().to_vector() == gx);
  CHECK(w.grad().to_vector() == gw);
}

// A ReLU with its own call operator: it must run as written, never be fused away.
struct DoubledReLU : nn::ReLU {
  template <floating T, int R>
  Var<T, R> operator()(const Var<T, R>& x) const {
    return mul(relu(x), T(2));
  }
};
}  // namespace

TEST_CASE("Sequential runs a ReLU after a Linear in its epilogue, with the same values") {
  Generator g(9);
  auto second = nn::Linear<6, 3, double>(g);  // drawn in named statements: a fixed order
  auto first = nn::Linear<4, 6, double>(g);
  nn::Sequential<nn::Linear<4, 6, double>, nn::ReLU, nn::Linear<6, 3, double>, nn::ReLU> net(
      first, {}, second, {});
  const V2 x(normal<double>({5, 4}, g), true);
  const V2 y = net(x);
  // The fused graph: two linear nodes and no relu node between them.
  CHECK(std::string(y.node()->name()) == "linear");
  CHECK(std::string(y.node()->input(0)->name()) == "linear");
  // The layers applied one by one (separate relu nodes) give the same values and gradients.
  const V2 ref = relu(second(relu(first(x))));
  check_same_gradients(y, ref, x, first.weight);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& in, const V2& w1, const V1& b2) {
        net.get<0>().weight = w1;
        net.get<2>().bias = b2;
        return net(in);
      },
      std::tuple{leaf({5, 4}), leaf({6, 4}), leaf({3})});
}

TEST_CASE("Sequential fuses a bias-free Linear on rank 3 too, and nothing it should not") {
  Generator g(11);
  auto first = nn::Linear<4, 6, double>(g, /*bias=*/false);
  nn::Sequential<nn::Linear<4, 6, double>, nn::ReLU> net(first, {});
  const V3 x(normal<double>({2, 5, 4}, g), true);
  const V3 y = net(x);
  const V3 ref = relu(first(x));
  check_same_gradients(y, ref, x, first.weight);

  // Not fused: a layer between them, another activation, a class derived from ReLU.
  const V2 x2(normal<double>({3, 4}, g));
  nn::Sequential<nn::Linear<4, 6, double>, nn::Dropout, nn::ReLU> with_dropout(
      first, nn::Dropout(0.0), {});
  CHECK(std::string(with_dropout(x2).node()->name()) == "relu");
  nn::Sequential<nn::Linear<4, 6, double>, nn::GELU> with_gelu(first, {});
  CHECK(std::string(with_gelu(x2).node()->name()) == "gelu");
  nn::Sequential<nn::Linear<4, 6, double>, DoubledReLU> doubled(first, {});
  CHECK(doubled(x2).data().to_vector() == mul(relu(first(x2)), 2.0).data().to_vector());
}

TEST_CASE("state dict round trip through safetensors, strict errors") {
  Generator g(5);
  using Net = nn::Sequential<nn::Linear<4, 6>, nn::BatchNorm<6>, nn::ReLU, nn::Linear<6, 2>>;
  Net a{nn::Linear<4, 6>(g), {}, {}, nn::Linear<6, 2>(g)};
  // Move the running statistics away from their initial values.
  a(Var<float, 2>(normal<float>({16, 4}, g)));
  const std::string path = temp_path("pretext_test_state.safetensors");
  nn::save_state_dict(a, path);
  const auto f = io::SafetensorsFile::open(path);
  CHECK(f.contains("1.running_mean"));
  CHECK(f.entry("0.weight").shape == std::vector<std::int64_t>{6, 4});

  Net b{nn::Linear<4, 6>(g), {}, {}, nn::Linear<6, 2>(g)};
  const auto keep = b.get<0>().weight.data();
  nn::load_state_dict(b, path);
  CHECK(b.get<0>().weight.data().shares_storage(keep));  // loaded in place
  CHECK(b.get<0>().weight.data().to_vector() == a.get<0>().weight.data().to_vector());
  CHECK(b.get<1>().running_var.to_vector() == a.get<1>().running_var.to_vector());

  nn::Sequential<nn::Linear<4, 6>> small{nn::Linear<4, 6>(g)};
  CHECK_THROWS_WITH_AS(nn::load_state_dict(small, path), doctest::Contains("module does not have"),
                       io_error);
  nn::load_state_dict(small, path, /*strict=*/false);
  nn::Sequential<nn::Linear<4, 5>> wrong{nn::Linear<4, 5>(g)};
  CHECK_THROWS_WITH_AS(nn::load_state_dict(wrong, path, false), doctest::Contains("(6, 4)"),
                       shape_error);
  std::remove(path.c_str());
}

TEST_CASE("batch_norm on feature maps: gradients with batch or given statistics, bad shapes") {
  // Batch statistics without affine: the gradient flows through the mean and the variance.
  PRETEXT_CHECK_GRADIENTS(
      [](const V4& x) {
        const auto [m, v] = batch_norm_moments(x.data());
        return batch_norm(x, m, v, nullptr, nullptr, 1e-5, true);
      },
      std::tuple{leaf({3, 2, 2, 3})});
  // Batch statistics, a scale and no shift.
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& x, const V1& w) {
        const auto [m, v] = batch_norm_moments(x.data());
        return batch_norm(x, m, v, &w, nullptr, 1e-5, true);
      },
      std::tuple{leaf({4, 3, 5}), leaf({3})});
  // Given statistics (evaluation): dx, dgamma and dbeta.
  const auto stats = leaf({3}).data();
  Tensor<double, 1> var(Shape<1>{3});
  for (index_t c = 0; c < 3; ++c) var(c) = 0.5 + c;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V4& x, const V1& w, const V1& b) {
        return batch_norm(x, stats, var, &w, &b, 1e-5, false);
      },
      std::tuple{leaf({2, 3, 2, 2}), leaf({3}), leaf({3})});
  // Moments match a plain two-pass computation; the wrong number of channels names both shapes.
  const auto x = leaf({5, 3, 7}).data();
  const auto [m, v] = batch_norm_moments(x);
  for (index_t c = 0; c < 3; ++c) {
    double s = 0, q = 0;
    for (index_t b = 0; b < 5; ++b)
      for (index_t l = 0; l < 7; ++l) s += x(b, c, l);
    for (index_t b = 0; b < 5; ++b)
      for (index_t l = 0; l < 7; ++l) q += (x(b, c, l) - s / 35) * (x(b, c, l) - s / 35);
    CHECK(m(c) == doctest::Approx(s / 35).epsilon(1e-12));
    CHECK(v(c) == doctest::Approx(q / 35).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(
      batch_norm(V3(x), var, Tensor<double, 1>(Shape<1>{4}), nullptr, nullptr, 1e-5, false),
      doctest::Contains("var has shape [4] but x has shape [5, 3, 7]"), shape_error);
}

TEST_CASE("batch norm: running statistics, eval uses them") {
  nn::BatchNorm<3, double> bn(3, 1e-5, 0.5);
  const auto x = leaf({8, 3, 5});
  bn(x);
  // running_mean = 0.5 * 0 + 0.5 * batch mean over (B, L).
  const auto m = pretext::mean(pretext::mean(x.data(), 2), 0);
  for (index_t c = 0; c < 3; ++c) CHECK(bn.running_mean(c) == doctest::Approx(0.5 * m(c)));
  bn.eval();
  const auto y = bn(x).data();
  const double expect =
      (x.data()(1, 2, 3) - bn.running_mean(2)) / std::sqrt(bn.running_var(2) + 1e-5);
  CHECK(y(1, 2, 3) == doctest::Approx(expect));
}

TEST_CASE("gradcheck: Linear, norms, embedding inputs and parameters") {
  Generator g(6);
  nn::Linear<5, 4, double> lin(g);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& x, const V2& w, const V1& b) {
        lin.weight = w;
        lin.bias = b;
        return lin(x);
      },
      std::tuple{leaf({2, 3, 5}), leaf({4, 5}), leaf({4})});
  nn::Linear<5, 4, double> lin_gelu(g);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& x, const V2& w) {
        lin_gelu.weight = w;
        return lin_gelu(x, cpu::Activation::gelu);
      },
      std::tuple{leaf({3, 5}), leaf({4, 5})});

  nn::LayerNorm<6, double> ln;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& x, const V1& w, const V1& b) {
        ln.weight = w;
        ln.bias = b;
        return ln(x);
      },
      std::tuple{leaf({2, 3, 6}), leaf({6}), leaf({6})});
  nn::RMSNorm<6, double> rms(6, 1e-6);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& x, const V1& w) {
        rms.weight = w;
        return rms(x);
      },
      std::tuple{leaf({3, 6}), leaf({6})});
  nn::BatchNorm<3, double> bn;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V4& x, const V1& w, const V1& b) {
        bn.weight = w;
        bn.bias = b;
        return bn(x);
      },
      std::tuple{leaf({4, 3, 2, 3}), leaf({3}), leaf({3})});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& x, const V1& w, const V1& b) {
        bn.weight = w;
        bn.bias = b;
        return bn(x);
      },
      std::tuple{leaf({5, 3}), leaf({3}), leaf({3})});
  bn.eval();
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& x, const V1& w) {
        bn.weight = w;
        return bn(x);
      },
      std::tuple{leaf({4, 3, 2}), leaf({3})});

  Tensor<std::int64_t, 2> ids(Shape<2>{2, 3});
  const std::int64_t id_values[] = {1, 0, 3, 1, 1, 2};
  for (int i = 0; i < 6; ++i) ids.data()[i] = id_values[i];
  PRETEXT_CHECK_GRADIENTS([&](const V2& w) { return embedding(w, ids); }, std::tuple{leaf({4, 5})});
  // The padding row receives no gradient.
  auto w = leaf({4, 5});
  sum(embedding(w, ids, /*padding_idx=*/1)).backward();
  for (index_t j = 0; j < 5; ++j) CHECK(w.grad()(1, j) == 0.0);
  CHECK(w.grad()(0, 0) == 1.0);
  CHECK_THROWS_AS(embedding(w, Tensor<std::int64_t, 1>::full(Shape<1>{1}, 4)), index_error);
}

TEST_CASE("gradcheck: attention with masks, transformer blocks, patch embedding, heads") {
  Generator g(8);
  Tensor<std::uint8_t, 2> pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{2, 5});
  pad(0, 4) = 1;
  pad(1, 0) = 1;
  pad(1, 3) = 1;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V4& q, const V4& k, const V4& v) {
        return scaled_dot_product_attention(q, k, v, AttentionMask{true, nullptr});
      },
      std::tuple{leaf({2, 2, 5, 3}), leaf({2, 2, 5, 3}), leaf({2, 2, 5, 3})});

  nn::MultiHeadAttention<6, double> mha(2, g);
  for (const auto& mask : {AttentionMask{}, AttentionMask{true, nullptr},
                           AttentionMask{false, &pad}, AttentionMask{true, &pad}}) {
    if (mask.causal && mask.key_padding) {
      // Row 0 of batch 1 would see only a padded key: every score -inf. Skip that combination.
      continue;
    }
    PRETEXT_CHECK_GRADIENTS(
        [&](const V3& x, const V2& w, const V1& b, const V2& ow) {
          mha.in_proj_weight = w;
          mha.in_proj_bias = b;
          mha.out_proj.weight = ow;
          return mha(x, mask);
        },
        std::tuple{leaf({2, 5, 6}), leaf({18, 6}), leaf({18}), leaf({6, 6})});
  }
  // Masked keys get no weight: changing a padded key's value changes nothing.
  {
    const auto x = leaf({2, 5, 6});
    const auto y1 = mha(x, AttentionMask{false, &pad}).data();
    auto x2 = x.data().clone();
    x2(0, 4, 0) += 10.0;
    const auto y2 = mha(V3(x2), AttentionMask{false, &pad}).data();
    // Query rows 0..3 of batch 0 only see keys 0..3 through attention; the residual-free output
    // of row 4 changes because its own query changed.
    for (index_t i = 0; i < 4; ++i)
      for (index_t j = 0; j < 6; ++j) CHECK(y1(0, i, j) == doctest::Approx(y2(0, i, j)));
  }

  for (bool norm_first : {true, false}) {
    nn::TransformerEncoderBlock<4, double> block(
        nn::TransformerOptions{.heads = 2, .mlp_ratio = 2, .norm_first = norm_first}, g);
    PRETEXT_CHECK_GRADIENTS(
        [&](const V3& x, const V2& w1, const V1& n2) {
          block.linear1.weight = w1;
          block.norm2.weight = n2;
          return block(x, AttentionMask{true, nullptr});
        },
        std::tuple{leaf({2, 3, 4}), leaf({8, 4}), leaf({4})});
  }

  nn::PatchEmbed<2, double> pe(2, 2, 3, g);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V4& x, const V4& w) {
        pe.proj.weight = w;
        return pe(x);
      },
      std::tuple{leaf({2, 2, 4, 6}), leaf({3, 2, 2, 2})});
  nn::PatchEmbed<1, double> pe1(3, 4, 5, g);
  PRETEXT_CHECK_GRADIENTS([&](const V3& x) { return pe1(x); }, std::tuple{leaf({2, 3, 8})});

  nn::MLP<4, 6, 3, double> mlp(g);
  PRETEXT_CHECK_GRADIENTS([&](const V3& x) { return mlp(x); }, std::tuple{leaf({2, 3, 4})});
  nn::ProjectionHead<4, 6, 3, double> proj(g);
  PRETEXT_CHECK_GRADIENTS([&](const V2& x) { return proj(x); }, std::tuple{leaf({5, 4})});

  nn::LearnedPositions<double> pos(8, 4, g);
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& x, const V2& w) {
        pos.weight = w;
        return pos(x);
      },
      std::tuple{leaf({2, 5, 4}), leaf({8, 4})});
}

TEST_CASE("patchify and unpatchify are inverse; a patch is ordered (c, i, j)") {
  const auto x = Var<float, 4>(test::randn<float>({2, 3, 4, 6}, 9));
  const auto t = patchify2d(x, 2);
  CHECK(t.shape() == Shape<3>{2, 6, 12});
  // Token 4 is patch row 1, column 1; its element (c=2, i=1, j=0) is pixel (2, 3, 2).
  CHECK(t.data()(1, 4, 2 * 4 + 1 * 2 + 0) == x.data()(1, 2, 3, 2));
  CHECK(unpatchify2d(t, 3, 4, 6, 2).data().to_vector() == x.data().to_vector());
  const auto s = Var<float, 3>(test::randn<float>({2, 3, 12}, 10));
  CHECK(unpatchify1d(patchify1d(s, 4), 3, 12, 4).data().to_vector() == s.data().to_vector());
  CHECK_THROWS_AS(patchify2d(x, 4), shape_error);
}

TEST_CASE("sine-cosine tables") {
  const auto t = sincos_1d<double>(5, 8);
  CHECK(t(0, 0) == 0.0);
  CHECK(t(0, 4) == 1.0);
  CHECK(t(3, 1) == doctest::Approx(std::sin(3.0 * std::pow(10000.0, -0.25))));
  const auto t2 = sincos_2d<double>(2, 3, 8);
  CHECK(t2.shape() == Shape<2>{6, 8});
  // Position (row 1, column 2): first half encodes the column, second the row.
  CHECK(t2(5, 1) == doctest::Approx(std::sin(2.0 * std::pow(10000.0, -0.5))));
  CHECK(t2(5, 5) == doctest::Approx(std::sin(1.0 * std::pow(10000.0, -0.5))));
  CHECK_THROWS_AS(sincos_2d<float>(2, 2, 6), config_error);
}

TEST_CASE("init: fans, gains and bounds") {
  Generator g(11);
  Tensor<double, 4> w(Shape<4>{8, 3, 5, 5});
  const auto [fi, fo] = nn::init::fans(w);
  CHECK(fi == 75);
  CHECK(fo == 200);
  nn::init::kaiming_uniform_(w, g, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(75.0);
  for (double v : w.to_vector()) CHECK(std::abs(v) <= bound);
  nn::init::trunc_normal_(w, g, 0.02);
  for (double v : w.to_vector()) CHECK(std::abs(v) <= 0.04);
  nn::init::xavier_normal_(w, g);
  const double sd = std::sqrt(pretext::var(w).item());
  CHECK(sd == doctest::Approx(std::sqrt(2.0 / 275.0)).epsilon(0.1));
  CHECK(nn::init::gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK_THROWS_AS(nn::init::gain("swish"), config_error);
}
