// SPDX-License-Identifier: Apache-2.0
// The objectives' losses against PyTorch on fixed masks and fixed noise, values and gradients:
// MAE's masked-patch loss (plain and per-patch normalised targets), BERT's masked-LM loss after
// 80/10/10 corruption, and a VAE's ELBO. Fixtures: tests/fixtures/objectives.safetensors, written
// by tests/fixtures/make_fixtures.py.
#include <pretext/io.hpp>
#include <pretext/objectives.hpp>

#include <doctest/doctest.h>

#include "reference.hpp"

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

namespace {

const io::SafetensorsFile& fixtures() {
  static const auto f = io::SafetensorsFile::open(PRETEXT_FIXTURES_DIR "/objectives.safetensors");
  return f;
}
template <int R>
Tensor<float, R> get(const std::string& name) {
  return fixtures().get<float, R>(name);
}
double scalar(const std::string& name) {
  return static_cast<double>(fixtures().get<float, 0>(name).item());
}
template <int R>
void check_grad(const Var<float, R>& v, const std::string& name) {
  REQUIRE(v.grad().defined());
  test::check_scaled(v.grad(), get<R>(name), name, 1e-5);
}

using Lin = nn::Linear<nn::dynamic, nn::dynamic, float>;

Lin linear_from(const std::string& prefix) {
  Generator g(0);
  const auto w = get<2>(prefix + ".weight");
  Lin l(w.size(1), w.size(0), g);
  l.weight = Var<float, 2>(w, true);
  l.bias = Var<float, 1>(get<1>(prefix + ".bias"), true);
  return l;
}

}  // namespace

TEST_CASE("MAE masked-patch loss matches PyTorch, with and without normalised targets") {
  for (const bool norm : {false, true}) {
    const std::string c = norm ? "mae_norm" : "mae";
    CAPTURE(c);
    const mod::ImagePatches<float> patches(1, 8, 8, 4, norm);
    const auto images = get<4>(c + ".images").reshape(Shape<2>{2, 64});
    const auto masked = fixtures().get<std::int64_t, 2>(c + ".masked");
    Var<float, 3> pred(get<3>(c + ".pred"), true);
    const auto loss = patches.prediction_loss(pred, patches.tokens(images), masked);
    CHECK(loss.item() == doctest::Approx(scalar(c + ".loss")).epsilon(1e-5));
    loss.backward();
    check_grad(pred, c + ".grad.pred");
  }
}

TEST_CASE("BERT masked-LM loss after 80/10/10 corruption matches PyTorch") {
  const auto ids = fixtures().get<std::int64_t, 2>("mlm.ids");
  const auto corrupted = fixtures().get<std::int64_t, 2>("mlm.corrupted");
  const auto chosen = fixtures().get<std::uint8_t, 2>("mlm.chosen");
  const mod::TokenIds<float> text(12, 6, /*pad_id=*/0);
  Generator g(0);
  nn::Embedding<nn::dynamic, nn::dynamic, float> emb(12, 6, g);
  emb.weight = Var<float, 2>(get<2>("mlm.embedding"), true);
  Lin head = linear_from("mlm");
  // The objective's path: corrupted ids -> stem -> head at the chosen positions -> adapter loss.
  const auto m = mod::mask_from(chosen);
  REQUIRE(m.uniform());
  const auto pred = head(gather_tokens(emb(text.tokens(corrupted)), m.masked));
  const auto loss = text.prediction_loss(pred, text.tokens(ids), m.masked);
  CHECK(loss.item() == doctest::Approx(scalar("mlm.loss")).epsilon(1e-5));
  loss.backward();
  check_grad(emb.weight, "mlm.grad.embedding");
  check_grad(head.weight, "mlm.grad.weight");
  check_grad(head.bias, "mlm.grad.bias");
}

TEST_CASE("VAE ELBO with fixed noise matches PyTorch") {
  const double beta = static_cast<double>(get<1>("vae.beta")(0));
  obj::VariationalAutoencoder vae(mod::ImagePatches<float>(1, 4, 4, 2), linear_from("vae.stem"),
                                  linear_from("vae.encoder"), linear_from("vae.decoder"),
                                  linear_from("vae.head"));
  const auto images = get<4>("vae.images").reshape(Shape<2>{3, 16});
  const auto out = vae.forward(images, get<3>("vae.eps"), beta);
  CHECK(out.reconstruction.item() == doctest::Approx(scalar("vae.reconstruction")).epsilon(1e-5));
  CHECK(out.kl.item() == doctest::Approx(scalar("vae.kl")).epsilon(1e-5));
  CHECK(out.loss.item() == doctest::Approx(scalar("vae.loss")).epsilon(1e-5));
  out.loss.backward();
  for (const auto& p : vae.named_parameters()) {
    CAPTURE(p.name());
    const auto name = "vae.grad." + p.name();
    const Tensor<float, 1> ref =
        p.rank() == 2 ? get<2>(name).reshape(Shape<1>{p.numel()}) : get<1>(name);
    REQUIRE(p.grad().defined());
    test::check_scaled(p.grad(), ref, name, 1e-5);
  }
}
