// SPDX-License-Identifier: Apache-2.0
// Joint-embedding objectives: two views of each sample should agree. Each is a module over its
// parts (encoder, projector, predictor) and takes a batch of two views, std::pair of (B, ...)
// tensors as data::multi_view(ds, augment) and the loader produce (SimCLR also takes more: a
// std::tuple of V views from multi_view<V>); the encoder takes a view as Var<T, R> (or the id
// tensor itself for token ids) and returns (B, D).
//
//   SimCLR:       z = projector(encoder(every view in one forward)) (VB, P) -> NT-Xent
//   MoCo v2:      q = f(view 1), k = EMA copy of f (view 2), negatives from a FIFO queue of keys
//   BYOL:         p = predictor(projector(encoder(x))) against an EMA teacher's projection,
//                 symmetrised over the two views, momentum rising to 1 along a cosine
//   SimSiam:      as BYOL with the teacher replaced by a stop-gradient of the online projection
//   BarlowTwins:  cross-correlation of the two projections towards the identity
//   VICReg:       invariance + variance + covariance of the two projections
//   CLIP:         two encoders for paired modalities, symmetric InfoNCE, learnable temperature
//
// SimCLR, Barlow Twins, VICReg and CLIP couple the batch (negatives, batch statistics); they
// split loss() into embed() and loss_from_embeddings() so that the trainer's gradient
// accumulation stays exact (train/cached_embeddings.hpp).
//
// Every loss() reports collapse statistics (embedding_std, effective_rank) when the trainer
// asks for metrics. Teachers are part of the module (so checkpoints hold them) but do not
// train: pass trainable_parameters() to the optimizer.
#pragma once

#include "pretext/nn/module.hpp"
#include "pretext/objectives/collapse.hpp"
#include "pretext/objectives/contrastive.hpp"
#include "pretext/optim/ema.hpp"
#include "pretext/optim/schedule.hpp"
#include "pretext/train/objective.hpp"

#include <cmath>
#include <concepts>
#include <iterator>
#include <tuple>
#include <utility>
#include <vector>

namespace pretext::objectives {

namespace detail {

/// A view as the encoder takes it: values as a constant Var, ids as they are.
template <floating T, int R>
Var<T, R> view_input(const Tensor<T, R>& x) {
  return Var<T, R>(x);
}
template <int R>
const Tensor<std::int64_t, R>& view_input(const Tensor<std::int64_t, R>& ids) {
  return ids;
}

/// Views (B, ...) each stacked in their order into one (VB, ...) batch, so that all of them go
/// through one forward.
template <class E, int R, std::same_as<Tensor<E, R>>... More>
Tensor<E, R> stack_views(const Tensor<E, R>& first, const More&... more) {
  const Tensor<E, R>* views[] = {&first, &more...};
  auto shape = first.shape();
  for (std::size_t v = 1; v < std::size(views); ++v)
    PRETEXT_CHECK(views[v]->shape() == shape, shape_error, "pretext::objectives: view 0 is ",
                  pretext::detail::shape_string(shape), " but view ", v, " is ",
                  pretext::detail::shape_string(views[v]->shape()),
                  "; every view needs the same shape");
  const index_t b = first.size(0);
  shape[0] *= static_cast<index_t>(std::size(views));
  Tensor<E, R> out(shape);
  for (std::size_t v = 0; v < std::size(views); ++v)
    out.narrow(0, static_cast<index_t>(v) * b, b).copy_(*views[v]);
  return out;
}

template <class T>
void report_collapse(train::StepContext& ctx, const Tensor<T, 2>& z) {
  if (!ctx.metrics || z.size(0) < 2) return;
  const auto s = collapse_stats(z);
  ctx.report("embedding_std", s.embedding_std);
  ctx.report("effective_rank", s.effective_rank);
}

/// The views of a batch (a std::pair or std::tuple of (B, ...) tensors) through encoder and
/// projector in one forward: (VB, P), view 0's rows first.
template <class Encoder, class Projector, class Views>
auto embed_views(const Encoder& encoder, const Projector& projector, const Views& views) {
  return projector(
      encoder(view_input(std::apply([](const auto&... v) { return stack_views(v...); }, views))));
}

/// Embeddings of micro-batches (V b_i, P), each stacked view by view (embed_views), as the V
/// views of the whole batch, (sum b_i, P) each; the collapse statistics of all rows go to the
/// metrics. One part is the plain (not accumulated) case.
template <class T>
std::vector<Var<T, 2>> split_views(const std::vector<Var<T, 2>>& parts, index_t views,
                                   train::StepContext& ctx) {
  PRETEXT_CHECK(!parts.empty(), shape_error,
                "pretext::objectives: no embeddings to join; pass at least one micro-batch");
  PRETEXT_CHECK(views >= 1, config_error, "pretext::objectives: ", views,
                " views per sample; an objective takes at least one");
  std::vector<std::vector<Var<T, 2>>> by_view(static_cast<std::size_t>(views));
  for (const auto& z : parts) {
    PRETEXT_CHECK(z.size(0) % views == 0, shape_error, "pretext::objectives: embeddings ",
                  pretext::detail::shape_string(z.shape()), " do not split into ", views,
                  " views of equal size; embed() stacks every view of a micro-batch");
    const index_t b = z.size(0) / views;
    for (index_t v = 0; v < views; ++v)
      by_view[static_cast<std::size_t>(v)].push_back(narrow(z, 0, v * b, b));
  }
  std::vector<Var<T, 2>> out;
  for (const auto& pieces : by_view)
    out.push_back(pieces.size() == 1 ? pieces[0] : concat(pieces, 0));
  if (ctx.metrics) {
    NoGrad no_grad;
    report_collapse(ctx, parts.size() == 1 ? parts[0].data() : concat(out, 0).data());
  }
  return out;
}

/// split_views of two views, as a pair (CLIP's two sides).
template <class T>
std::pair<Var<T, 2>, Var<T, 2>> join_views(const std::vector<Var<T, 2>>& parts,
                                           train::StepContext& ctx) {
  auto v = split_views(parts, 2, ctx);
  return {std::move(v[0]), std::move(v[1])};
}

/// What SimCLR, Barlow Twins and VICReg share: encoder and projector over every view in one
/// forward, and the loss split into embed() and loss_from_embeddings() so that the trainer's
/// gradient accumulation stays exact. Derived supplies pair_loss(view 0 (B, P), view 1 (B, P)),
/// or, to take more than two views, view_count() and views_loss(V views (B, P) each).
template <class Derived, nn::module Encoder, nn::module Projector>
class TwoViewObjective : public nn::Module<Derived> {
 public:
  using value_type = nn::param_type_t<Encoder>;
  using T = value_type;
  TwoViewObjective(Encoder e, Projector p) : encoder(std::move(e)), projector(std::move(p)) {}
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("projector", projector);
  }
  /// Views per sample the loss takes.
  index_t view_count() const { return 2; }
  Var<T, 0> views_loss(const std::vector<Var<T, 2>>& z) const {
    return self().pair_loss(z[0], z[1]);
  }
  /// Every view of a (micro-)batch: (VB, P), view 0's rows first.
  template <class Views>
  Var<T, 2> embed(const Views& views, train::StepContext&) {
    constexpr auto given = static_cast<index_t>(std::tuple_size_v<Views>);
    PRETEXT_CHECK(given == self().view_count(), config_error, "pretext::objectives: the batch has ",
                  given, " views of each sample but the objective takes ", self().view_count(),
                  "; give data::multi_view<N> the objective's view count");
    return embed_views(encoder, projector, views);
  }
  /// The loss over the embeddings of every micro-batch of the step.
  Var<T, 0> loss_from_embeddings(const std::vector<Var<T, 2>>& z, train::StepContext& ctx) {
    return self().views_loss(split_views(z, self().view_count(), ctx));
  }
  template <class Views>
  Var<T, 0> loss(const Views& views, train::StepContext& ctx) {
    return loss_from_embeddings({embed(views, ctx)}, ctx);
  }
  Encoder encoder;
  Projector projector;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace detail

/// MoCo's dictionary: the last K keys (D wide), oldest overwritten first. Held as buffers
/// ("keys" (K, D), "state" = [next slot, count]) so a checkpoint resumes it exactly.
template <floating T>
class KeyQueue : public nn::Module<KeyQueue<T>> {
 public:
  using value_type = T;
  KeyQueue(index_t capacity, index_t dim)
      : keys_(Tensor<T, 2>::zeros(Shape<2>{capacity, dim})),
        state_(Tensor<T, 1>::zeros(Shape<1>{2})) {
    PRETEXT_CHECK(capacity >= 1 && dim >= 1, config_error,
                  "pretext::objectives::KeyQueue: ", "capacity ", capacity, " and width ", dim,
                  " must be positive");
  }
  template <class V>
  void visit(V& v) {
    v.buffer("keys", keys_);
    v.buffer("state", state_);
  }
  index_t capacity() const { return keys_.size(0); }
  index_t size() const { return static_cast<index_t>(state_(1)); }
  /// Appends keys (B, D), the oldest entries making room.
  void push(const Tensor<T, 2>& k) {
    PRETEXT_CHECK(
        k.size(1) == keys_.size(1), shape_error, "pretext::objectives::KeyQueue::push: ", "keys ",
        pretext::detail::shape_string(k.shape()), " but the queue holds width ", keys_.size(1));
    auto next = static_cast<index_t>(state_(0));
    for (index_t i = 0; i < k.size(0); ++i) {
      keys_.select(0, next).copy_(k.select(0, i));
      next = (next + 1) % capacity();
    }
    state_(0) = static_cast<T>(next);
    state_(1) = static_cast<T>(std::min(capacity(), size() + k.size(0)));
  }
  /// The stored keys, oldest first (size(), D).
  Tensor<T, 2> keys() const {
    const index_t n = size(), K = capacity(), next = static_cast<index_t>(state_(0));
    Tensor<T, 2> out(Shape<2>{n, keys_.size(1)});
    const index_t first = n < K ? 0 : next;
    for (index_t i = 0; i < n; ++i) out.select(0, i).copy_(keys_.select(0, (first + i) % K));
    return out;
  }

 private:
  Tensor<T, 2> keys_;
  Tensor<T, 1> state_;
};

/// SimCLR: NT-Xent between the projections of two views, or, with views > 2 (batches of
/// data::multi_view<views>), multi_view_nt_xent over all of them.
template <nn::module Encoder, nn::module Projector>
class SimCLR : public detail::TwoViewObjective<SimCLR<Encoder, Projector>, Encoder, Projector> {
  using Base = detail::TwoViewObjective<SimCLR, Encoder, Projector>;
  using T = nn::param_type_t<Encoder>;

 public:
  SimCLR(Encoder e, Projector p, double temperature = 0.5, index_t n_views = 2)
      : Base(std::move(e), std::move(p)), temperature(temperature), views(n_views) {
    PRETEXT_CHECK(n_views >= 2, config_error, "pretext::objectives::SimCLR: views ", n_views,
                  " must be at least 2");
  }
  /// NT-Xent between the two views' projections (B, P) each.
  Var<T, 0> pair_loss(const Var<T, 2>& a, const Var<T, 2>& b) const {
    return nt_xent(a, b, temperature);
  }
  index_t view_count() const { return views; }
  /// The loss of the views' projections (B, P) each: nt_xent for two, else multi_view_nt_xent.
  Var<T, 0> views_loss(const std::vector<Var<T, 2>>& z) const {
    return z.size() == 2 ? pair_loss(z[0], z[1]) : multi_view_nt_xent(z, temperature);
  }
  double temperature;
  index_t views;  ///< views per sample
};

struct BootstrapOptions {
  double base_momentum = 0.99;  ///< the teacher's EMA momentum at step 0, rising to 1
};

/// BYOL (with an EMA teacher) and, with `ema = false`, SimSiam (a stop-gradient instead).
template <nn::module Encoder, nn::module Projector, nn::module Predictor>
class BYOL : public nn::Module<BYOL<Encoder, Projector, Predictor>> {
 public:
  using value_type = nn::param_type_t<Encoder>;
  using T = value_type;
  BYOL(Encoder e, Projector p, Predictor q, BootstrapOptions o = {})
      : encoder(std::move(e)),
        projector(std::move(p)),
        predictor(std::move(q)),
        target_encoder(encoder.clone()),
        target_projector(projector.clone()),
        options(o) {
    target_encoder.requires_grad_(false);
    target_projector.requires_grad_(false);
  }
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("projector", projector);
    v.module("predictor", predictor);
    v.module("target_encoder", target_encoder);
    v.module("target_projector", target_projector);
  }
  template <class Views>
  Var<T, 0> loss(const Views& views, train::StepContext& ctx) {
    const auto& [a, b] = views;
    const index_t B = a.size(0);
    const auto x = detail::stack_views(a, b);
    const Var<T, 2> z = projector(encoder(detail::view_input(x)));
    const Var<T, 2> p = predictor(z);
    Var<T, 2> t;
    {
      NoGrad no_grad;
      t = target_projector(target_encoder(detail::view_input(x)));
    }
    detail::report_collapse(ctx, z.data());
    // View 1's prediction against view 2's target and the other way round.
    return byol_loss(narrow(p, 0, 0, B), narrow(t, 0, B, B)) +
           byol_loss(narrow(p, 0, B, B), narrow(t, 0, 0, B));
  }
  /// The teacher follows the student with momentum 1 - (1 - base)(cos(pi k / K) + 1) / 2.
  void after_step(train::StepContext& ctx) {
    const double m = ctx.total_steps > 0
                         ? optim::cosine_momentum(options.base_momentum, ctx.step, ctx.total_steps)
                         : options.base_momentum;
    optim::ema_update_(target_encoder, encoder, m);
    optim::ema_update_(target_projector, projector, m);
  }
  Encoder encoder;
  Projector projector;
  Predictor predictor;
  Encoder target_encoder;
  Projector target_projector;
  BootstrapOptions options;
};

template <nn::module Encoder, nn::module Projector, nn::module Predictor>
class SimSiam : public nn::Module<SimSiam<Encoder, Projector, Predictor>> {
 public:
  using value_type = nn::param_type_t<Encoder>;
  using T = value_type;
  SimSiam(Encoder e, Projector p, Predictor q)
      : encoder(std::move(e)), projector(std::move(p)), predictor(std::move(q)) {}
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("projector", projector);
    v.module("predictor", predictor);
  }
  template <class Views>
  Var<T, 0> loss(const Views& views, train::StepContext& ctx) {
    static_assert(std::tuple_size_v<Views> == 2,
                  "pretext::objectives::SimSiam: takes two views of each sample (multi_view<2>)");
    const Var<T, 2> z = detail::embed_views(encoder, projector, views);  // (2B, P)
    detail::report_collapse(ctx, z.data());
    const index_t B = z.size(0) / 2;
    const Var<T, 2> p = predictor(z);
    // simsiam_loss stops the gradient through its second argument.
    return (simsiam_loss(narrow(p, 0, 0, B), narrow(z, 0, B, B)) +
            simsiam_loss(narrow(p, 0, B, B), narrow(z, 0, 0, B))) *
           T(0.5);
  }
  Encoder encoder;
  Projector projector;
  Predictor predictor;
};

struct MoCoOptions {
  index_t queue_size = 4096;
  double momentum = 0.999;  ///< of the key encoder
  double temperature = 0.2;
};

template <nn::module Encoder, nn::module Projector>
class MoCo : public nn::Module<MoCo<Encoder, Projector>> {
 public:
  using value_type = nn::param_type_t<Encoder>;
  using T = value_type;
  /// width: the projection's width (the keys' D).
  MoCo(Encoder e, Projector p, index_t width, MoCoOptions o = {})
      : encoder(std::move(e)),
        projector(std::move(p)),
        key_encoder(encoder.clone()),
        key_projector(projector.clone()),
        queue(o.queue_size, width),
        options(o) {
    key_encoder.requires_grad_(false);
    key_projector.requires_grad_(false);
  }
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("projector", projector);
    v.module("key_encoder", key_encoder);
    v.module("key_projector", key_projector);
    v.module("queue", queue);
  }
  template <class Views>
  Var<T, 0> loss(const Views& views, train::StepContext& ctx) {
    const auto& [a, b] = views;
    const Var<T, 2> q = projector(encoder(detail::view_input(a)));
    Var<T, 2> k;
    {
      NoGrad no_grad;
      k = key_projector(key_encoder(detail::view_input(b)));
    }
    detail::report_collapse(ctx, q.data());
    pending_.push_back(k.data());  // info_nce normalises queued keys itself
    if (queue.size() == 0) return info_nce(q, k, nullptr, options.temperature);
    const Var<T, 2> negatives(queue.keys());
    return info_nce(q, k, &negatives, options.temperature);
  }
  /// The key encoder follows; this step's keys enter the queue.
  void after_step(train::StepContext&) {
    optim::ema_update_(key_encoder, encoder, options.momentum);
    optim::ema_update_(key_projector, projector, options.momentum);
    for (const auto& k : pending_) queue.push(k);
    pending_.clear();
  }
  Encoder encoder;
  Projector projector;
  Encoder key_encoder;
  Projector key_projector;
  KeyQueue<T> queue;
  MoCoOptions options;

 private:
  std::vector<Tensor<T, 2>> pending_;  // keys of this step's micro-batches
};

template <nn::module Encoder, nn::module Projector>
class BarlowTwins
    : public detail::TwoViewObjective<BarlowTwins<Encoder, Projector>, Encoder, Projector> {
  using Base = detail::TwoViewObjective<BarlowTwins, Encoder, Projector>;
  using T = nn::param_type_t<Encoder>;

 public:
  BarlowTwins(Encoder e, Projector p, double lambda = 5e-3)
      : Base(std::move(e), std::move(p)), lambda(lambda) {}
  /// The cross-correlation of the two views' projections towards the identity.
  Var<T, 0> pair_loss(const Var<T, 2>& a, const Var<T, 2>& b) const {
    return barlow_twins_loss(a, b, lambda);
  }
  double lambda;
};

struct VICRegOptions {
  double sim_coeff = 25, std_coeff = 25, cov_coeff = 1;
};

template <nn::module Encoder, nn::module Projector>
class VICReg : public detail::TwoViewObjective<VICReg<Encoder, Projector>, Encoder, Projector> {
  using Base = detail::TwoViewObjective<VICReg, Encoder, Projector>;
  using T = nn::param_type_t<Encoder>;

 public:
  VICReg(Encoder e, Projector p, VICRegOptions o = {})
      : Base(std::move(e), std::move(p)), options(o) {}
  /// Invariance, variance and covariance of the two views' projections.
  Var<T, 0> pair_loss(const Var<T, 2>& a, const Var<T, 2>& b) const {
    return vicreg_loss(a, b, options.sim_coeff, options.std_coeff, options.cov_coeff);
  }
  VICRegOptions options;
};

/// Two encoders for paired modalities (image and caption, signal and label text); each ends
/// in the shared embedding width. log_scale starts at log(1 / 0.07) as in CLIP.
template <nn::module EncoderA, nn::module EncoderB>
class CLIP : public nn::Module<CLIP<EncoderA, EncoderB>> {
 public:
  using value_type = nn::param_type_t<EncoderA>;
  using T = value_type;
  CLIP(EncoderA a, EncoderB b, double initial_temperature = 0.07)
      : encoder_a(std::move(a)),
        encoder_b(std::move(b)),
        log_scale(initial_log_scale(initial_temperature), true) {}
  template <class V>
  void visit(V& v) {
    v.module("encoder_a", encoder_a);
    v.module("encoder_b", encoder_b);
    v.param("log_scale", log_scale);
  }
  /// Both sides of a (micro-)batch of pairs: (2B, D), side a's rows first.
  template <class Pair>
  Var<T, 2> embed(const Pair& pair, train::StepContext&) {
    const auto& [a, b] = pair;
    return concat(encoder_a(detail::view_input(a)), encoder_b(detail::view_input(b)), 0);
  }
  /// Symmetric InfoNCE over every micro-batch of the step (exact accumulation).
  Var<T, 0> loss_from_embeddings(const std::vector<Var<T, 2>>& z, train::StepContext& ctx) {
    const auto [za, zb] = detail::join_views(z, ctx);
    ctx.report("temperature", std::exp(-static_cast<double>(log_scale.item())));
    return clip_loss(za, zb, log_scale);
  }
  template <class Pair>
  Var<T, 0> loss(const Pair& pair, train::StepContext& ctx) {
    return loss_from_embeddings({embed(pair, ctx)}, ctx);
  }
  EncoderA encoder_a;
  EncoderB encoder_b;
  Var<T, 0> log_scale;

 private:
  static Tensor<T, 0> initial_log_scale(double temperature) {
    PRETEXT_CHECK(temperature > 0, config_error, "pretext::objectives::CLIP: temperature ",
                  temperature, " must be positive");
    Tensor<T, 0> s(Shape<0>{});
    s.data()[0] = static_cast<T>(std::log(1.0 / temperature));
    return s;
  }
};

}  // namespace pretext::objectives
