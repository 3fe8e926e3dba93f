// SPDX-License-Identifier: Apache-2.0
// Fine-tuning: an encoder with a new classification head, trained end to end on a labeled
// (sub)set with the trainer, then scored on a test set. With a pre-trained encoder this is the
// fine-tuning evaluation; with a freshly initialised one it is the "trained from scratch on the
// same labels" baseline that pre-training has to beat. An optional per-sample augmentation
// (crops, flips, noise) transforms the training inputs each time they are drawn.
//
//   x: (N, ...) inputs, y: (N) class ids; to_input maps a batch Var<T, R> to what the encoder
//   takes; head maps the encoder's output to (B, C) logits.
#pragma once

#include "pretext/data/dataset.hpp"
#include "pretext/data/loader.hpp"
#include "pretext/optim/adamw.hpp"
#include "pretext/optim/schedule.hpp"
#include "pretext/train/classifier.hpp"
#include "pretext/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pretext::train {

/// An encoder followed by a head, named "encoder.*" and "head.*".
template <nn::module Encoder, nn::module Head>
class EncoderWithHead : public nn::Module<EncoderWithHead<Encoder, Head>> {
 public:
  using value_type = nn::param_type_t<Encoder>;
  EncoderWithHead(Encoder e, Head h) : encoder(std::move(e)), head(std::move(h)) {}
  template <class V>
  void visit(V& v) {
    v.module("encoder", encoder);
    v.module("head", head);
  }
  template <class X>
  auto operator()(const X& x) const {
    return head(encoder(x));
  }
  Encoder encoder;
  Head head;
};

struct FinetuneRecipe {
  int epochs = 10;
  long min_steps = 0;  ///< at least this many steps (small label fractions get more epochs)
  index_t batch = 64;
  double lr = 1e-3, weight_decay = 1e-4;
  /// The encoder learns at lr * encoder_lr_scale, the head at lr: a pre-trained encoder keeps
  /// more of what it learned when it moves slower than the fresh head (1 = one rate for all).
  double encoder_lr_scale = 1.0;
  double warmup_fraction = 0.05;
  std::uint64_t seed = 0;       ///< data order and the trainer's stream
  bool freeze_encoder = false;  ///< train the head only (a linear probe by gradient descent)
  bool progress = false;
  std::string log_path = {};
};

struct FinetuneResult {
  double accuracy = 0;  ///< on the test set
  long steps = 0;
  double seconds = 0;
  std::vector<std::pair<long, double>> loss_curve;  ///< (step, mean training loss) at log points
};

/// Top-1 accuracy of a classifier on (x, y), evaluated in batches without a graph.
template <class Classifier, class T, int R>
double classifier_accuracy(Classifier& clf, const Tensor<T, R>& x, const Tensor<std::int64_t, 1>& y,
                           index_t batch = 500) {
  PRETEXT_CHECK(x.size(0) == y.size(0), shape_error,
                "pretext::train::classifier_accuracy: ", x.size(0), " inputs but ", y.size(0),
                " labels");
  index_t right = 0;
  for (index_t i = 0; i < x.size(0); i += batch) {
    const index_t b = std::min(batch, x.size(0) - i);
    const auto pred = argmax(clf.predict_logits(x.narrow(0, i, b).contiguous()), 1);
    for (index_t r = 0; r < b; ++r) right += pred.data()[r] == y.data()[i + r];
  }
  return static_cast<double>(right) / static_cast<double>(std::max<index_t>(1, x.size(0)));
}

/// fine_tune's default augmentation: the training inputs as they are.
struct NoAugmentation {};

/// Trains a copy of `encoder` with `head` on (train_x, train_y) and returns the test accuracy.
///
/// augment, when given, maps each training input (a contiguous sample of shape train_x's
/// without its first axis) and its Generator to a new input of the same shape (shape_error
/// otherwise), e.g. a modality::compose of crops and flips. The loader seeds the Generator per
/// (seed, epoch, sample), so the augmented samples are the same for any thread count or
/// prefetching. augment is called on the loader's background thread, one sample at a time
/// (also for the one batch it may prefetch past the last step): it must not share mutable
/// state with the caller. Test inputs are never augmented.
template <nn::module Encoder, nn::module Head, class ToInput, floating T, int R,
          class Augment = NoAugmentation>
FinetuneResult fine_tune(const Encoder& encoder, Head head, ToInput to_input,
                         const Tensor<T, R>& train_x, const Tensor<std::int64_t, 1>& train_y,
                         const Tensor<T, R>& test_x, const Tensor<std::int64_t, 1>& test_y,
                         const FinetuneRecipe& r = {}, Augment augment = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  using Model = EncoderWithHead<Encoder, Head>;
  SupervisedClassifier<Model, ToInput> clf(Model(encoder.clone(), std::move(head)),
                                           std::move(to_input));
  PRETEXT_CHECK(r.encoder_lr_scale >= 0, config_error,
                "pretext::train::fine_tune: encoder_lr_scale is ", r.encoder_lr_scale,
                "; use a value >= 0 (0 leaves the encoder as it is, like freeze_encoder)");
  if (r.freeze_encoder) clf.model.encoder.requires_grad_(false);
  const optim::AdamWOptions head_options{.lr = r.lr, .weight_decay = r.weight_decay};
  auto groups = optim::decay_groups(clf.model.head.trainable_parameters(), head_options);
  auto encoder_options = head_options;
  encoder_options.lr = r.lr * r.encoder_lr_scale;
  for (auto& g : optim::decay_groups(clf.model.encoder.trainable_parameters(), encoder_options))
    groups.push_back(std::move(g));
  optim::AdamW<nn::param_type_t<Encoder>> opt(std::move(groups));

  data::TensorDataset<T, R> ds(train_x, train_y);
  const index_t batch = std::min(r.batch, train_x.size(0));
  auto train_on = [&](const auto& dataset) {
    data::DataLoader loader(
        dataset, data::LoaderOptions{.batch_size = batch, .shuffle = true, .seed = r.seed});
    const long per_epoch = loader.batches_per_epoch();
    const long steps = std::max(r.min_steps, static_cast<long>(r.epochs) * per_epoch);
    const optim::WarmupCosineSchedule schedule{
        static_cast<long>(r.warmup_fraction * static_cast<double>(steps)), steps};
    Trainer trainer(
        clf, loader, opt, schedule,
        TrainerOptions{.max_steps = steps,
                       .log_every = std::max(1L, steps / 50),  // about 50 points on the loss curve
                       .log_path = r.log_path,
                       .handle_signals = false,
                       .progress = r.progress,
                       .seed = r.seed,
                       .name = "fine-tune"});
    return trainer.fit();
  };
  const auto result = [&] {
    if constexpr (std::is_same_v<Augment, NoAugmentation>) {
      return train_on(ds);
    } else {
      using Sample = typename data::TensorDataset<T, R>::sample_type;
      const auto augmented = data::map(ds, [&augment](Sample s, Generator& g) {
        Tensor<T, R - 1> x = augment(std::as_const(s.first), g);
        PRETEXT_CHECK(x.shape() == s.first.shape(), shape_error,
                      "pretext::train::fine_tune: the augmentation turned a sample of shape ",
                      pretext::detail::shape_string(s.first.shape()), " into one of shape ",
                      pretext::detail::shape_string(x.shape()),
                      "; it must keep the shape (the batch is collated from such samples)");
        s.first = std::move(x);
        return s;
      });
      return train_on(augmented);
    }
  }();
  FinetuneResult out;
  out.accuracy = classifier_accuracy(clf, test_x, test_y);
  out.steps = result.steps;
  out.loss_curve = result.loss_curve;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace pretext::train
