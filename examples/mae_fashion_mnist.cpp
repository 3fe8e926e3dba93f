// SPDX-License-Identifier: Apache-2.0
// A masked autoencoder (MAE) on Fashion-MNIST without labels: 7x7 patches (16 tokens), 75% of
// them masked, a ViT encoder that sees only the 4 visible patches and a light decoder. Prints
// the masked-patch loss against the mean-patch baseline and writes mae_reconstructions.png:
// for 8 test images, rows of original / masked input / reconstruction. Then probes the frozen
// encoder as the pre-training demo does with --probe-power 1 (plain linear probe and kNN at 1%,
// 10%, 100% labels, seeds 0, 1, 2 at 1% and 10%) and writes results.json.
//
//   mae_fashion_mnist [data dir] [steps] [out dir]
//
// Shapes: (B, 784) -patches-> (B, 16, 49) -linear + positions-> (B, 16, 128) -keep 4-> (B, 4, 128)
//         -4 blocks-> (B, 4, 128) -mask tokens back-> (B, 16, 128) -decoder (64 wide, 1 block)->
//         (B, 16, 64) -masked 12-> (B, 12, 49) pixels.
#include <pretext/data.hpp>
#include <pretext/eval.hpp>
#include <pretext/io.hpp>
#include <pretext/io/png.hpp>
#include <pretext/objectives.hpp>
#include <pretext/train.hpp>

#include "fashion_mnist.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const long steps = argc > 2 ? std::atol(argv[2]) : 2000;
  const std::string out_dir = argc > 3 ? argv[3] : ".";
  try {
    std::filesystem::create_directories(out_dir);
    const auto train_x = io::read_idx_images(dir + "/train-images-idx3-ubyte.gz");
    const auto test_x = io::read_idx_images(dir + "/t10k-images-idx3-ubyte.gz");

    using Lin = nn::Linear<nn::dynamic, nn::dynamic, float>;
    using Pos = nn::LearnedPositions<float>;
    using Enc = nn::TransformerEncoder<nn::dynamic, float>;
    const mod::ImagePatches<float> patches{1, 28, 28, 7};
    const index_t N = 16, P = 49, D = 128, Dd = 64;
    Generator g(0);
    // Parts drawn last to first in named statements (the order g++ evaluates call arguments in,
    // which the README's numbers come from), so that every compiler builds the same weights.
    Lin head(Dd, P, g);
    Enc dec_blocks(Dd, 1, {.heads = 4, .mlp_ratio = 4.0}, g);
    Pos dec_pos(N, Dd, g);
    Lin dec_in(D, Dd, g);
    Enc enc_blocks(D, 4, {.heads = 4, .mlp_ratio = 4.0}, g);
    Pos enc_pos(N, D, g);
    Lin embed(P, D, g);
    obj::MaskedAutoencoder mae(
        patches, nn::Sequential<Lin, Pos>(std::move(embed), std::move(enc_pos)),
        std::move(enc_blocks),
        nn::Sequential<Lin, Pos, Enc>(std::move(dec_in), std::move(dec_pos), std::move(dec_blocks)),
        std::move(head), D, obj::RandomMasking{0.75}, g);
    std::printf("MAE: %lld parameters, %ld steps of batch 128\n",
                static_cast<long long>(mae.num_parameters()), steps);
    std::fflush(stdout);  // before the progress bar (stderr)

    data::UnlabeledTensorDataset<float, 2> ds(train_x);
    data::DataLoader loader(ds, {.batch_size = 128, .shuffle = true, .seed = 0});
    optim::AdamW<float> opt(optim::decay_groups(
        mae.parameters(), optim::AdamWOptions{.lr = 1.5e-3, .beta2 = 0.95, .weight_decay = 0.05}));
    train::Trainer trainer(mae, loader, opt, optim::WarmupCosineSchedule{steps / 20, steps},
                           {.max_steps = steps,
                            .log_every = std::max(1L, steps / 20),
                            .log_path = out_dir + "/mae_log.jsonl",
                            .seed = 1,
                            .name = "mae"});
    const auto result = trainer.fit();

    // Held-out masked-patch MSE against predicting each position's mean training patch.
    Generator mg(123);
    const auto mask = mae.masking(test_x.size(0), N, mg);
    double mae_mse = 0;
    {
      NoGrad no_grad;
      for (index_t i = 0; i < test_x.size(0); i += 1000) {
        const auto rows = mask.mask.narrow(0, i, 1000).contiguous();
        mae_mse +=
            mae.forward(test_x.narrow(0, i, 1000).contiguous(), mod::mask_from(rows)).loss.item() /
            10.0;
      }
    }
    const double base =
        obj::mean_token_mse(patches.tokens(train_x), patches.tokens(test_x), mask.masked);
    std::printf(
        "held-out masked-patch MSE: MAE %.4f, mean patch %.4f (%.2fx lower) after %ld "
        "steps in %.0f s\n",
        mae_mse, base, base / mae_mse, result.steps, result.seconds);

    // The picture: original, masked input (masked patches grey), reconstruction.
    const index_t show = 8;
    const auto first = test_x.narrow(0, 0, show).contiguous();
    const auto first_mask = mod::mask_from(mask.mask.narrow(0, 0, show).contiguous());
    const auto rec = patches.from_tokens(mae.reconstruct(first, first_mask));
    auto masked_tokens = patches.tokens(first);
    for (index_t b = 0; b < show; ++b)
      for (index_t m = 0; m < first_mask.masked.size(1); ++m)
        masked_tokens.select(0, b).select(0, first_mask.masked(b, m)).fill_(0.5f);
    const auto masked = patches.from_tokens(masked_tokens);
    std::vector<Tensor<std::uint8_t, 2>> cells;
    for (const auto* rows : {&first, &masked, &rec})
      for (index_t b = 0; b < show; ++b)
        cells.push_back(io::to_bytes(rows->select(0, b).reshape(Shape<2>{28, 28})));
    const std::string png = out_dir + "/mae_reconstructions.png";
    io::write_png(png, io::image_grid(cells, show, /*scale=*/3));
    std::printf("wrote %s (rows: original, masked input, reconstruction) and %s/mae_log.jsonl\n",
                png.c_str(), out_dir.c_str());

    // The demo's protocol with the plain probe: linear probe and kNN on frozen features (the mean
    // of the encoder's 16 token outputs on unmasked images, (B, 128)) with 1%, 10% and 100% labels.
    const auto train = example::load(dir, "train"), test = example::load(dir, "t10k");
    auto features = [&](const Tensor<float, 2>& x) {
      return eval::extract_features(
          [&](const Var<float, 2>& v) {
            return mean(mae.encoder(mae.stem(Var<float, 3>(patches.tokens(v.data())))), 1);
          },
          x, 500);
    };
    const auto ftrain = features(train.x), ftest = features(test.x);
    std::map<double, std::vector<double>> probe, knn;  // by label fraction, one per seed
    for (const auto& s : example::label_subsets(train.y, 3)) {
      const auto x = data::take_rows(ftrain, s.rows);
      const auto y = data::take_rows(train.y, s.rows);
      probe[s.fraction].push_back(
          eval::linear_probe(x, y, ftest, test.y,
                             {.weight_decays = {1e-4, 1e-3, 1e-2}, .seed = s.seed})
              .accuracy);
      knn[s.fraction].push_back(eval::knn_accuracy(x, y, ftest, test.y));
    }
    eval::ResultTable table("MAE encoder on Fashion-MNIST (test accuracy)");
    for (const auto& [f, v] : probe) table.add("linear probe, MAE mean token", f, v);
    for (const auto& [f, v] : knn) table.add("kNN (k=200), MAE mean token", f, v);
    std::printf("\n%s", table.to_text().c_str());
    table.write_json(out_dir + "/results.json");
    return 0;
  } catch (const pretext::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
