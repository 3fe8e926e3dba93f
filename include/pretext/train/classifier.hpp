// SPDX-License-Identifier: Apache-2.0
// Supervised classification as an Objective: cross-entropy of model(to_input(x)) against the
// labels, with the batch accuracy reported as a metric. The first objective the trainer runs,
// and the one fine-tuning uses (an encoder with a new head).
//
//   Batch: a pair or tuple (x, y), x Tensor<T, R> (B, ...), y Tensor<std::int64_t, 1> (B).
//   to_input: Var<T, R> -> what the model takes, e.g. (B, 784) -> (B, 1, 28, 28).
#pragma once

#include "pretext/train/objective.hpp"

#include <tuple>
#include <utility>

namespace pretext::train {

/// The identity, for models that take the batch as it comes.
struct AsIs {
  template <class V>
  const V& operator()(const V& x) const noexcept {
    return x;
  }
};

template <nn::module Model, class ToInput = AsIs>
class SupervisedClassifier : public nn::Module<SupervisedClassifier<Model, ToInput>> {
 public:
  using value_type = nn::param_type_t<Model>;

  explicit SupervisedClassifier(Model model, ToInput to_input = {},
                                CrossEntropyOptions options = {})
      : model(std::move(model)), to_input_(std::move(to_input)), options_(options) {}

  /// The model's parameters keep their own names: a classifier's state dict is its model's.
  template <class V>
  void visit(V& v) {
    v.module("", model);
  }

  template <class Batch>
  Var<value_type, 0> loss(const Batch& batch, StepContext& ctx) {
    const auto& [x, y] = batch;
    using X = std::remove_cvref_t<decltype(x)>;
    const auto logits = model(to_input_(Var<typename X::value_type, X::rank>(x)));
    if (ctx.metrics) {
      const auto pred = argmax(logits.data(), 1);
      index_t right = 0;
      for (index_t i = 0; i < y.size(0); ++i) right += pred.data()[i] == y.data()[i];
      ctx.report("accuracy", static_cast<double>(right) / static_cast<double>(y.size(0)));
    }
    return cross_entropy(logits, y, options_);
  }

  /// Logits for x (B, ...) without recording a graph, in evaluation mode.
  template <class T, int R>
  Tensor<value_type, 2> predict_logits(const Tensor<T, R>& x) {
    NoGrad guard;
    const bool was_training = this->is_training();
    this->eval();
    auto out = model(to_input_(Var<T, R>(x))).data();
    this->train(was_training);
    return out;
  }

  Model model;

 private:
  ToInput to_input_;
  CrossEntropyOptions options_;
};

}  // namespace pretext::train
