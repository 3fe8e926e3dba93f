// SPDX-License-Identifier: Apache-2.0
// What the Fashion-MNIST examples share: loading the IDX files that
// `apt-get install dataset-fashion-mnist` puts under /usr/share/datasets/fashion-mnist, batching
// in a seeded random order, accuracy in evaluation mode, and the supervised training loop
// (cross-entropy, AdamW with decay on weights only, warm-up + cosine schedule).
//
// Shapes: N images, P = 784 pixels, B batch, C = 10 classes.
#pragma once

#include <pretext/data.hpp>
#include <pretext/io.hpp>
#include <pretext/pretext.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace example {

using namespace pretext;

struct Split {
  Tensor<float, 2> x;         // (N, P), pixels scaled to [0, 1]
  Tensor<std::int64_t, 1> y;  // (N), class ids
};

inline Split load(const std::string& dir, const std::string& prefix) {
  const auto img = io::read_idx<3>(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto lab = io::read_idx<1>(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  PRETEXT_CHECK(img.size(0) == lab.size(0), io_error, "fashion-mnist: ", img.size(0),
                " images but ", lab.size(0), " labels under ", dir);
  const index_t n = img.size(0), p = img.size(1) * img.size(2);
  Split s{Tensor<float, 2>(Shape<2>{n, p}), Tensor<std::int64_t, 1>(Shape<1>{n})};
  for (index_t i = 0; i < n * p; ++i) s.x.data()[i] = img.data()[i] / 255.0f;
  for (index_t i = 0; i < n; ++i) s.y.data()[i] = lab.data()[i];
  return s;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// One labelled subset: its fraction, seed and row numbers in the training set.
struct Subset {
  double fraction;
  std::uint64_t seed;
  Tensor<std::int64_t, 1> rows;
};

/// `seeds` class-balanced subsets at 1% and at 10% of the labels y (different draws per seed,
/// 1% inside 10% for one seed), then all labels once (seed 0).
inline std::vector<Subset> label_subsets(const Tensor<std::int64_t, 1>& y, int seeds) {
  std::vector<Subset> subsets;
  for (const double f : {0.01, 0.1, 1.0})
    for (int s = 0; s < (f < 1.0 ? seeds : 1); ++s)
      subsets.push_back({f, static_cast<std::uint64_t>(s),
                         data::class_balanced_indices(y, f, static_cast<std::uint64_t>(s))});
  return subsets;
}

/// Rows `order[first, first + B)` of s, as a batch (B, P) and labels (B).
inline void gather(const Split& s, const Tensor<std::int64_t, 1>& order, index_t first,
                   Tensor<float, 2>& xb, Tensor<std::int64_t, 1>& yb) {
  for (index_t r = 0; r < xb.size(0); ++r) {
    const index_t i = order.data()[first + r];
    xb.select(0, r).copy_(s.x.select(0, i));
    yb.data()[r] = s.y.data()[i];
  }
}

/// Test accuracy of model(x) -> logits (B, C), evaluated in batches without a graph.
template <class Model, class ToInput>
double accuracy(Model& model, const Split& s, ToInput&& to_input) {
  NoGrad no_grad;
  model.eval();
  const index_t n = s.x.size(0), bs = 1000;
  index_t right = 0;
  for (index_t i = 0; i < n; i += bs) {
    const index_t b = std::min(bs, n - i);
    const auto logits = model(to_input(Var<float, 2>(s.x.narrow(0, i, b).contiguous()))).data();
    const auto pred = argmax(logits, 1);
    for (index_t r = 0; r < b; ++r) right += pred.data()[r] == s.y.data()[i + r];
  }
  model.train();
  return static_cast<double>(right) / static_cast<double>(n);
}

struct Recipe {
  int epochs;
  index_t batch;
  double lr, weight_decay;
  long warmup;
};

/// Trains model on `train` with the recipe, printing loss and test accuracy per epoch; returns
/// the final test accuracy and writes results.json.
template <class Model, class ToInput>
double train_and_report(const char* name, Model& model, const Split& train, const Split& test,
                        const Recipe& r, ToInput&& to_input) {
  const auto t0 = std::chrono::steady_clock::now();
  const index_t n = train.x.size(0), steps_per_epoch = n / r.batch;
  optim::AdamW<float> opt(optim::decay_groups(
      model.parameters(), optim::AdamWOptions{.lr = r.lr, .weight_decay = r.weight_decay}));
  const optim::WarmupCosineSchedule schedule{r.warmup, r.epochs * steps_per_epoch};
  Generator g(0);
  Tensor<float, 2> xb(Shape<2>{r.batch, train.x.size(1)});
  Tensor<std::int64_t, 1> yb(Shape<1>{r.batch});
  std::printf("%s: %lld parameters, %lld train / %lld test images, %d threads\n", name,
              static_cast<long long>(model.num_parameters()), static_cast<long long>(n),
              static_cast<long long>(test.x.size(0)), num_threads());
  long step = 0;
  double acc = 0;
  for (int epoch = 0; epoch < r.epochs; ++epoch) {
    const auto order = randperm(n, g);
    double loss_sum = 0;
    for (index_t it = 0; it < steps_per_epoch; ++it, ++step) {
      gather(train, order, it * r.batch, xb, yb);
      opt.zero_grad();
      auto loss = cross_entropy(model(to_input(Var<float, 2>(xb))), yb);
      loss.backward();
      opt.set_lr_scale(schedule(step));
      opt.step();
      loss_sum += loss.item();
    }
    acc = accuracy(model, test, to_input);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("epoch %d  train loss %.4f  test accuracy %.4f  (%.0f s)\n", epoch + 1,
                loss_sum / static_cast<double>(steps_per_epoch), acc, secs);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ofstream("results.json") << "{\"example\": \"" << name << "\", \"epochs\": " << r.epochs
                                << ", \"test_accuracy\": " << acc << ", \"seconds\": " << secs
                                << ", \"threads\": " << num_threads() << "}\n";
  return acc;
}

}  // namespace example
