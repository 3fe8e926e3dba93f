// SPDX-License-Identifier: Apache-2.0
// The objectives on three adapters each (image patches, token ids, 1-D signal frames) with no
// modality code inside them: gradients of every objective's loss against finite differences in
// double, the trainer running each, masks and noise reproducible from the seed.
#include <pretext/objectives.hpp>
#include <pretext/testing/doctest.hpp>
#include <pretext/train.hpp>

#include "reference.hpp"

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

using V1 = Var<double, 1>;
using V2 = Var<double, 2>;

namespace {

test::Leaves leaf{1500};

constexpr index_t D = 8;   // encoder width
constexpr index_t Dd = 6;  // decoder width

using Lin = nn::Linear<nn::dynamic, nn::dynamic, double>;
using Pos = nn::LearnedPositions<double>;
using Enc = nn::TransformerEncoder<nn::dynamic, double>;
using Emb = nn::Embedding<nn::dynamic, nn::dynamic, double>;
using Decoder = nn::Sequential<Lin, Pos, Enc>;

nn::TransformerOptions tiny() {
  return {.heads = 2, .mlp_ratio = 2.0};
}

// One modality's adapter, a batch of it and a stem that embeds its tokens to width D.
struct ImageKit {
  mod::ImagePatches<double> adapter{1, 8, 8, 4};  // 4 tokens of 16 values
  Tensor<double, 2> batch() const { return test::randn<double>({3, 64}, 77); }
  auto stem(Generator& g) const { return nn::Sequential<Lin, Pos>(Lin(16, D, g), Pos(4, D, g)); }
};
struct SignalKit {
  mod::SignalFrames<double> adapter{1, 12, 3};  // 4 frames of 3 samples
  Tensor<double, 2> batch() const { return test::randn<double>({3, 12}, 78); }
  auto stem(Generator& g) const { return nn::Sequential<Lin, Pos>(Lin(3, D, g), Pos(4, D, g)); }
};
struct TextKit {
  mod::TokenIds<double> adapter{11, 5, 0};  // vocabulary 11 (0 = pad), 5 tokens
  Tensor<std::int64_t, 2> batch() const {
    return Tensor<std::int64_t, 2>::from({3, 5}, {5, 6, 7, 8, 9, 10, 9, 8, 7, 6, 5, 5, 6, 6, 7});
  }
  auto stem(Generator& g) const { return nn::Sequential<Emb, Pos>(Emb(11, D, g), Pos(5, D, g)); }
};

template <class Kit>
auto make_mae(const Kit& kit, Generator& g) {
  const index_t N = kit.adapter.tokens(kit.batch()).size(1);
  return obj::MaskedAutoencoder(kit.adapter, kit.stem(g), Enc(D, 1, tiny(), g),
                                Decoder(Lin(D, Dd, g), Pos(N, Dd, g), Enc(Dd, 1, tiny(), g)),
                                Lin(Dd, kit.adapter.target_dim(), g), D, obj::RandomMasking{0.5},
                                g);
}

}  // namespace

TEST_CASE_TEMPLATE("MaskedAutoencoder: gradients of the masked-token loss", Kit, ImageKit,
                   SignalKit, TextKit) {
  const Kit kit;
  Generator g(1);
  auto mae = make_mae(kit, g);
  const auto x = kit.batch();
  Generator mg(5);
  const auto mask = mae.masking(x.size(0), kit.adapter.tokens(x).size(1), mg);
  CHECK(mask.masked.size(1) + mask.visible.size(1) == kit.adapter.tokens(x).size(1));
  const index_t P = kit.adapter.target_dim();
  PRETEXT_CHECK_GRADIENTS(
      [&](const V1& token, const V2& head_w) {
        mae.mask_token = token;
        mae.head.weight = head_w;
        return mae.forward(x, mask).loss;
      },
      std::tuple{leaf({D}), leaf({P, Dd})});
  // Predictions are made for the masked tokens only.
  const auto out = mae.forward(x, mask);
  CHECK(out.pred.size(1) == mask.masked.size(1));
  CHECK(out.pred.size(2) == P);
}

TEST_CASE_TEMPLATE("MaskedPrediction: gradients with mask tokens or 80/10/10 ids", Kit, ImageKit,
                   SignalKit, TextKit) {
  const Kit kit;
  Generator g(2);
  obj::MaskedPrediction mp(kit.adapter, kit.stem(g), Enc(D, 1, tiny(), g),
                           Lin(D, kit.adapter.target_dim(), g), D, obj::RandomMasking{0.4}, g,
                           obj::TokenCorruption{.mask_id = 1, .special_ids = {0}});
  const auto x = kit.batch();
  const index_t P = kit.adapter.target_dim();
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& head_w, const V1& head_b) {
        mp.head.weight = head_w;
        mp.head.bias = head_b;
        Generator fixed(9);  // the same mask on every evaluation
        return mp.forward(x, fixed).loss;
      },
      std::tuple{leaf({P, D}), leaf({P})});
  if constexpr (decltype(kit.adapter)::continuous) {
    PRETEXT_CHECK_GRADIENTS(
        [&](const V1& token) {
          mp.mask_token = token;
          Generator fixed(9);
          return mp.forward(x, fixed).loss;
        },
        std::tuple{leaf({D})});
  }
  Generator a(3), b(3);
  const auto ma = mp.forward(x, a).mask, mb = mp.forward(x, b).mask;
  CHECK(ma.to_vector() == mb.to_vector());
}

TEST_CASE_TEMPLATE("Autoencoder and denoising noise: gradients, reproducible noise", Kit, ImageKit,
                   SignalKit, TextKit) {
  const Kit kit;
  Generator g(3);
  const index_t P = kit.adapter.target_dim();
  auto check = [&](auto noise) {
    obj::Autoencoder ae(kit.adapter, kit.stem(g), Enc(D, 1, tiny(), g), Lin(D, Dd, g),
                        Lin(Dd, P, g), noise);
    const auto x = kit.batch();
    PRETEXT_CHECK_GRADIENTS(
        [&](const V2& head_w, const V2& dec_w) {
          ae.head.weight = head_w;
          ae.decoder.weight = dec_w;
          Generator fixed(4);
          return ae.forward(x, fixed).first;
        },
        std::tuple{leaf({P, Dd}), leaf({Dd, D})});
    Generator a(8), b(8);
    CHECK(ae.forward(x, a).first.item() == ae.forward(x, b).first.item());
  };
  check(obj::NoNoise{});
  check(obj::GaussianNoise{0.3});
  check(obj::MaskingNoise{0.3});
  check(obj::SwapNoise{0.5});
}

TEST_CASE_TEMPLATE("VariationalAutoencoder: gradients of the ELBO, beta warm-up", Kit, ImageKit,
                   SignalKit, TextKit) {
  const Kit kit;
  Generator g(4);
  const index_t P = kit.adapter.target_dim(), Z = 3;
  using EncZ = nn::Sequential<Enc, Lin>;
  obj::VariationalAutoencoder vae(kit.adapter, kit.stem(g),
                                  EncZ(Enc(D, 1, tiny(), g), Lin(D, 2 * Z, g)), Lin(Z, Dd, g),
                                  Lin(Dd, P, g), obj::VaeOptions{.beta = 0.5, .warmup_steps = 4});
  const auto x = kit.batch();
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& stats_w, const V2& dec_w) {
        vae.encoder.template get<1>().weight = stats_w;
        vae.decoder.weight = dec_w;
        Generator fixed(6);
        return vae.forward(x, fixed, 0.5).loss;
      },
      std::tuple{leaf({2 * Z, D}), leaf({Dd, Z})});
  CHECK(vae.beta_at(0) == doctest::Approx(0.125));
  CHECK(vae.beta_at(3) == doctest::Approx(0.5));
  CHECK(vae.beta_at(100) == doctest::Approx(0.5));
  Generator fixed(6);
  const auto out = vae.forward(x, fixed, 0.5);
  CHECK(out.loss.item() ==
        doctest::Approx(out.reconstruction.item() + 0.5 * out.kl.item()).epsilon(1e-12));
  CHECK(out.kl.item() >= 0);
}

TEST_CASE("gaussian_kl: zero at the prior, closed form elsewhere, gradients") {
  const auto zeros = Var<double, 2>(Tensor<double, 2>::zeros({4, 3}));
  CHECK(obj::gaussian_kl(zeros, zeros).item() == doctest::Approx(0).epsilon(1e-15));
  // One row, one dimension: mu = 1, logvar = log 2 -> 0.5 (1 + 2 - log 2 - 1).
  const auto mu = Var<double, 2>(Tensor<double, 2>::from({1, 1}, {1.0}));
  const auto lv = Var<double, 2>(Tensor<double, 2>::from({1, 1}, {std::log(2.0)}));
  CHECK(obj::gaussian_kl(mu, lv).item() == doctest::Approx(0.5 * (2.0 - std::log(2.0))));
  PRETEXT_CHECK_GRADIENTS([](const V2& m, const V2& l) { return obj::gaussian_kl(m, l); },
                          std::tuple{leaf({3, 4}), leaf({3, 4})});
}

TEST_CASE_TEMPLATE("NextTokenPrediction: gradients; the causal mask hides the future", Kit,
                   ImageKit, SignalKit, TextKit) {
  const Kit kit;
  Generator g(5);
  const index_t P = kit.adapter.target_dim();
  obj::NextTokenPrediction gpt(kit.adapter, kit.stem(g), Enc(D, 1, tiny(), g), Lin(D, P, g));
  const auto x = kit.batch();
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& head_w) {
        gpt.head.weight = head_w;
        return gpt.forward(x).first;
      },
      std::tuple{leaf({P, D})});
  // The prediction at position 0 depends on token 0 only: changing the last token keeps it.
  auto y = x.clone();
  if constexpr (decltype(kit.adapter)::continuous)
    y.select(0, 0).narrow(0, y.size(1) - 2, 2).fill_(7.0);
  else
    y(0, y.size(1) - 1) = 2;
  const auto pa = gpt.forward(x).second.data(), pb = gpt.forward(y).second.data();
  for (index_t j = 0; j < P; ++j) CHECK(pa(0, 0, j) == doctest::Approx(pb(0, 0, j)));
}

TEST_CASE("the trainer runs an objective: MAE on signal frames lowers its loss") {
  SignalKit kit;
  Generator g(6);
  Tensor<float, 2> x(Shape<2>{64, 12});
  for (index_t i = 0; i < 64; ++i)  // smooth signals: a masked frame follows from its neighbours
    for (index_t t = 0; t < 12; ++t)
      x(i, t) = static_cast<float>(std::sin(0.5 * static_cast<double>(t) + 0.1 * i));
  using LinF = nn::Linear<nn::dynamic, nn::dynamic, float>;
  using PosF = nn::LearnedPositions<float>;
  using EncF = nn::TransformerEncoder<nn::dynamic, float>;
  obj::MaskedAutoencoder mae(
      mod::SignalFrames<float>{1, 12, 3},
      nn::Sequential<LinF, PosF>(LinF(3, 16, g), PosF(4, 16, g)), EncF(16, 1, tiny(), g),
      nn::Sequential<LinF, PosF, EncF>(LinF(16, 16, g), PosF(4, 16, g), EncF(16, 1, tiny(), g)),
      LinF(16, 3, g), 16, obj::RandomMasking{0.5}, g);
  data::UnlabeledTensorDataset<float, 2> ds(x);
  data::DataLoader loader(ds, {.batch_size = 16, .shuffle = true, .seed = 1});
  optim::AdamW<float> opt(mae.parameters(), {.lr = 3e-3, .weight_decay = 0.0});
  train::Trainer trainer(mae, loader, opt, optim::ConstantSchedule{},
                         {.max_steps = 300, .log_every = 50, .progress = false, .seed = 2});
  const auto r = trainer.fit();
  REQUIRE(r.loss_curve.size() == 6);
  CHECK(r.loss_curve.back().second < 0.5 * r.loss_curve.front().second);
}

TEST_CASE("tabular rows: a denoising autoencoder with swap noise through the same objective") {
  Generator g(7);
  const mod::TabularFeatures<double> table(3, {3});  // 3 numeric columns, 1 with 3 categories
  auto x = test::randn<double>({5, 4}, 79);
  for (index_t i = 0; i < 5; ++i) x(i, 3) = static_cast<double>(i % 3);
  obj::Autoencoder dae(table, mod::FeatureTokenizer<double>(table, D, g), Enc(D, 1, tiny(), g),
                       Lin(D, Dd, g), Lin(Dd, 1, g), obj::SwapNoise{0.3});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& head_w) {
        dae.head.weight = head_w;
        Generator fixed(2);
        return dae.forward(x, fixed).first;
      },
      std::tuple{leaf({1, Dd})});
  // Swap noise only moves whole tokens between rows at the same column.
  const auto h = Var<double, 3>(test::randn<double>({6, 4, 2}, 80));
  Generator sg(3);
  const auto swapped = obj::SwapNoise{0.5}(h, sg).data();
  for (index_t b = 0; b < 6; ++b)
    for (index_t n = 0; n < 4; ++n) {
      bool found = false;
      for (index_t r = 0; r < 6 && !found; ++r)
        found = swapped(b, n, 0) == h.data()(r, n, 0) && swapped(b, n, 1) == h.data()(r, n, 1);
      CHECK(found);
    }
}
