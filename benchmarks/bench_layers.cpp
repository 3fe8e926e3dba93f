// SPDX-License-Identifier: Apache-2.0
// Layers, forward + backward, float, all threads: Linear with GELU, MultiHeadAttention and
// BatchNorm on feature maps (training mode).
// benchmarks/layers_vs_torch.py runs the same shapes in PyTorch in the same invocation and prints
// the ratios; the run names carry the shapes it reads.
//
//   BM_linear_gelu/M/K/N    x (M, K) -> gelu(x W^T + b) (M, N), then backward of its sum
//   BM_mha/B/N/E/H          self-attention on x (B, N, E) with H heads, then backward of its sum
//   BM_batch_norm/B/C/H/W   BatchNorm on x (B, C, H, W) with the batch's statistics, then
//                           backward of the sum of its output times a fixed random tensor
#include <benchmark/benchmark.h>

#include <pretext/pretext.hpp>

using namespace pretext;

namespace {

void BM_linear_gelu(benchmark::State& state) {
  const index_t M = state.range(0), K = state.range(1), N = state.range(2);
  Generator g(0);
  nn::Linear<nn::dynamic, nn::dynamic> lin(K, N, g);
  const Var<float, 2> x(normal<float>({M, K}, g), true);
  for (auto _ : state) {
    auto y = lin(x, cpu::Activation::gelu);
    sum(y).backward();
    lin.zero_grad();
    x.zero_grad();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * M * K * N * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}
BENCHMARK(BM_linear_gelu)
    ->Args({256, 784, 512})
    ->Args({1024, 768, 3072})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_mha(benchmark::State& state) {
  const index_t B = state.range(0), N = state.range(1), E = state.range(2), H = state.range(3);
  Generator g(0);
  nn::MultiHeadAttention<nn::dynamic> mha(E, H, g);
  const Var<float, 3> x(normal<float>({B, N, E}, g), true);
  for (auto _ : state) {
    auto y = mha(x);
    sum(y).backward();
    mha.zero_grad();
    x.zero_grad();
  }
}
BENCHMARK(BM_mha)
    ->Args({128, 17, 128, 4})
    ->Args({32, 128, 256, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_batch_norm(benchmark::State& state) {
  const index_t B = state.range(0), C = state.range(1), H = state.range(2), W = state.range(3);
  Generator g(0);
  nn::BatchNorm<nn::dynamic> bn(C);
  const Var<float, 4> x(normal<float>({B, C, H, W}, g), true);
  // A random weighting: the gradient of a plain sum through batch statistics is zero.
  const auto w = normal<float>({B, C, H, W}, g);
  for (auto _ : state) {
    auto y = bn(x);
    sum(y * w).backward();
    bn.zero_grad();
    x.zero_grad();
  }
}
BENCHMARK(BM_batch_norm)
    ->Args({512, 32, 28, 28})
    ->Args({512, 64, 14, 14})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
