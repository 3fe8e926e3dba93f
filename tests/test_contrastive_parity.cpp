// SPDX-License-Identifier: Apache-2.0
// The joint-embedding losses (objectives/contrastive.hpp) against PyTorch in float: values and
// input gradients of NT-Xent (SimCLR's reference formulation) and of its multi-view form,
// InfoNCE with a queue (MoCo), CLIP, BYOL, Barlow Twins (BatchNorm without affine) and VICReg
// with its three terms, on embeddings (B, D). Fixtures: tests/fixtures/contrastive.safetensors,
// written by tests/fixtures/make_fixtures.py.
#include <pretext/io.hpp>
#include <pretext/objectives/contrastive.hpp>

#include <doctest/doctest.h>

#include "reference.hpp"

using namespace pretext;
namespace obj = pretext::objectives;

namespace {

const io::SafetensorsFile& fixtures() {
  static const auto f = io::SafetensorsFile::open(PRETEXT_FIXTURES_DIR "/contrastive.safetensors");
  return f;
}
template <int R>
Var<float, R> input(const std::string& name) {
  return Var<float, R>(fixtures().get<float, R>(name), true);
}
void check_value(const Var<float, 0>& ours, const std::string& name) {
  INFO(name);
  CHECK(ours.item() == doctest::Approx(fixtures().get<float, 0>(name).item()).epsilon(1e-5));
}
template <int R>
void check_grad(const Var<float, R>& v, const std::string& name) {
  REQUIRE(v.grad().defined());
  test::check_scaled(v.grad(), fixtures().get<float, R>(name), name, 1e-5);
}

}  // namespace

TEST_CASE("NT-Xent matches SimCLR's formulation in PyTorch") {
  for (const auto& [c, temp] :
       {std::pair<std::string, double>{"nt_xent", 0.5}, {"nt_xent_t01", 0.1}}) {
    CAPTURE(c);
    const auto z1 = input<2>(c + ".z1"), z2 = input<2>(c + ".z2");
    const auto loss = obj::nt_xent(z1, z2, temp);
    check_value(loss, c + ".loss");
    loss.backward();
    check_grad(z1, c + ".grad.z1");
    check_grad(z2, c + ".grad.z2");
  }
}

TEST_CASE("multi-view NT-Xent of three views matches an anchor-by-anchor PyTorch reference") {
  const std::string c = "multi_view_nt_xent";
  const auto z1 = input<2>(c + ".z1"), z2 = input<2>(c + ".z2"), z3 = input<2>(c + ".z3");
  const auto loss = obj::multi_view_nt_xent(std::vector{z1, z2, z3}, 0.3);
  check_value(loss, c + ".loss");
  loss.backward();
  check_grad(z1, c + ".grad.z1");
  check_grad(z2, c + ".grad.z2");
  check_grad(z3, c + ".grad.z3");
}

TEST_CASE("InfoNCE with a queue matches MoCo's forward in PyTorch") {
  const auto q = input<2>("info_nce.q"), k = input<2>("info_nce.k");
  const auto queue = input<2>("info_nce.queue");
  const auto loss = obj::info_nce(q, k, &queue, 0.2);
  check_value(loss, "info_nce.loss");
  loss.backward();
  check_grad(q, "info_nce.grad.q");
  check_grad(k, "info_nce.grad.k");
  check_grad(queue, "info_nce.grad.queue");
}

TEST_CASE("CLIP's symmetric loss with a learnable temperature matches PyTorch") {
  const auto a = input<2>("clip.a"), b = input<2>("clip.b");
  const auto log_scale = input<0>("clip.log_scale");
  const auto loss = obj::clip_loss(a, b, log_scale);
  check_value(loss, "clip.loss");
  loss.backward();
  check_grad(a, "clip.grad.a");
  check_grad(b, "clip.grad.b");
  check_grad(log_scale, "clip.grad.log_scale");
}

TEST_CASE("BYOL's regression loss matches PyTorch, with no gradient to the target") {
  const auto p = input<2>("byol.p"), z = input<2>("byol.z");
  const auto loss = obj::byol_loss(p, z);
  check_value(loss, "byol.loss");
  loss.backward();
  check_grad(p, "byol.grad.p");
  CHECK_FALSE(z.grad().defined());
}

TEST_CASE("Barlow Twins matches its reference code (BatchNorm without affine) in PyTorch") {
  const auto z1 = input<2>("barlow.z1"), z2 = input<2>("barlow.z2");
  const auto loss = obj::barlow_twins_loss(z1, z2, 5e-3);
  check_value(loss, "barlow.loss");
  loss.backward();
  check_grad(z1, "barlow.grad.z1");
  check_grad(z2, "barlow.grad.z2");
}

TEST_CASE("VICReg and its three terms match its reference code in PyTorch") {
  const auto z1 = input<2>("vicreg.z1"), z2 = input<2>("vicreg.z2");
  const auto terms = obj::vicreg_terms(z1, z2);
  check_value(terms.invariance, "vicreg.invariance");
  check_value(terms.variance, "vicreg.variance");
  check_value(terms.covariance, "vicreg.covariance");
  const auto loss = obj::vicreg_loss(z1, z2);
  check_value(loss, "vicreg.loss");
  loss.backward();
  check_grad(z1, "vicreg.grad.z1");
  check_grad(z2, "vicreg.grad.z2");
}
