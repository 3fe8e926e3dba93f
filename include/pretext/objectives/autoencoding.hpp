// SPDX-License-Identifier: Apache-2.0
// Autoencoding, for any modality an adapter describes: plain, denoising and variational.
//
//   tokens (B, N, P | ids) -stem-> (B, N, D) -noise-> -encoder-> code -decoder-> (B, N, Dd)
//   -head-> (B, N, target_dim) -adapter.prediction_loss against every token-> scalar
//
// The bottleneck is the user's: an encoder ending in a pooled or flattened code (B, Z) and a
// decoder that expands it back to (B, N, Dd), or a token-wise code. Noise acts on the embedded
// tokens, where every modality looks alike: Gaussian, masking (whole tokens dropped, as the
// masking noise of denoising autoencoders) and swap noise (a token taken from another row of the
// batch at the same position, as for tabular rows, where the stem embeds each column alone).
//
// The variational autoencoder's encoder returns (..., 2 Z): the mean and log-variance of a
// diagonal Gaussian q(z | x). z = mu + exp(logvar / 2) * eps, and
//   loss = reconstruction + beta * KL(q || N(0, I)),
//   KL = mean over rows of sum_z 0.5 (mu^2 + exp(logvar) - logvar - 1),
// with beta raised linearly from 0 over warmup_steps when asked (KL annealing). With per-element
// mean reconstruction losses, beta also sets the balance of the two terms (a beta-VAE).
#pragma once

#include "pretext/nn/module.hpp"
#include "pretext/objectives/parts.hpp"
#include "pretext/train/objective.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

namespace pretext::objectives {

// ---- noise on embedded tokens (B, N, D) --------------------------------------------------------

struct NoNoise {
  template <class T>
  Var<T, 3> operator()(const Var<T, 3>& h, Generator&) const {
    return h;
  }
};

/// h + N(0, std^2) per element.
struct GaussianNoise {
  double std = 0.1;
  template <class T>
  Var<T, 3> operator()(const Var<T, 3>& h, Generator& g) const {
    Tensor<T, 3> e(h.shape());
    normal_(e, g, T(0), static_cast<T>(std));
    return h + e;
  }
};

/// Each token zeroed with probability p (whole tokens, so the encoder must infer them from
/// context).
struct MaskingNoise {
  double p = 0.25;
  template <class T>
  Var<T, 3> operator()(const Var<T, 3>& h, Generator& g) const {
    const index_t B = h.size(0), N = h.size(1);
    const auto u = uniform<T>({B, N, index_t{1}}, g, T(0), T(1));
    Tensor<T, 3> keep(Shape<3>{B, N, 1});
    for (index_t i = 0; i < B * N; ++i) keep.data()[i] = u.data()[i] < p ? T(0) : T(1);
    return h * keep;
  }
};

/// Each token replaced with probability p by the token at the same position of another random
/// row of the batch (swap noise; for tabular rows it draws values from the column's marginal).
struct SwapNoise {
  double p = 0.15;
  template <class T>
  Var<T, 3> operator()(const Var<T, 3>& h, Generator& g) const {
    const index_t B = h.size(0), N = h.size(1), D = h.size(2);
    const auto u = uniform<double>({B, N}, g, 0.0, 1.0);
    const auto r = uniform<double>({B, N}, g, 0.0, 1.0);
    Tensor<std::int64_t, 2> idx(Shape<2>{1, B * N});
    for (index_t b = 0; b < B; ++b)
      for (index_t n = 0; n < N; ++n) {
        const index_t i = b * N + n;
        index_t src = b;
        if (B > 1 && u.data()[i] < p) {  // another row, uniformly
          src = std::min(B - 2, static_cast<index_t>(r.data()[i] * static_cast<double>(B - 1)));
          if (src >= b) ++src;
        }
        idx.data()[i] = src * N + n;
      }
    const auto flat = reshape(h, std::array<index_t, 3>{1, B * N, D});
    return reshape(gather_tokens(flat, idx), std::array<index_t, 3>{B, N, D});
  }
};

// ---- plain and denoising -----------------------------------------------------------------------

template <modality::TokenAdapter Adapter, nn::module Stem, nn::module Encoder, nn::module Decoder,
          nn::module Head, class Noise = NoNoise>
class Autoencoder : public nn::Module<Autoencoder<Adapter, Stem, Encoder, Decoder, Head, Noise>> {
 public:
  using value_type = typename Adapter::value_type;
  using T = value_type;
  using batch_type = typename Adapter::batch_type;
  using token_type = typename Adapter::token_type;

  Autoencoder(Adapter adapter, Stem stem, Encoder encoder, Decoder decoder, Head head,
              Noise noise = {})
      : adapter(std::move(adapter)),
        noise(std::move(noise)),
        stem(std::move(stem)),
        encoder(std::move(encoder)),
        decoder(std::move(decoder)),
        head(std::move(head)) {}

  template <class V>
  void visit(V& v) {
    v.module("stem", stem);
    v.module("encoder", encoder);
    v.module("decoder", decoder);
    v.module("head", head);
  }

  /// The code of x, without noise (what a downstream task uses).
  auto encode(const batch_type& x) const {
    return encoder(stem(detail::stem_input(adapter.tokens(x))));
  }

  /// Predictions (B, N, target_dim) of every token from a noisy x, and the loss.
  std::pair<Var<T, 0>, Var<T, 3>> forward(const batch_type& x, Generator& g) const {
    const token_type tokens = adapter.tokens(x);
    const index_t B = tokens.size(0), N = tokens.size(1);
    Var<T, 3> pred = head(decoder(encoder(noise(stem(detail::stem_input(tokens)), g))));
    Var<T, 0> loss = adapter.prediction_loss(pred, tokens, detail::all_positions(B, N));
    return {std::move(loss), std::move(pred)};
  }

  Var<T, 0> loss(const batch_type& x, train::StepContext& ctx) {
    return forward(x, ctx.generator()).first;
  }

  Adapter adapter;
  Noise noise;
  Stem stem;
  Encoder encoder;
  Decoder decoder;
  Head head;
};

// ---- variational -------------------------------------------------------------------------------

/// KL(N(mu, exp(logvar)) || N(0, I)) summed over the last axis and averaged over the rest.
template <floating T, int R>
Var<T, 0> gaussian_kl(const Var<T, R>& mu, const Var<T, R>& logvar) {
  PRETEXT_CHECK(mu.shape() == logvar.shape(), shape_error, "pretext::objectives::gaussian_kl: mu ",
                pretext::detail::shape_string(mu.shape()), " and logvar ",
                pretext::detail::shape_string(logvar.shape()), " differ");
  const index_t Z = mu.size(R - 1);
  const double rows =
      static_cast<double>(mu.numel()) / static_cast<double>(std::max<index_t>(Z, 1));
  const auto s = sum(square(mu)) + sum(exp(logvar)) - sum(logvar);
  return s * static_cast<T>(0.5 / rows) - static_cast<T>(0.5 * static_cast<double>(Z));
}

struct VaeOptions {
  double beta = 1.0;
  long warmup_steps = 0;  ///< beta rises linearly from 0 over these optimizer steps (0: none)
};

template <modality::TokenAdapter Adapter, nn::module Stem, nn::module Encoder, nn::module Decoder,
          nn::module Head>
class VariationalAutoencoder
    : public nn::Module<VariationalAutoencoder<Adapter, Stem, Encoder, Decoder, Head>> {
 public:
  using value_type = typename Adapter::value_type;
  using T = value_type;
  using batch_type = typename Adapter::batch_type;
  using token_type = typename Adapter::token_type;

  VariationalAutoencoder(Adapter adapter, Stem stem, Encoder encoder, Decoder decoder, Head head,
                         VaeOptions options = {})
      : adapter(std::move(adapter)),
        options(options),
        stem(std::move(stem)),
        encoder(std::move(encoder)),
        decoder(std::move(decoder)),
        head(std::move(head)) {}

  template <class V>
  void visit(V& v) {
    v.module("stem", stem);
    v.module("encoder", encoder);
    v.module("decoder", decoder);
    v.module("head", head);
  }

  struct Output {
    Var<T, 0> loss, reconstruction, kl;
    Var<T, 3> pred;  ///< (B, N, target_dim)
  };

  /// beta at optimizer step `step` (0-based), after warm-up.
  double beta_at(long step) const {
    if (options.warmup_steps <= 0) return options.beta;
    return options.beta *
           std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps));
  }

  /// The mean of q(z | x): the code a downstream task uses.
  auto encode(const batch_type& x) const {
    const auto stats = encoder(stem(detail::stem_input(adapter.tokens(x))));
    return narrow(stats, -1, 0, half(stats));
  }

  /// The loss with eps ~ N(0, I) drawn from g.
  Output forward(const batch_type& x, Generator& g, double beta) const {
    return run(
        x,
        [&g](const auto& mu) {
          std::remove_cvref_t<decltype(mu)> eps(mu.shape());
          normal_(eps, g, T(0), T(1));
          return eps;
        },
        beta);
  }

  /// The loss with given noise eps, shaped like the mean (..., Z): reproducible by other tools.
  template <int R>
  Output forward(const batch_type& x, const Tensor<T, R>& eps, double beta) const {
    return run(
        x,
        [&eps](const auto& mu) {
          PRETEXT_CHECK(mu.shape() == eps.shape(), shape_error,
                        "pretext::objectives::VariationalAutoencoder: eps is ",
                        pretext::detail::shape_string(eps.shape()), " but the latent mean is ",
                        pretext::detail::shape_string(mu.shape()), "; give noise of its shape");
          return eps;
        },
        beta);
  }

  Var<T, 0> loss(const batch_type& x, train::StepContext& ctx) {
    const double beta = beta_at(ctx.step);
    Output out = forward(x, ctx.generator(), beta);
    ctx.report("reconstruction", static_cast<double>(out.reconstruction.item()));
    ctx.report("kl", static_cast<double>(out.kl.item()));
    ctx.report("beta", beta);
    return std::move(out.loss);
  }

  Adapter adapter;
  VaeOptions options;
  Stem stem;
  Encoder encoder;
  Decoder decoder;
  Head head;

 private:
  template <class Noise>
  Output run(const batch_type& x, Noise&& noise, double beta) const {
    const token_type tokens = adapter.tokens(x);
    const index_t B = tokens.size(0), N = tokens.size(1);
    const auto stats = encoder(stem(detail::stem_input(tokens)));  // (..., 2 Z)
    const index_t Z = half(stats);
    const auto mu = narrow(stats, -1, 0, Z), logvar = narrow(stats, -1, Z, Z);
    const auto z = mu + exp(logvar * T(0.5)) * noise(mu.data());
    Var<T, 3> pred = head(decoder(z));
    Var<T, 0> rec = adapter.prediction_loss(pred, tokens, detail::all_positions(B, N));
    Var<T, 0> kl = gaussian_kl(mu, logvar);
    Var<T, 0> loss = rec + kl * static_cast<T>(beta);
    return {std::move(loss), std::move(rec), std::move(kl), std::move(pred)};
  }

  template <class S>
  static index_t half(const S& stats) {
    const index_t last = stats.size(std::remove_cvref_t<S>::rank - 1);
    PRETEXT_CHECK(last % 2 == 0 && last > 0, shape_error,
                  "pretext::objectives::VariationalAutoencoder: the encoder returned ",
                  pretext::detail::shape_string(stats.shape()),
                  "; its last axis must hold 2 Z values (the mean and log-variance of z)");
    return last / 2;
  }
};

}  // namespace pretext::objectives
