// SPDX-License-Identifier: Apache-2.0
// Supervised baseline: a small CNN (two 3x3 convolutions with max pooling, then an MLP head)
// trained on Fashion-MNIST with pretext's modules, autograd and AdamW. Prints the test accuracy
// per epoch and writes results.json.
//
//   fashion_mnist_cnn [data dir] [epochs]
//
// Shapes: (B, 1, 28, 28) -conv,pool-> (B, 32, 14, 14) -conv,pool-> (B, 64, 7, 7) -> (B, 3136)
//         -> (B, 128) -> (B, 10).
#include "fashion_mnist.hpp"

#include <cstdlib>

int main(int argc, char** argv) {
  using namespace pretext;
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 6;
  try {
    const auto train = example::load(dir, "train"), test = example::load(dir, "t10k");
    Generator g(0);
    // Channel counts are in the type: Conv2d<1, 32> into Conv2d<16, ...> would not compile.
    using Model = nn::Sequential<nn::Conv2d<1, 32>, nn::ReLU, nn::MaxPool2d, nn::Conv2d<32, 64>,
                                 nn::ReLU, nn::MaxPool2d, nn::Flatten, nn::Linear<3136, 128>,
                                 nn::ReLU, nn::Linear<128, 10>>;
    const nn::ConvOptions same{.padding = 1};
    // Layers drawn last to first in named statements (g++'s argument order, which the README's
    // figure comes from), so that every compiler builds the same weights.
    nn::Linear<128, 10> out(g);
    nn::Linear<3136, 128> fc(g);
    nn::Conv2d<32, 64> conv2(3, same, g);
    nn::Conv2d<1, 32> conv1(3, same, g);
    Model model(std::move(conv1), {}, nn::MaxPool2d(2), std::move(conv2), {}, nn::MaxPool2d(2), {},
                std::move(fc), {}, std::move(out));
    const double acc = example::train_and_report(
        "fashion_mnist_cnn", model, train, test,
        {.epochs = epochs, .batch = 128, .lr = 2e-3, .weight_decay = 5e-4, .warmup = 200},
        [](const Var<float, 2>& x) {
          return reshape(x, std::array<index_t, 4>{x.size(0), 1, 28, 28});
        });
    std::printf("CNN conv32-conv64-fc128: test accuracy %.4f (published 2-conv CNN: 0.916)\n", acc);
    return 0;
  } catch (const pretext::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
