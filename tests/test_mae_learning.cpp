// SPDX-License-Identifier: Apache-2.0
// A learning test on real data: a small MAE on Fashion-MNIST (7x7 patches, 75% masked) trained
// for a few hundred steps predicts held-out masked patches much better than the mean patch of
// each position does. Needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it);
// PRETEXT_FASHION_MNIST overrides the directory.
#include <pretext/io.hpp>
#include <pretext/objectives.hpp>
#include <pretext/train.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

TEST_CASE("MAE on Fashion-MNIST predicts masked patches far better than the mean patch") {
  const char* env = std::getenv("PRETEXT_FASHION_MNIST");
  const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
  const std::string train_file = dir + "/train-images-idx3-ubyte.gz";
  const std::string test_file = dir + "/t10k-images-idx3-ubyte.gz";
  REQUIRE_MESSAGE(
      std::filesystem::exists(train_file),
      "Fashion-MNIST is missing under " << dir << "; run scripts/setup.sh test as root");
  const auto train_x = io::read_idx_images(train_file).narrow(0, 0, 12800).contiguous();
  const auto test_x = io::read_idx_images(test_file).narrow(0, 0, 1000).contiguous();

  using Lin = nn::Linear<nn::dynamic, nn::dynamic, float>;
  using Pos = nn::LearnedPositions<float>;
  using Enc = nn::TransformerEncoder<nn::dynamic, float>;
  const mod::ImagePatches<float> patches{1, 28, 28, 7};  // 16 tokens of 49 pixels
  const index_t N = 16, P = 49, D = 64, Dd = 32;
  Generator g(0);
  obj::MaskedAutoencoder mae(
      patches, nn::Sequential<Lin, Pos>(Lin(P, D, g), Pos(N, D, g)),
      Enc(D, 2, {.heads = 4, .mlp_ratio = 2.0}, g),
      nn::Sequential<Lin, Pos, Enc>(Lin(D, Dd, g), Pos(N, Dd, g),
                                    Enc(Dd, 1, {.heads = 2, .mlp_ratio = 2.0}, g)),
      Lin(Dd, P, g), D, obj::RandomMasking{0.75}, g);

  data::UnlabeledTensorDataset<float, 2> ds(train_x);
  data::DataLoader loader(ds, {.batch_size = 128, .shuffle = true, .seed = 0});
  optim::AdamW<float> opt(
      optim::decay_groups(mae.parameters(), optim::AdamWOptions{.lr = 2e-3, .weight_decay = 0.05}));
  const long steps = 1000;
  train::Trainer trainer(mae, loader, opt, optim::WarmupCosineSchedule{40, steps},
                         {.max_steps = steps, .log_every = 50, .progress = false, .seed = 1});
  const auto r = trainer.fit();

  // Held-out masked-patch MSE of the MAE, and of predicting each masked patch by the mean of
  // that patch position over the training images (the best constant per position), on the
  // same masks.
  Generator mg(123);
  const auto mask = mae.masking(test_x.size(0), N, mg);
  double mae_loss = 0;
  {
    NoGrad no_grad;
    mae_loss = static_cast<double>(mae.forward(test_x, mask).loss.item());
  }
  const double base =
      obj::mean_token_mse(patches.tokens(train_x), patches.tokens(test_x), mask.masked);
  std::printf("MAE masked-patch MSE %.4f vs mean patch %.4f (ratio %.2f) after %ld steps, %.1f s\n",
              mae_loss, base, mae_loss / base, r.steps, r.seconds);
  CHECK(r.loss_curve.back().second < r.loss_curve.front().second);
  CHECK(mae_loss < 0.6 * base);
}
