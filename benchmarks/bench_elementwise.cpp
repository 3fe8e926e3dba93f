// SPDX-License-Identifier: Apache-2.0
// Memory-bound kernels against memcpy: SiLU and GELU over 16M floats, softmax (4096, 1024) and
// layer_norm (4096, 768), at 1 and 2 threads. Counters: GB/s (bytes read + written per second)
// and x_memcpy = kernel time / time of a memcpy moving the same bytes with the same threads,
// measured in the same run (target for SiLU / GELU: <= 1.5).
#include <benchmark/benchmark.h>

#include <cstring>

#include <pretext/pretext.hpp>

#include "bench_common.hpp"

using namespace pretext;

namespace {

// memcpy of n floats split over the pool's threads: the bandwidth anchor.
double memcpy_seconds(const float* src, float* dst, index_t n) {
  return bench::median_seconds([&] {
    parallel_for(0, n, 1 << 16, [&](index_t lo, index_t hi) {
      std::memcpy(dst + lo, src + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
    });
  });
}

template <class F>
void run(benchmark::State& state, const Tensor<float, 2>& x, Tensor<float, 2>& y, F&& kernel) {
  set_num_threads(static_cast<int>(state.range(0)));
  const index_t n = x.numel();
  const double anchor = memcpy_seconds(x.data(), y.data(), n);
  kernel();
  for (auto _ : state) {
    kernel();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double secs = bench::median_seconds(kernel, 5);
  const double bytes = 2.0 * static_cast<double>(n) * sizeof(float);
  state.counters["GB/s"] = benchmark::Counter(bytes * static_cast<double>(state.iterations()),
                                              benchmark::Counter::kIsRate);
  state.counters["x_memcpy"] = secs / anchor;
}

Tensor<float, 2> input(index_t m, index_t d) {
  Generator g(0);
  return normal<float>({m, d}, g);
}

void BM_silu(benchmark::State& state) {
  const auto x = input(4096, 4096);
  auto y = Tensor<float, 2>(x.shape());
  run(state, x, y, [&] {
    cpu::map<float, 1>(y.data(), y.strides(), {x.data()}, {x.strides()}, x.shape(), cpu::Silu{});
  });
}
void BM_gelu(benchmark::State& state) {
  const auto x = input(4096, 4096);
  auto y = Tensor<float, 2>(x.shape());
  run(state, x, y, [&] {
    cpu::map<float, 1>(y.data(), y.strides(), {x.data()}, {x.strides()}, x.shape(), cpu::Gelu{});
  });
}
void BM_gelu_tanh(benchmark::State& state) {
  const auto x = input(4096, 4096);
  auto y = Tensor<float, 2>(x.shape());
  run(state, x, y, [&] {
    cpu::map<float, 1>(y.data(), y.strides(), {x.data()}, {x.strides()}, x.shape(),
                       cpu::GeluTanh{});
  });
}
void BM_softmax(benchmark::State& state) {
  const auto x = input(4096, 1024);
  auto y = Tensor<float, 2>(x.shape());
  run(state, x, y, [&] { cpu::softmax_rows(x.data(), y.data(), 4096, 1024); });
}
void BM_layer_norm(benchmark::State& state) {
  const auto x = input(4096, 768);
  auto y = Tensor<float, 2>(x.shape());
  const auto g = ones<float>({768}), b = zeros<float>({768});
  auto mean = Tensor<float, 1>(Shape<1>{4096}), rstd = Tensor<float, 1>(Shape<1>{4096});
  run(state, x, y, [&] {
    cpu::layer_norm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(),
                            index_t{4096}, index_t{768}, 1e-5f);
  });
}

// Argument: thread count.
BENCHMARK(BM_silu)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_gelu)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_gelu_tanh)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_softmax)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_layer_norm)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
