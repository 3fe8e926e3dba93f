// SPDX-License-Identifier: Apache-2.0
// The linear probe's inner loop: softmax regression's loss and gradient over (N, D) features
// with 10 classes, the one-pass kernel (cpu::softmax_xent_fused, what logistic_loss_grad runs up
// to 32 classes) against the two GEMMs it replaced (logits, then G^T x), measured in the same
// run. Shapes: the demo's conv features with all labels (60000, 3136) and with 10% (6000, 3136).
// Counters: x_two_gemms = fused time / two-GEMM time (below 1: faster), GB/s of features read.
#include <benchmark/benchmark.h>

#include <pretext/eval.hpp>
#include <pretext/pretext.hpp>

#include "bench_common.hpp"

using namespace pretext;

namespace {

void BM_softmax_xent(benchmark::State& state) {
  const index_t N = state.range(0), D = state.range(1), C = 10;
  set_num_threads(static_cast<int>(state.range(2)));
  Generator g(0);
  const auto x = uniform<float>({N, D}, g, -1.f, 1.f);
  const auto w = uniform<float>({C, D}, g, -0.01f, 0.01f);
  const auto b = Tensor<float, 1>::zeros(Shape<1>{C});
  Tensor<std::int64_t, 1> y(Shape<1>{N});
  for (index_t i = 0; i < N; ++i) y.data()[i] = i % C;
  Tensor<float, 2> gw(Shape<2>{C, D});
  Tensor<float, 1> gb(Shape<1>{C});
  cpu::SoftmaxXentWorkspace<float> ws;
  auto fused = [&] {
    benchmark::DoNotOptimize(cpu::softmax_xent_fused(x.data(), N, D, y.data(), w.data(), b.data(),
                                                     C, gw.data(), gb.data(), &ws));
  };
  auto two_gemms = [&] {
    benchmark::DoNotOptimize(eval::probe_detail::softmax_xent_two_gemms(x, y, w, b, &gw, &gb));
  };
  const double anchor = bench::median_seconds(two_gemms, 5);
  for (auto _ : state) {
    fused();
    benchmark::ClobberMemory();
  }
  const double secs = bench::median_seconds(fused, 5);
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(N * D) * sizeof(float) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  state.counters["x_two_gemms"] = secs / anchor;
}

}  // namespace

BENCHMARK(BM_softmax_xent)
    ->ArgNames({"N", "D", "threads"})
    ->Args({60000, 3136, 1})
    ->Args({60000, 3136, 2})
    ->Args({6000, 3136, 1})
    ->Args({6000, 3136, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
