// SPDX-License-Identifier: Apache-2.0
// GEMM benchmarks: pretext's packed GEMM against OpenBLAS's cblas_?gemm, row-major
// C (M, N) = A (M, K) B (K, N), on squares and on the shapes of a ViT/BERT-base layer (written
// M x K x N), at 1 and 2 threads; plus DGEMM and the fused linear + GELU.
//
// vs_openblas: OpenBLAS's time over ours for the same call on the same operands, measured so that
// this VM's slow phases (seconds to minutes, both libraries alike) cancel out:
// - one thread: call by call. Each timed iteration of ours is followed by one OpenBLAS call, and
//   the counter is the median of the per-pair ratios.
// - two threads: OpenBLAS's idle threads keep polling for a while after each call (more than
//   300 ms here) and would steal the second core from ours, so the calls cannot alternate.
//   OpenBLAS is timed before and after our loop (a warm-up, then the median of 5 runs, then a
//   pause), and the counter is the mean of those two medians over the median of our iterations.
//
// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons (Sapphire/Emerald Rapids) and falls
// back to its SSE3 "Prescott" kernels; the context line `openblas_core` shows what it picked. To
// compare against its AVX-512 kernels run with OPENBLAS_CORETYPE=SkylakeX.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>  // std::this_thread::sleep_for
#include <vector>

#include "pretext/backend/cpu/gemm.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/ops/matmul.hpp"

#include "bench_common.hpp"

extern "C" char* openblas_get_corename(void);

namespace {

using pretext::index_t;
using pretext::bench::median;
using pretext::bench::seconds_since;
using pretext::cpu::Trans;

template <class T>
std::vector<T> random_vector(index_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<T> dist(T(-1), T(1));
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

void blas_gemm(index_t M, index_t N, index_t K, const float* A, const float* B, float* C) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.0f, A, static_cast<int>(K), B, static_cast<int>(N), 0.0f, C,
              static_cast<int>(N));
}
void blas_gemm(index_t M, index_t N, index_t K, const double* A, const double* B, double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.0, A, static_cast<int>(K), B, static_cast<int>(N), 0.0, C,
              static_cast<int>(N));
}

void set_threads(int n) {
  pretext::set_num_threads(n);
  openblas_set_num_threads(n);
}

/// Median seconds of `reps` runs of f after one warm-up run, then a pause that lets OpenBLAS's
/// polling threads go to sleep.
template <class F>
double time_anchor(F&& f, int reps = 5) {
  const double t = pretext::bench::median_seconds(f, reps);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return t;
}

void set_flops(benchmark::State& state, index_t M, index_t N, index_t K) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(M * N * K) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Args: M, K, N, threads.
template <class T>
void BM_pretext_gemm(benchmark::State& state) {
  const index_t M = state.range(0), K = state.range(1), N = state.range(2);
  set_threads(static_cast<int>(state.range(3)));
  const auto A = random_vector<T>(M * K, 1), B = random_vector<T>(K * N, 2);
  std::vector<T> C(static_cast<std::size_t>(M * N));
  auto blas = [&] { blas_gemm(M, N, K, A.data(), B.data(), C.data()); };
  const bool paired = state.range(3) == 1;
  const double before = paired ? 0.0 : time_anchor(blas);
  std::vector<double> ours, ratios;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    pretext::cpu::gemm<T>(Trans::no, Trans::no, M, N, K, T(1), A.data(), K, B.data(), N, T(0),
                          C.data(), N);
    const double t = seconds_since(t0);
    state.SetIterationTime(t);
    ours.push_back(t);
    benchmark::DoNotOptimize(C.data());
    if (paired) {
      const auto t1 = std::chrono::steady_clock::now();
      blas();
      ratios.push_back(seconds_since(t1) / t);
    }
  }
  set_flops(state, M, N, K);
  state.counters["vs_openblas"] =
      paired ? median(ratios) : 0.5 * (before + time_anchor(blas)) / median(ours);
}

template <class T>
void BM_openblas_gemm(benchmark::State& state) {
  const index_t M = state.range(0), K = state.range(1), N = state.range(2);
  set_threads(static_cast<int>(state.range(3)));
  const auto A = random_vector<T>(M * K, 1), B = random_vector<T>(K * N, 2);
  std::vector<T> C(static_cast<std::size_t>(M * N));
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    blas_gemm(M, N, K, A.data(), B.data(), C.data());
    state.SetIterationTime(seconds_since(t0));
    benchmark::DoNotOptimize(C.data());
  }
  set_flops(state, M, N, K);
}

// y (M, N) = gelu(x (M, K) W^T + b) with W (N, K) as nn.Linear stores it: pretext's fused
// epilogue against OpenBLAS sgemm (x W^T, then a bias + GELU pass over y with the same functor).
// Args: M, K, N, threads.
void BM_pretext_linear_gelu(benchmark::State& state) {
  const index_t M = state.range(0), K = state.range(1), N = state.range(2);
  set_threads(static_cast<int>(state.range(3)));
  const auto xv = random_vector<float>(M * K, 1), wv = random_vector<float>(N * K, 2),
             bv = random_vector<float>(N, 3);
  const auto x = pretext::Tensor<float, 2>::from({M, K}, xv);
  const auto w = pretext::Tensor<float, 2>::from({N, K}, wv);
  const auto b = pretext::Tensor<float, 1>::from({N}, bv);
  std::vector<float> y_blas(static_cast<std::size_t>(M * N));
  const pretext::cpu::Gelu gelu;
  const double theirs = time_anchor([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), 1.0f, xv.data(), static_cast<int>(K), wv.data(),
                static_cast<int>(K), 0.0f, y_blas.data(), static_cast<int>(N));
    pretext::parallel_for(0, M, 16, [&](index_t lo, index_t hi) {
      for (index_t i = lo; i < hi; ++i)
        for (index_t j = 0; j < N; ++j) {
          float& v = y_blas[static_cast<std::size_t>(i * N + j)];
          v = gelu(v + bv[static_cast<std::size_t>(j)]);
        }
    });
  });
  std::vector<double> ours;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto y = pretext::linear(x, w, &b, pretext::cpu::Activation::gelu);
    const double t = seconds_since(t0);
    state.SetIterationTime(t);
    ours.push_back(t);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, M, N, K);
  state.counters["vs_openblas"] = theirs / median(ours);
}

void gemm_shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (index_t n : {64, 128, 256, 512, 1024, 2048}) b->Args({n, n, n, threads});
    b->Args({256, 784, 512, threads});
    b->Args({4096, 768, 768, threads});
    b->Args({512, 3072, 768, threads});
  }
}

void one_shape(benchmark::internal::Benchmark* b, index_t M, index_t K, index_t N) {
  for (int threads : {1, 2}) b->Args({M, K, N, threads});
}

}  // namespace

#define PRETEXT_GEMM_BENCH(fn) \
  BENCHMARK(fn)->ArgNames({"M", "K", "N", "threads"})->UseManualTime()->MinTime(0.2)

PRETEXT_GEMM_BENCH(BM_pretext_gemm<float>)->Apply(gemm_shapes);
PRETEXT_GEMM_BENCH(BM_openblas_gemm<float>)->Apply(gemm_shapes);
PRETEXT_GEMM_BENCH(BM_pretext_gemm<double>)->Apply([](auto* b) { one_shape(b, 512, 512, 512); });
PRETEXT_GEMM_BENCH(BM_openblas_gemm<double>)->Apply([](auto* b) { one_shape(b, 512, 512, 512); });
PRETEXT_GEMM_BENCH(BM_pretext_linear_gelu)->Apply([](auto* b) { one_shape(b, 4096, 768, 768); });

int main(int argc, char** argv) {
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("simd_width_float", std::to_string(pretext::simd::width<float>));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
