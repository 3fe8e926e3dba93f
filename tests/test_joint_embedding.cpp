// SPDX-License-Identifier: Apache-2.0
// Joint-embedding objectives on images, token sequences and 1-D signals with the same code:
// gradients in double, teachers that follow (or stay, with momentum 1), the FIFO key queue,
// collapse statistics, and SimCLR trained by the Trainer on two augmented views.
#include <pretext/data.hpp>
#include <pretext/objectives.hpp>
#include <pretext/testing/doctest.hpp>
#include <pretext/train.hpp>

#include "reference.hpp"

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

namespace {

test::Leaves leaf{1900};
using V2 = Var<double, 2>;
using Lin = nn::Linear<nn::dynamic, nn::dynamic, double>;
constexpr index_t D = 6, P = 4;

/// Token ids (B, N) -> mean of their embeddings (B, D): a bag-of-tokens encoder.
class TokenBag : public nn::Module<TokenBag> {
 public:
  using value_type = double;
  TokenBag(index_t vocab, index_t dim, Generator& g) : emb(vocab, dim, g) {}
  template <class V>
  void visit(V& v) {
    v.module("emb", emb);
  }
  Var<double, 2> operator()(const Tensor<std::int64_t, 2>& ids) const { return mean(emb(ids), 1); }
  nn::Embedding<nn::dynamic, nn::dynamic, double> emb;
};

struct Images {  // flattened 4x4 images through a linear encoder
  static auto views() {
    return std::pair{test::randn<double>({4, 16}, 1), test::randn<double>({4, 16}, 2)};
  }
  static Lin encoder(Generator& g) { return Lin(16, D, g); }
};
struct Signals {  // 12-sample signals
  static auto views() {
    return std::pair{test::randn<double>({4, 12}, 3), test::randn<double>({4, 12}, 4)};
  }
  static Lin encoder(Generator& g) { return Lin(12, D, g); }
};
struct Tokens {  // sequences of 5 ids out of 9
  static auto views() {
    return std::pair{Tensor<std::int64_t, 2>::from(
                         {4, 5}, {1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7, 4, 5, 6, 7, 8}),
                     Tensor<std::int64_t, 2>::from(
                         {4, 5}, {1, 2, 3, 0, 5, 2, 0, 4, 5, 6, 3, 4, 0, 6, 7, 4, 5, 6, 0, 8})};
  }
  static TokenBag encoder(Generator& g) { return TokenBag(9, D, g); }
};

/// Checks the gradient of loss with respect to the projector's weight (B, P x D).
template <class Objective, class Views>
void check_projector_gradient(Objective& o, const Views& views) {
  train::StepContext ctx;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& w) {
        o.projector.weight = w;
        return o.loss(views, ctx);
      },
      std::tuple{leaf({P, D})});
}

}  // namespace

TEST_CASE_TEMPLATE("SimCLR, BarlowTwins and VICReg: gradients on any modality", M, Images, Signals,
                   Tokens) {
  Generator g(1);
  const auto views = M::views();
  obj::SimCLR simclr(M::encoder(g), Lin(D, P, g), 0.5);
  check_projector_gradient(simclr, views);
  obj::BarlowTwins barlow(M::encoder(g), Lin(D, P, g), 5e-3);
  check_projector_gradient(barlow, views);
  obj::VICReg vicreg(M::encoder(g), Lin(D, P, g));
  check_projector_gradient(vicreg, views);
}

TEST_CASE_TEMPLATE("BYOL and SimSiam: gradients, and a teacher that follows with momentum < 1", M,
                   Images, Signals, Tokens) {
  Generator g(2);
  const auto views = M::views();
  obj::BYOL byol(M::encoder(g), Lin(D, P, g), Lin(P, P, g), {.base_momentum = 0.9});
  check_projector_gradient(byol, views);
  // Only the online parts train.
  CHECK(byol.trainable_parameters().size() + byol.target_encoder.parameters().size() +
            byol.target_projector.parameters().size() ==
        byol.parameters().size());
  train::StepContext ctx;
  ctx.total_steps = 10;
  // Momentum 1 (the end of the cosine) changes nothing.
  const auto before = byol.target_projector.weight.data().clone();
  byol.projector.weight = Var<double, 2>(test::randn<double>({P, D}, 9), true);
  ctx.step = 10;
  byol.after_step(ctx);
  CHECK(byol.target_projector.weight.data().to_vector() == before.to_vector());
  ctx.step = 0;  // momentum 0.9: a tenth of the way to the student
  byol.after_step(ctx);
  const auto after = byol.target_projector.weight.data();
  const auto student = byol.projector.weight.data();
  for (index_t i = 0; i < P; ++i)
    for (index_t j = 0; j < D; ++j)
      CHECK(after(i, j) == doctest::Approx(0.9 * before(i, j) + 0.1 * student(i, j)));

  // SimSiam stops the gradient through the projection it predicts, so a finite difference in
  // the projector sees more than backward does by design; the predictor is checked instead.
  obj::SimSiam simsiam(M::encoder(g), Lin(D, P, g), Lin(P, P, g));
  train::StepContext plain;
  PRETEXT_CHECK_GRADIENTS(
      [&](const V2& w) {
        simsiam.predictor.weight = w;
        return simsiam.loss(views, plain);
      },
      std::tuple{leaf({P, P})});
}

TEST_CASE_TEMPLATE("MoCo: gradients; keys enter the FIFO queue after the step", M, Images, Signals,
                   Tokens) {
  Generator g(3);
  const auto views = M::views();
  obj::MoCo moco(M::encoder(g), Lin(D, P, g), P, {.queue_size = 6, .momentum = 0.99});
  train::StepContext ctx;
  check_projector_gradient(moco, views);  // first with an empty queue
  moco.after_step(ctx);
  CHECK(moco.queue.size() == 6);          // the gradient check's evaluations all pushed keys
  check_projector_gradient(moco, views);  // now against queued negatives
}

TEST_CASE("KeyQueue is first-in first-out and keeps the last K keys") {
  obj::KeyQueue<double> q(3, 2);
  CHECK(q.size() == 0);
  q.push(Tensor<double, 2>::from({2, 2}, {1, 1, 2, 2}));
  CHECK(q.keys().to_vector() == std::vector<double>{1, 1, 2, 2});
  q.push(Tensor<double, 2>::from({2, 2}, {3, 3, 4, 4}));
  CHECK(q.size() == 3);
  CHECK(q.keys().to_vector() == std::vector<double>{2, 2, 3, 3, 4, 4});  // 1 dropped first
  q.push(Tensor<double, 2>::from({1, 2}, {5, 5}));
  CHECK(q.keys().to_vector() == std::vector<double>{3, 3, 4, 4, 5, 5});
  CHECK_THROWS_AS(q.push(Tensor<double, 2>::from({1, 3}, {1, 2, 3})), shape_error);
}

TEST_CASE("CLIP on paired modalities: gradients including the temperature") {
  Generator g(4);
  obj::CLIP clip(Signals::encoder(g), Tokens::encoder(g), 0.1);
  const auto pair = std::pair{Signals::views().first, Tokens::views().first};
  train::StepContext ctx;
  PRETEXT_CHECK_GRADIENTS(
      [&](const Var<double, 0>& s, const V2& w) {
        clip.log_scale = s;
        clip.encoder_a.weight = w;
        return clip.loss(pair, ctx);
      },
      std::tuple{Var<double, 0>(clip.log_scale.data().clone(), true), leaf({D, 12})});
}

TEST_CASE("collapse_stats: a collapsed batch against a spread-out one") {
  const auto same = Tensor<double, 2>::from({3, 2}, {1, 2, 1, 2, 1, 2});
  const auto s = obj::collapse_stats(same);
  CHECK(s.embedding_std == doctest::Approx(0));
  CHECK(s.effective_rank == doctest::Approx(1));
  const auto spread = obj::collapse_stats(test::randn<double>({200, 8}, 5));
  CHECK(spread.effective_rank > 6);
  CHECK(spread.embedding_std == doctest::Approx(1 / std::sqrt(8.0)).epsilon(0.15));
}

TEST_CASE("SimCLR trained by the Trainer on two augmented views lowers its loss") {
  // Random signals; each sample's two views (masking, scaling, jitter) must find each other among
  // the other 126 embeddings of the batch.
  Generator g(5);
  const Tensor<float, 2> x = normal<float>({256, 32}, g);
  data::UnlabeledTensorDataset<float, 2> ds(x);
  const auto aug = mod::compose(mod::SignalMasking{.fraction = 0.2}, mod::SignalScaling{.std = 0.2},
                                mod::SignalJitter{.std = 0.05});
  const auto views = mod::multi_view(ds, aug);
  data::DataLoader loader(views, {.batch_size = 64, .shuffle = true, .seed = 1});
  using LinF = nn::Linear<nn::dynamic, nn::dynamic, float>;
  using Enc = nn::Sequential<LinF, nn::ReLU, LinF>;
  obj::SimCLR simclr(Enc(LinF(32, 64, g), {}, LinF(64, 16, g)), LinF(16, 16, g), 0.1);
  optim::AdamW<float> opt(simclr.parameters(), {.lr = 3e-3, .weight_decay = 1e-4});
  train::Trainer trainer(simclr, loader, opt, optim::ConstantSchedule{},
                         {.max_steps = 200, .log_every = 50, .progress = false, .seed = 2});
  const auto r = trainer.fit();
  REQUIRE(r.loss_curve.size() == 4);
  CHECK(r.loss_curve.back().second < 0.5 * r.loss_curve.front().second);
}
