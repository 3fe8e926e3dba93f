// SPDX-License-Identifier: Apache-2.0
// A new pre-training objective in a few lines: rotation prediction (Gidaris et al. 2018). Each
// unlabeled image is turned by 0, 90, 180 or 270 degrees and the model predicts which. It is a
// template over its encoder and head, checked with gradcheck in double, trained by the same
// Trainer as the built-in objectives, then judged by a linear probe on 1% of the labels.
//
//   custom_objective [data dir] [steps]
//   x (B, 784) -rotate-> (4B, 1, 28, 28) -encoder-> (4B, 128) -head-> (4B, 4) -CE-> scalar
#include <pretext/data.hpp>
#include <pretext/eval.hpp>
#include <pretext/objectives.hpp>
#include <pretext/train.hpp>

#include "fashion_mnist.hpp"

using namespace pretext;

template <nn::module Encoder, nn::module Head>
struct RotationPrediction : nn::Module<RotationPrediction<Encoder, Head>> {
  using T = nn::param_type_t<Encoder>;
  Encoder encoder;
  Head head;
  RotationPrediction(Encoder e, Head h) : encoder(std::move(e)), head(std::move(h)) {}
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("head", head);
  }
  // x (B, S*S) square images -> loss of predicting the rotation of all four copies.
  Var<T, 0> loss(const Tensor<T, 2>& x, train::StepContext& ctx) {
    const index_t B = x.size(0), S = static_cast<index_t>(std::lround(std::sqrt(x.size(1))));
    Tensor<T, 4> turned(Shape<4>{4 * B, 1, S, S});
    Tensor<std::int64_t, 1> label(Shape<1>{4 * B});
    for (index_t r = 0; r < 4; ++r)
      for (index_t b = 0; b < B; ++b) {
        label(r * B + b) = r;
        for (index_t i = 0; i < S; ++i)
          for (index_t j = 0; j < S; ++j) {  // (i, j) of the image turned r quarter turns
            const index_t si = r == 0 ? i : r == 1 ? j : r == 2 ? S - 1 - i : S - 1 - j;
            const index_t sj = r == 0 ? j : r == 1 ? S - 1 - i : r == 2 ? S - 1 - j : i;
            turned(r * B + b, 0, i, j) = x(b, si * S + sj);
          }
      }
    const auto logits = head(encoder(Var<T, 4>(turned)));
    const auto pred = argmax(logits.data(), 1);
    index_t right = 0;
    for (index_t k = 0; k < 4 * B; ++k) right += pred(k) == label(k);
    ctx.report("accuracy", static_cast<double>(right) / static_cast<double>(4 * B));
    return cross_entropy(logits, label);
  }
};

template <class T>
auto make_encoder(Generator& g, index_t side = 28) {  // conv, pool, conv, pool, linear -> (B, 128)
  const nn::ConvOptions same{.padding = 1};
  using C1 = nn::Conv2d<1, 8, T>;
  using C2 = nn::Conv2d<8, 16, T>;
  using Fc = nn::Linear<nn::dynamic, nn::dynamic, T>;
  // Last layer first, in named statements: the same weights from every compiler.
  Fc fc(16 * (side / 4) * (side / 4), 128, g);
  C2 conv2(3, same, g);
  C1 conv1(3, same, g);
  return nn::Sequential<C1, nn::ReLU, nn::MaxPool2d, C2, nn::ReLU, nn::MaxPool2d, nn::Flatten, Fc,
                        nn::ReLU>(std::move(conv1), {}, nn::MaxPool2d(2), std::move(conv2), {},
                                  nn::MaxPool2d(2), {}, std::move(fc), {});
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const long steps = argc > 2 ? std::atol(argv[2]) : 600;
  try {
    // 1. Gradients of the new objective against finite differences, in double, on 8x8 images.
    Generator g(0);
    nn::Linear<nn::dynamic, nn::dynamic, double> check_head(128, 4, g);  // head first (as g++)
    RotationPrediction check(make_encoder<double>(g, 8), std::move(check_head));
    const auto small = uniform<double>({2, 64}, g, 0.0, 1.0);
    train::StepContext ctx;
    const auto report = gradcheck(
        [&](const Var<double, 2>& w) {
          check.head.weight = w;
          return check.loss(small, ctx);
        },
        std::tuple{Var<double, 2>(normal<double>({4, 128}, g), true)});
    std::printf("gradcheck of the rotation loss: %s\n", report.message.c_str());
    if (!report) return 1;

    // 2. Pre-train on the 60,000 training images without labels.
    const auto train = example::load(dir, "train"), test = example::load(dir, "t10k");
    nn::Linear<nn::dynamic, nn::dynamic, float> rot_head(128, 4, g);
    RotationPrediction rot(make_encoder<float>(g), std::move(rot_head));
    data::UnlabeledTensorDataset<float, 2> ds(train.x);
    data::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 0});
    optim::AdamW<float> opt(rot.parameters(), {.lr = 2e-3, .weight_decay = 1e-4});
    train::Trainer trainer(rot, loader, opt, optim::WarmupCosineSchedule{steps / 20, steps},
                           {.max_steps = steps, .log_every = std::max(1L, steps / 10)});
    const auto r = trainer.fit();
    std::printf("rotation prediction: loss %.3f after %ld steps (%.0f s)\n", r.last_loss, r.steps,
                r.seconds);

    // 3. Transfer: a linear probe on 1% of the labels, against the same encoder untrained.
    const auto rows = data::class_balanced_indices(train.y, 0.01, 0);
    auto probe = [&](auto& encoder) {
      auto f = [&](const Var<float, 2>& x) {
        return encoder(reshape(x, std::array<index_t, 4>{x.size(0), 1, 28, 28}));
      };
      return eval::linear_probe(data::take_rows(eval::extract_features(f, train.x), rows),
                                data::take_rows(train.y, rows), eval::extract_features(f, test.x),
                                test.y)
          .accuracy;
    };
    auto untrained = make_encoder<float>(g);
    std::printf("linear probe, 1%% labels: rotation-pretrained %.4f, untrained %.4f\n",
                probe(rot.encoder), probe(untrained));
    return 0;
  } catch (const pretext::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
