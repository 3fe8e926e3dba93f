// SPDX-License-Identifier: Apache-2.0
// Whole training steps (forward, backward, optimizer update) of three reference pre-training
// set-ups, float32, all threads. benchmarks/steps_vs_torch.py runs the same steps in PyTorch in
// the same invocation and prints the table (ms/step, samples/s, ratio, GFLOP/s, share of peak,
// peak memory). Data is generated once in memory; loading and augmentation are not timed.
//
//   BM_step_simclr  MLP 784-512-512-128 (ReLU), projector 128-128-64, batch 256 x 2 views in one
//                   forward, NT-Xent (T = 0.5), Adam
//   BM_step_mae     ViT on 28x28, patch 7 (16 patches) + class token, width 128, depth 4, 4 heads,
//                   pre-norm, MLP x4 GELU; 75% masked (the encoder sees 4 patches + the class
//                   token); decoder width 64, depth 1 on all 16 tokens + class token; MSE on the
//                   masked patches; batch 128; AdamW
//   BM_step_mlm     vocabulary 8192, sequence 128, learned positions, width 256, depth 4, 4 heads,
//                   post-norm, MLP x4 GELU; batch 32, 15% masked (80/10/10); head
//                   Linear-GELU-LayerNorm then the vocabulary projection at masked positions
//                   only; AdamW
//   BM_fp32_peak    independent FMA chains on every thread: the machine's FP32 peak as measured
//
// Each step benchmark runs 5 warm-up steps, then times every step on its own and reports the
// median, min and max (ms), samples/s at the median, "model" GFLOP/s (matmul FLOPs of forward and
// backward, counted by hand below: 2mnk per product; backward twice the forward except the input
// gradient of the first layer, which no one needs) and the peak resident memory of the process.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <pretext/objectives.hpp>
#include <pretext/pretext.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "bench_common.hpp"

using namespace pretext;
namespace obj = pretext::objectives;
namespace mod = pretext::modality;

namespace {

constexpr int warmup_steps = 5;

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

/// Times `step` once per benchmark iteration after the warm-up and reports the counters.
template <class Step>
void time_steps(benchmark::State& state, Step&& step, double flops, double samples) {
  for (int i = 0; i < warmup_steps; ++i) step();
  std::vector<double> ms;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(1e3 * bench::seconds_since(t0));
  }
  const double median = bench::median(ms);
  state.counters["median_ms"] = median;
  state.counters["min_ms"] = *std::min_element(ms.begin(), ms.end());
  state.counters["max_ms"] = *std::max_element(ms.begin(), ms.end());
  state.counters["samples_per_s"] = samples / (median / 1e3);
  state.counters["GFLOP_per_step"] = flops / 1e9;
  state.counters["GFLOP_per_s"] = flops / 1e9 / (median / 1e3);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

/// 2mnk: one (m, k) x (k, n) product.
constexpr double mm(double m, double k, double n) {
  return 2 * m * k * n;
}

/// Forward matmul FLOPs of one transformer block on B sequences of N tokens of width E, MLP
/// width 4E: the qkv, output and MLP projections and the two attention products.
constexpr double block_flops(double B, double N, double E) {
  return mm(B * N, E, 3 * E) + mm(B * N, E, E) + 2 * mm(B * N, E, 4 * E) + 2 * mm(B * N, N, E);
}

// ---- SimCLR ---------------------------------------------------------------------------------

void BM_step_simclr(benchmark::State& state) {
  constexpr index_t B = 256;
  Generator g(0);
  using Encoder = nn::Sequential<nn::Linear<784, 512>, nn::ReLU, nn::Linear<512, 512>, nn::ReLU,
                                 nn::Linear<512, 128>>;
  using Projector = nn::Sequential<nn::Linear<128, 128>, nn::ReLU, nn::Linear<128, 64>>;
  // Braces: the layers draw their weights from g in the order written, whatever the compiler.
  obj::SimCLR model{
      Encoder{nn::Linear<784, 512>(g), {}, nn::Linear<512, 512>(g), {}, nn::Linear<512, 128>(g)},
      Projector{nn::Linear<128, 128>(g), {}, nn::Linear<128, 64>(g)}, 0.5};
  const auto views = std::pair{uniform<float>({B, 784}, g), uniform<float>({B, 784}, g)};
  optim::AdamW<float> opt(model.parameters(), {.lr = 1e-3, .weight_decay = 0});
  train::StepContext ctx{.rng = &g};
  auto step = [&] {
    opt.zero_grad();
    model.loss(views, ctx).backward();
    opt.step();
  };
  const double R = 2 * B;  // both views in one forward
  const double fwd = mm(R, 784, 512) + mm(R, 512, 512) + mm(R, 512, 128) + mm(R, 128, 128) +
                     mm(R, 128, 64) + mm(R, 64, R);
  time_steps(state, step, 3 * fwd - mm(R, 784, 512), static_cast<double>(B));
}
BENCHMARK(BM_step_simclr)->Iterations(30)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- MAE ------------------------------------------------------------------------------------

/// The ViT MAE of the reference step, written with the building blocks (the library's
/// MaskedAutoencoder has no class token; the reference has one, as the MAE paper's does).
class MaeViT : public nn::Module<MaeViT> {
 public:
  using value_type = float;
  using Lin = nn::Linear<nn::dynamic, nn::dynamic>;
  using Enc = nn::TransformerEncoder<nn::dynamic>;
  static constexpr index_t N = 16, P = 49, D = 128, Dd = 64;

  explicit MaeViT(Generator& g)
      : embed(P, D, g),
        pos(N, D, g),
        cls(normal<float>({D}, g, 0.0f, 0.02f), true),
        encoder(D, 4, {.heads = 4, .mlp_ratio = 4.0}, g),
        decoder_embed(D, Dd, g),
        mask_token(normal<float>({Dd}, g, 0.0f, 0.02f), true),
        decoder_pos(N + 1, Dd, g),
        decoder(Dd, 1, {.heads = 4, .mlp_ratio = 4.0}, g),
        head(Dd, P, g) {}

  template <class V>
  void visit(V& v) {
    v.module("embed", embed);
    v.module("pos", pos);
    v.param("cls", cls);
    v.module("encoder", encoder);
    v.module("decoder_embed", decoder_embed);
    v.param("mask_token", mask_token);
    v.module("decoder_pos", decoder_pos);
    v.module("decoder", decoder);
    v.module("head", head);
  }

  /// patches (B, 16, 49) -> mean squared error on the masked patches.
  Var<float, 0> loss(const Tensor<float, 3>& patches, const modality::TokenMask& m) const {
    const index_t B = patches.size(0);
    const Var<float, 3> x(patches);
    auto h = gather_tokens(pos(embed(x)), m.visible);  // (B, 4, D)
    const auto c =
        expand(reshape(cls, std::array<index_t, 3>{1, 1, D}), std::array<index_t, 3>{B, 1, D});
    h = encoder(concat(c, h, 1));  // (B, 5, D)
    auto d = decoder_embed(h);     // (B, 5, Dd)
    auto tokens = scatter_tokens(narrow(d, 1, 1, d.size(1) - 1), m.visible, mask_token, N);
    d = decoder(decoder_pos(concat(narrow(d, 1, 0, 1), tokens, 1)));      // (B, 17, Dd)
    const auto pred = head(gather_tokens(narrow(d, 1, 1, N), m.masked));  // (B, 12, 49)
    return mse_loss(pred, gather_tokens(x, m.masked).data());
  }

  Lin embed;
  nn::LearnedPositions<float> pos;
  Var<float, 1> cls;
  Enc encoder;
  Lin decoder_embed;
  Var<float, 1> mask_token;
  nn::LearnedPositions<float> decoder_pos;
  Enc decoder;
  Lin head;
};

void BM_step_mae(benchmark::State& state) {
  constexpr index_t B = 128;
  Generator g(0);
  MaeViT model(g);
  const mod::ImagePatches<float> patches{1, 28, 28, 7};
  const auto x = patches.tokens(uniform<float>({B, 784}, g));
  optim::AdamW<float> opt(optim::decay_groups(
      model.parameters(), optim::AdamWOptions{.lr = 1.5e-4, .weight_decay = 0.05}));
  auto step = [&] {
    const auto mask = modality::random_mask(B, MaeViT::N, 0.75, g);
    opt.zero_grad();
    model.loss(x, mask).backward();
    opt.step();
  };
  constexpr double D = MaeViT::D, Dd = MaeViT::Dd, P = MaeViT::P;
  const double fwd = mm(B * 16, P, D) + 4 * block_flops(B, 5, D) + mm(B * 5, D, Dd) +
                     block_flops(B, 17, Dd) + mm(B * 12, Dd, P);
  time_steps(state, step, 3 * fwd - mm(B * 16, P, D), static_cast<double>(B));
}
BENCHMARK(BM_step_mae)->Iterations(30)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- MLM ------------------------------------------------------------------------------------

void BM_step_mlm(benchmark::State& state) {
  constexpr index_t B = 32, L = 128, V = 8192, E = 256;
  Generator g(0);
  using Lin = nn::Linear<nn::dynamic, nn::dynamic>;
  using Emb = nn::Embedding<nn::dynamic, nn::dynamic>;
  using Head = nn::Sequential<Lin, nn::GELU, nn::LayerNorm<nn::dynamic>, Lin>;
  const mod::TokenIds<float> ids{V, L, 0};
  obj::MaskedPrediction model(ids,
                              nn::Sequential<Emb, nn::LearnedPositions<float>>(
                                  Emb(V, E, g), nn::LearnedPositions<float>(L, E, g)),
                              nn::TransformerEncoder<nn::dynamic>(
                                  E, 4, {.heads = 4, .mlp_ratio = 4.0, .norm_first = false}, g),
                              Head(Lin(E, E, g), {}, nn::LayerNorm<nn::dynamic>(E), Lin(E, V, g)),
                              E, obj::RandomMasking{0.15}, g,
                              obj::TokenCorruption{.mask_id = 1, .special_ids = {0, 1}});
  // Token ids in [2, V): 0 is padding and 1 the mask id.
  const auto u = uniform<float>({B, L}, g);
  Tensor<std::int64_t, 2> x(Shape<2>{B, L});
  for (index_t i = 0; i < B * L; ++i)
    x.data()[i] =
        std::min<std::int64_t>(V - 1, 2 + static_cast<std::int64_t>(u.data()[i] * (V - 2)));
  optim::AdamW<float> opt(optim::decay_groups(
      model.parameters(), optim::AdamWOptions{.lr = 1e-4, .weight_decay = 0.01}));
  train::StepContext ctx{.rng = &g};
  auto step = [&] {
    opt.zero_grad();
    model.loss(x, ctx).backward();
    opt.step();
  };
  const double M = std::round(0.15 * L) * B;  // masked positions
  const double fwd = 4 * block_flops(B, L, E) + mm(M, E, E) + mm(M, E, V);
  time_steps(state, step, 3 * fwd, static_cast<double>(B));  // the first layer is a lookup
}
BENCHMARK(BM_step_mlm)->Iterations(25)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- the machine's FP32 peak ----------------------------------------------------------------

/// 12 independent chains of FMAs per thread (enough to cover FMA latency x 2 pipes), as wide
/// as the build's widest registers: a Xeon with two 512-bit FMA units has twice the peak that
/// 256-bit FMAs reach, a Zen 4 (512-bit FMAs split in two) the same either way.
float fma_chains(long iters) {
  using V = simd::batch<float>;
  V acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = V(static_cast<float>(i));
  const V a(0.999999f), b(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (auto& c : acc) c = simd::fmadd<float>(c, a, b);
  float s = 0;
  for (auto& c : acc) s += simd::reduce_add(c);
  return s;
}

void BM_fp32_peak(benchmark::State& state) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  constexpr long iters = 20'000'000;
  std::vector<float> sink(threads);
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = fma_chains(iters); });
    for (auto& th : pool) th.join();
    benchmark::DoNotOptimize(sink.data());
  }
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      2.0 * simd::width<float> * 12 * iters * threads * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_fp32_peak)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
