// SPDX-License-Identifier: Apache-2.0
// Autograd bookkeeping overhead: forward + backward of a chain of tiny ops (16 floats), where
// the arithmetic is negligible and what is measured is recording, node allocation and the
// backward engine. The anchor is the same chain on plain tensors, forward only, in the same run:
// counter overhead_ns_per_op = (autograd time - plain time) / ops.
//
// The chain, per step: y = tanh(y * w) (2 ops), `steps` steps, then sum (1 op) and backward.
// benchmarks/autograd_overhead.py runs the same chain in PyTorch for the comparison.
#include <benchmark/benchmark.h>

#include <pretext/pretext.hpp>

#include "bench_common.hpp"

using namespace pretext;

namespace {

constexpr index_t kWidth = 16;

void BM_autograd_chain(benchmark::State& state) {
  set_num_threads(1);
  const int steps = static_cast<int>(state.range(0));
  Generator g(0);
  Var<float, 1> x(normal<float>({kWidth}, g), true);
  // w in [1, 1.5] keeps y on a non-zero fixed point; with w < 1 values and gradients decay into
  // subnormal floats and the run would time the CPU's subnormal penalty instead of bookkeeping.
  const Var<float, 1> w(uniform<float>({kWidth}, g, 1.0f, 1.5f), true);
  auto run = [&] {
    auto y = x;
    for (int i = 0; i < steps; ++i) y = tanh(y * w);
    sum(y).backward();
    x.zero_grad();
    w.zero_grad();
  };
  const auto plain = [&] {
    auto y = x.data();
    for (int i = 0; i < steps; ++i) y = pretext::tanh(pretext::mul(y, w.data()));
    benchmark::DoNotOptimize(pretext::sum(y).item());
  };
  const double anchor = bench::median_seconds(plain, 15);
  for (auto _ : state) run();
  const double ops = 2.0 * steps + 1;
  state.counters["ops"] = ops;
  state.counters["seconds_per_op"] =
      benchmark::Counter(ops * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["plain_forward_ns_per_op"] = anchor * 1e9 / ops;
}
BENCHMARK(BM_autograd_chain)->Arg(50)->Arg(500)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
