// SPDX-License-Identifier: Apache-2.0
// The floors a pre-trained encoder has to beat on Fashion-MNIST, at 1%, 10% and 100% of the
// training labels (class-balanced subsets, several seeds):
//   - logistic regression on raw pixels (the linear probe on the identity "encoder"),
//   - weighted kNN on raw pixels (cosine, k = 200, T = 0.1; and k = 5, closer to the published
//     raw-pixel kNN),
//   - a linear probe and kNN on a randomly initialised, frozen copy of the CNN encoder that the
//     pre-training demo trains,
//   - that encoder with a linear head trained from scratch on the labelled subset only.
// Prints the table and writes results.json, results.svg (the table), loss_curves.svg and
// scratch_log.jsonl (the from-scratch runs) into the output directory.
//
//   fashion_mnist_floors [data dir] [seeds] [out dir]
//
// The encoder is example::Encoder (fashion_mnist_encoder.hpp); the probe and kNN read its frozen
// conv features (B, 3136; 49 K with PRETEXT_DEMO_CONV2_CHANNELS=K), as the pre-training demo does.
#include <pretext/data.hpp>
#include <pretext/eval.hpp>
#include <pretext/train.hpp>

#include "fashion_mnist.hpp"
#include "fashion_mnist_encoder.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace pretext;

using example::Encoder;

using example::seconds_since;
using example::Subset;

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string out_dir = argc > 3 ? argv[3] : ".";
  try {
    PRETEXT_CHECK(seeds >= 1, config_error, "fashion_mnist_floors: seeds is ", seeds,
                  "; pass at least 1");
    std::filesystem::create_directories(out_dir);
    const auto total0 = std::chrono::steady_clock::now();
    const auto train = example::load(dir, "train"), test = example::load(dir, "t10k");

    // 1% and 10% use `seeds` different subsets; 100% is the whole set (seed only changes the
    // probe's validation split and, for trained models, the initialisation and data order).
    const std::vector<Subset> subsets = example::label_subsets(train.y, seeds);

    eval::ResultTable table("Fashion-MNIST floors (test accuracy; 10,000 test images)" +
                            example::encoder_title_note());
    // Collects per-seed values for one method, one row per fraction.
    auto add_rows = [&](const std::string& method, const std::vector<double>& values) {
      for (const double f : {0.01, 0.1, 1.0}) {
        std::vector<double> v;
        for (std::size_t i = 0; i < subsets.size(); ++i)
          if (subsets[i].fraction == f) v.push_back(values[i]);
        table.add(method, f, v);
      }
    };
    auto report = [](const char* what, const Subset& s, double acc, double secs) {
      std::printf("  %-28s %5.1f%% labels (%5lld rows) seed %llu: %.4f  (%.1f s)\n", what,
                  100 * s.fraction, static_cast<long long>(s.rows.size(0)),
                  static_cast<unsigned long long>(s.seed), acc, secs);
      std::fflush(stdout);
    };

    // Probe and kNN of one feature set over every subset.
    auto probe_and_knn = [&](const std::string& name, const Tensor<float, 2>& ftrain,
                             const Tensor<float, 2>& ftest, std::vector<double>& probe,
                             std::vector<double>& knn, std::size_t first, std::size_t count) {
      for (std::size_t i = first; i < first + count; ++i) {
        const Subset& s = subsets[i];
        const auto x = data::take_rows(ftrain, s.rows);
        const auto y = data::take_rows(train.y, s.rows);
        auto t0 = std::chrono::steady_clock::now();
        const auto p = eval::linear_probe(x, y, ftest, test.y, eval::ProbeOptions{.seed = s.seed});
        probe.push_back(p.accuracy);
        report((name + " linear probe").c_str(), s, p.accuracy, seconds_since(t0));
        t0 = std::chrono::steady_clock::now();
        const double k = eval::knn_accuracy(x, y, ftest, test.y);
        knn.push_back(k);
        report((name + " kNN").c_str(), s, k, seconds_since(t0));
      }
    };

    // 1. Raw pixels.
    std::printf("raw pixels\n");
    auto t_part = std::chrono::steady_clock::now();
    std::vector<double> raw_probe, raw_knn;
    probe_and_knn("pixels", train.x, test.x, raw_probe, raw_knn, 0, subsets.size());
    std::printf("  (raw pixels: %.0f s)\n", seconds_since(t_part));
    add_rows("logistic regression, raw pixels", raw_probe);
    add_rows("kNN (k=200, T=0.1), raw pixels", raw_knn);
    // The published raw-pixel kNN (85.4%) uses a handful of neighbours; k = 5 for comparison.
    std::vector<double> raw_knn5;
    for (const Subset& s : subsets) {
      const auto t0 = std::chrono::steady_clock::now();
      raw_knn5.push_back(eval::knn_accuracy(data::take_rows(train.x, s.rows),
                                            data::take_rows(train.y, s.rows), test.x, test.y,
                                            eval::KnnOptions{.k = 5}));
      report("pixels kNN k=5", s, raw_knn5.back(), seconds_since(t0));
    }
    add_rows("kNN (k=5, T=0.1), raw pixels", raw_knn5);

    // 2. A random, frozen encoder: one initialisation per seed, shared by that seed's subsets.
    std::printf("random frozen encoder\n");
    t_part = std::chrono::steady_clock::now();
    std::vector<double> rnd_probe(subsets.size()), rnd_knn(subsets.size());
    for (int s = 0; s < seeds; ++s) {
      Generator g(1000 + static_cast<std::uint64_t>(s));
      const Encoder enc = example::make_encoder(g);
      const auto t0 = std::chrono::steady_clock::now();
      const auto ftrain = example::frozen_conv_features(enc, train.x);
      const auto ftest = example::frozen_conv_features(enc, test.x);
      std::printf("  features of encoder seed %d: %.1f s\n", s, seconds_since(t0));
      for (std::size_t i = 0; i < subsets.size(); ++i) {
        if (subsets[i].seed != static_cast<std::uint64_t>(s)) continue;
        std::vector<double> p, k;
        probe_and_knn("random encoder", ftrain, ftest, p, k, i, 1);
        rnd_probe[i] = p[0], rnd_knn[i] = k[0];
      }
    }
    std::printf("  (random encoder: %.0f s)\n", seconds_since(t_part));
    add_rows("linear probe, random CNN conv features", rnd_probe);
    add_rows("kNN, random CNN conv features", rnd_knn);

    // 3. The same encoder with a linear head, trained from scratch on the labelled subset.
    std::printf("CNN encoder + linear head trained from scratch on the labelled subset\n");
    t_part = std::chrono::steady_clock::now();
    const std::string log_path = out_dir + "/scratch_log.jsonl";
    std::filesystem::remove(log_path);
    std::vector<double> scratch;
    std::vector<eval::Series> curves;
    for (const Subset& s : subsets) {
      Generator g(2000 + s.seed);
      const Encoder enc = example::make_encoder(g);
      nn::Linear<128, 10> head(g);
      // Small subsets get more passes (a fixed floor of steps) so that each run converges.
      train::FinetuneRecipe r{.epochs = s.fraction < 1.0 ? 15 : 4,
                              .min_steps = 600,
                              .batch = s.fraction < 1.0 ? 64 : 128,
                              .lr = 2e-3,
                              .weight_decay = 5e-4,
                              .seed = s.seed,
                              .log_path = log_path};
      const auto x = data::take_rows(train.x, s.rows);
      const auto y = data::take_rows(train.y, s.rows);
      const auto res = train::fine_tune(
          enc, std::move(head), [](const Var<float, 2>& v) { return v; }, x, y, test.x, test.y, r);
      scratch.push_back(res.accuracy);
      report("from scratch", s, res.accuracy, res.seconds);
      char name[64];
      std::snprintf(name, sizeof name, "%g%% labels, seed %llu", 100 * s.fraction,
                    static_cast<unsigned long long>(s.seed));
      eval::Series c{name, {}, {}};
      for (const auto& [step, loss] : res.loss_curve)
        c.xs.push_back(static_cast<double>(step)), c.ys.push_back(loss);
      curves.push_back(std::move(c));
    }
    std::printf("  (from scratch: %.0f s)\n", seconds_since(t_part));
    add_rows("CNN trained from scratch", scratch);

    std::printf("\n%s", table.to_text().c_str());
    table.write_json(out_dir + "/results.json");
    eval::write_table_svg(out_dir + "/results.svg", table);
    eval::write_line_chart_svg(out_dir + "/loss_curves.svg", "CNN from scratch: training loss",
                               "step", "cross-entropy (mean over the log window)", curves,
                               eval::ChartOptions{.width = 900, .log_y = true});
    std::printf(
        "wrote %s/results.json, results.svg, loss_curves.svg, scratch_log.jsonl "
        "(%.0f s in all)\n",
        out_dir.c_str(), seconds_since(total0));
    return 0;
  } catch (const pretext::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
