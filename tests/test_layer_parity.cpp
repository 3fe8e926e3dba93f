// SPDX-License-Identifier: Apache-2.0
// Parity of modules and optimizers with PyTorch 1.13 (tests/fixtures/layers.safetensors, written
// by tests/fixtures/make_fixtures.py). Parameters are loaded by their PyTorch state_dict names,
// so a case also proves that our names and layouts are PyTorch's.
//
// Modules: output and the gradients of sum(out * u) for the input and every parameter, float,
// |ours - torch| <= 1e-5 (|torch| + max|torch|) as in test_parity.cpp. Optimizers: the parameters
// after each of 5 steps with fixed gradients, within 1e-6 of the same bound.
#include <pretext/io.hpp>

#include <string>

#include "reference.hpp"

using namespace pretext;

namespace {

const io::SafetensorsFile& fixtures() {
  static const auto f = io::SafetensorsFile::open(PRETEXT_FIXTURES_DIR "/layers.safetensors");
  return f;
}

template <class T, int R>
void check_matches(const Tensor<T, R>& ours, const std::string& name, double rtol = 1e-5) {
  test::check_scaled(ours, fixtures().get<float, R>(name), name, rtol);
}

/// Loads every parameter and buffer of m from "<case>.param.<name>" (all must exist).
template <class M>
void load_case(M& m, const std::string& c) {
  for (const auto& p : m.named_parameters()) {
    const std::string key = c + ".param." + p.name();
    INFO(key);
    REQUIRE(fixtures().contains(key));
    p.visit([&](const auto& v) {
      using V = std::remove_cvref_t<decltype(v)>;
      v.data().copy_(fixtures().get<float, V::rank>(key));
    });
  }
  for (const auto& b : m.named_buffers()) {
    const std::string key = c + ".param." + b.name();
    REQUIRE(fixtures().contains(key));
    b.visit([&](const auto& t) {
      using Tt = std::remove_cvref_t<decltype(t)>;
      t.copy_(fixtures().get<float, Tt::rank>(key));
    });
  }
}

/// Runs forward (fn(m, x)) and backward and compares everything the fixture has.
template <int R, class M, class Fn>
void module_parity(M& m, const std::string& c, Fn&& fn) {
  CAPTURE(c);
  load_case(m, c);
  const Var<float, R> x(fixtures().get<float, R>(c + ".in"), true);
  const auto out = fn(m, x);
  constexpr int RO = std::remove_cvref_t<decltype(out)>::rank;
  check_matches(out.data(), c + ".out");
  out.backward(fixtures().get<float, RO>(c + ".u"));
  check_matches(x.grad(), c + ".grad_in");
  for (const auto& p : m.named_parameters())
    p.visit([&](const auto& v) { check_matches(v.grad(), c + ".grad." + p.name()); });
  for (const auto& b : m.named_buffers())
    b.visit([&](const auto& t) { check_matches(t, c + ".after." + b.name()); });
}

template <class M>
auto call() {
  return [](const M& m, const auto& x) { return m(x); };
}

}  // namespace

TEST_CASE("layer parity with PyTorch: Linear, LayerNorm, BatchNorm") {
  Generator g(0);
  nn::Linear<5, 4> linear(g);
  module_parity<2>(linear, "linear", call<decltype(linear)>());
  nn::LayerNorm<6> ln;
  module_parity<3>(ln, "layer_norm", call<decltype(ln)>());
  nn::BatchNorm<4> bn;
  module_parity<3>(bn, "batch_norm_train", call<decltype(bn)>());
  nn::BatchNorm<3> bn2;
  module_parity<4>(bn2, "batch_norm2d_train", call<decltype(bn2)>());
  nn::BatchNorm<4> bne;
  bne.eval();
  module_parity<2>(bne, "batch_norm_eval", call<decltype(bne)>());
}

TEST_CASE("layer parity with PyTorch: attention with masks, transformer blocks") {
  Generator g(0);
  using Mha = nn::MultiHeadAttention<8>;
  Mha causal(2, g);
  module_parity<3>(causal, "mha_causal", [](const Mha& m, const Var<float, 3>& x) {
    return m(x, {true, nullptr});
  });
  const auto pad = fixtures().get<std::uint8_t, 2>("mha_padding.key_padding");
  Mha padded(2, g);
  module_parity<3>(padded, "mha_padding", [&](const Mha& m, const Var<float, 3>& x) {
    return m(x, {false, &pad});
  });
  using Block = nn::TransformerEncoderBlock<8>;
  for (bool pre : {true, false}) {
    Block block(nn::TransformerOptions{.heads = 2, .mlp_ratio = 4, .norm_first = pre}, g);
    module_parity<3>(block, pre ? "block_pre" : "block_post",
                     [](const Block& m, const Var<float, 3>& x) {
                       return m(x, {true, nullptr});
                     });
  }
}

TEST_CASE("layer parity with PyTorch: Conv1d, Conv2d (groups, dilation), ConvTranspose2d") {
  Generator g(0);
  using C2 = nn::Conv2d<4, 6>;
  C2 conv(3, {.stride = 2, .padding = 1, .groups = 2}, g);
  module_parity<4>(conv, "conv2d", call<C2>());
  using C2d = nn::Conv2d<3, 4>;
  C2d dilated(3, {.padding = 2, .dilation = 2}, g);
  module_parity<4>(dilated, "conv2d_dilated", call<C2d>());
  using Ct = nn::ConvTranspose2d<4, 6>;
  Ct up(3, {.stride = 2, .padding = 1, .groups = 2, .output_padding = 1}, g);
  module_parity<4>(up, "conv_transpose2d", call<Ct>());
  using C1 = nn::Conv1d<3, 4>;
  C1 conv1(5, {.stride = 2, .padding = 2}, g);
  module_parity<3>(conv1, "conv1d", call<C1>());
}

namespace {

/// Two parameters named "0" and "1" as the fixture's; the optimizer runs 5 steps with the stored
/// gradients and every intermediate parameter is compared.
struct TwoParams : nn::Module<TwoParams> {
  using value_type = float;
  template <class V>
  void visit(V& v) {
    v.param("0", a);
    v.param("1", b);
  }
  Var<float, 2> a;
  Var<float, 1> b;
};

template <class MakeOpt>
void optimizer_parity(const std::string& c, MakeOpt&& make) {
  CAPTURE(c);
  const auto& f = fixtures();
  TwoParams m;
  m.a = Var<float, 2>(f.get<float, 2>(c + ".init.0"), true);
  m.b = Var<float, 1>(f.get<float, 1>(c + ".init.1"), true);
  auto opt = make(m.named_parameters());
  for (int k = 0; k < 5; ++k) {
    const std::string s = c + ".g" + std::to_string(k) + ".";
    m.a.set_grad(f.get<float, 2>(s + "0"));
    m.b.set_grad(f.get<float, 1>(s + "1"));
    opt.step();
    const std::string p = c + ".p" + std::to_string(k) + ".";
    check_matches(m.a.data(), p + "0", 1e-6);
    check_matches(m.b.data(), p + "1", 1e-6);
  }
}

}  // namespace

TEST_CASE("optimizer trajectories equal PyTorch's over 5 steps") {
  using Params = std::vector<nn::ParamRef<float>>;
  optimizer_parity("sgd", [](Params ps) {
    return optim::SGD<float>(ps,
                             {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  });
  optimizer_parity("sgd_dampening", [](Params ps) {
    return optim::SGD<float>(ps, {.lr = 0.05, .momentum = 0.8, .dampening = 0.3});
  });
  optimizer_parity("adamw", [](Params ps) {
    // Rank-2 parameters decay, rank-1 do not: decay_groups makes the fixture's two groups.
    return optim::AdamW<float>(optim::decay_groups(
        ps, optim::AdamWOptions{.lr = 1e-2, .beta2 = 0.99, .weight_decay = 0.1}));
  });
  optimizer_parity("lars", [](Params ps) {
    return optim::LARS<float>(optim::decay_groups(
        ps, optim::LarsOptions{
                .lr = 0.2, .momentum = 0.9, .weight_decay = 1e-4, .trust_coefficient = 0.02}));
  });
}
