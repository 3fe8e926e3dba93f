// SPDX-License-Identifier: Apache-2.0
// Joint-embedding objectives on images, token sequences and 1-D signals with the same code:
// gradients in double, teachers that follow (or stay, with momentum 1), the FIFO key queue,
// collapse statistics, SimCLR over more than two views, and SimCLR trained by the Trainer on
// two augmented views.
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
  obj::SimCLR simclr{M::encoder(g), Lin(D, P, g), 0.5};
  check_projector_gradient(simclr, views);
  obj::BarlowTwins barlow{M::encoder(g), Lin(D, P, g), 5e-3};
  check_projector_gradient(barlow, views);
  obj::VICReg vicreg{M::encoder(g), Lin(D, P, g)};
  check_projector_gradient(vicreg, views);
  // SimCLR over three views (a std::tuple, as multi_view<3> gives) is multi-view NT-Xent of
  // their projections.
  obj::SimCLR simclr3{M::encoder(g), Lin(D, P, g), 0.5, 3};
  const auto three = std::tuple{views.first, views.second, views.first};
  check_projector_gradient(simclr3, three);
  train::StepContext ctx;
  const auto project = [&](const auto& v) {
    return simclr3.projector(simclr3.encoder(obj::detail::view_input(v)));
  };
  CHECK(simclr3.loss(three, ctx).item() ==
        doctest::Approx(
            obj::multi_view_nt_xent(
                std::vector{project(views.first), project(views.second), project(views.first)}, 0.5)
                .item())
            .epsilon(1e-12));
}

TEST_CASE("SimCLR checks its view count against the batch") {
  Generator g(2);
  obj::SimCLR simclr3{Images::encoder(g), Lin(D, P, g), 0.5, 3};
  train::StepContext ctx;
  const auto msg = test::error_message<config_error>([&] { simclr3.loss(Images::views(), ctx); });
  INFO(msg);
  CHECK(msg.find("2 views of each sample but the objective takes 3") != std::string::npos);
  CHECK(test::error_message<config_error>([&] {
          obj::SimCLR bad{Images::encoder(g), Lin(D, P, g), 0.5, 1};
        }).find("SimCLR: views 1 must be at least 2") != std::string::npos);
}

TEST_CASE_TEMPLATE("BYOL and SimSiam: gradients, and a teacher that follows with momentum < 1", M,
                   Images, Signals, Tokens) {
  Generator g(2);
  const auto views = M::views();
  obj::BYOL byol{M::encoder(g), Lin(D, P, g), Lin(P, P, g), {.base_momentum = 0.9}};
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
  obj::SimSiam simsiam{M::encoder(g), Lin(D, P, g), Lin(P, P, g)};
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
  obj::MoCo moco{M::encoder(g), Lin(D, P, g), P, {.queue_size = 6, .momentum = 0.99}};
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
  obj::CLIP clip{Signals::encoder(g), Tokens::encoder(g), 0.1};
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

namespace {

/// The gradients of every parameter of o, copied.
template <class O>
std::vector<Tensor<double, 2>> gradients(O& o) {
  std::vector<Tensor<double, 2>> out;
  for (const auto& p : o.parameters())
    out.push_back(p.grad().clone().reshape(Shape<2>{1, p.grad().numel()}));
  return out;
}

double max_difference(const std::vector<Tensor<double, 2>>& a,
                      const std::vector<Tensor<double, 2>>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (index_t j = 0; j < a[i].numel(); ++j)
      d = std::max(d, std::abs(a[i].data()[j] - b[i].data()[j]));
  return d;
}

/// Full-batch gradients of a batch-coupled objective against (1) the cached-embedding path over
/// four micro-batches, which must match, and (2) naive accumulation of the micro-batch losses,
/// which must not (otherwise the test would not tell the two apart).
template <std::size_t V = 2, class O>
void check_exact_accumulation(O& o) {
  // V views (8, 12) of one batch: a std::pair for two, else a std::tuple (as multi_view gives).
  const auto full = []<std::size_t... I>(std::index_sequence<I...>) {
    if constexpr (V == 2)
      return std::pair{test::randn<double>({8, 12}, 11), test::randn<double>({8, 12}, 12)};
    else
      return std::tuple{test::randn<double>({8, 12}, 11 + I)...};
  }
  (std::make_index_sequence<V>{});
  using Views = std::remove_const_t<decltype(full)>;
  std::vector<Views> micro;
  for (index_t i = 0; i < 8; i += 2)
    micro.push_back(std::apply(
        [i](const auto&... v) { return Views{v.narrow(0, i, 2).contiguous()...}; }, full));
  train::StepContext ctx;
  for (auto& p : o.parameters()) p.zero_grad();
  const double full_loss = o.loss(full, ctx).item();
  o.loss(full, ctx).backward();
  const auto expected = gradients(o);

  for (auto& p : o.parameters()) p.zero_grad();
  const double cached_loss =
      train::cached_embedding_backward(o, micro, [](std::size_t) { return train::StepContext{}; });
  CHECK(cached_loss == doctest::Approx(full_loss).epsilon(1e-12));
  CHECK(max_difference(gradients(o), expected) < 1e-12);

  for (auto& p : o.parameters()) p.zero_grad();
  for (const auto& m : micro) (o.loss(m, ctx) * 0.25).backward();
  CHECK(max_difference(gradients(o), expected) > 1e-4);
}

}  // namespace

TEST_CASE("Gradient accumulation of batch-coupled losses is exact (cached embeddings)") {
  Generator g(21);
  using Enc = nn::Sequential<Lin, nn::Tanh, Lin>;
  auto enc = [&g] { return Enc(Lin(12, 10, g), {}, Lin(10, D, g)); };
  SUBCASE("SimCLR") {
    obj::SimCLR o(enc(), Lin(D, P, g), 0.5);
    check_exact_accumulation(o);
  }
  SUBCASE("SimCLR with three views") {
    obj::SimCLR o(enc(), Lin(D, P, g), 0.5, 3);
    check_exact_accumulation<3>(o);
  }
  SUBCASE("Barlow Twins") {
    obj::BarlowTwins o(enc(), Lin(D, P, g), 5e-3);
    check_exact_accumulation(o);
  }
  SUBCASE("VICReg") {
    obj::VICReg o(enc(), Lin(D, P, g));
    check_exact_accumulation(o);
  }
  SUBCASE("CLIP") {
    obj::CLIP o(enc(), Enc(Lin(12, 10, g), {}, Lin(10, D, g)), 0.1);
    check_exact_accumulation(o);
  }
}

TEST_CASE_TEMPLATE("Trainer: accumulating 4 micro-batches of SimCLR equals one whole-batch step",
                   Views, std::integral_constant<std::size_t, 2>,
                   std::integral_constant<std::size_t, 3>) {
  // Same 16 samples and views (two, or three per sample); one SGD step with batch 8, or with
  // batch 2 and accumulate 4.
  Generator g0(31);
  const Tensor<double, 2> x = normal<double>({16, 12}, g0);
  data::UnlabeledTensorDataset<double, 2> ds(x);
  const auto views = mod::multi_view<Views::value>(ds, mod::SignalJitter{.std = 0.1});
  using Enc = nn::Sequential<Lin, nn::Tanh, Lin>;
  auto run = [&](index_t batch, int accumulate, bool exact = true) {
    Generator g(32);
    obj::SimCLR o(Enc(Lin(12, 10, g), {}, Lin(10, D, g)), Lin(D, P, g), 0.5,
                  static_cast<index_t>(Views::value));
    data::DataLoader loader(views, {.batch_size = batch, .shuffle = true, .seed = 3});
    optim::SGD<double> opt(o.parameters(), {.lr = 0.5});
    train::Trainer trainer(
        o, loader, opt, optim::ConstantSchedule{},
        {.max_steps = 1, .accumulate = accumulate, .exact_accumulation = exact, .progress = false});
    const auto w0 = o.projector.weight.data().clone();
    const auto r = trainer.fit();
    return std::tuple{r.last_loss, w0, o.projector.weight.data().clone()};
  };
  auto max_diff = [](const Tensor<double, 2>& a, const Tensor<double, 2>& b) {
    double d = 0;
    for (index_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(a.data()[i] - b.data()[i]));
    return d;
  };
  const auto [full_loss, w0, full_w] = run(8, 1);
  const auto [acc_loss, w0_again, acc_w] = run(2, 4);
  CHECK(acc_loss == doctest::Approx(full_loss).epsilon(1e-12));
  CHECK(max_diff(full_w, w0) > 1e-3);  // the step moved the weights
  CHECK(max_diff(full_w, acc_w) < 1e-12);
  // Summing per-micro-batch losses is a different objective (each anchor sees only the other
  // embeddings of its micro-batch of 2 samples).
  const auto [naive_loss, w0_naive, naive_w] = run(2, 4, false);
  CHECK(max_diff(full_w, naive_w) > 1e-4);
}
