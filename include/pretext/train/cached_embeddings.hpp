// SPDX-License-Identifier: Apache-2.0
// Exact gradient accumulation for objectives whose loss couples the whole batch (in-batch
// negatives of NT-Xent and CLIP, the batch statistics of Barlow Twins and VICReg). Summing the
// losses of micro-batches would silently change such an objective: each micro-batch would only
// see its own negatives. Instead (the GradCache recipe, Gao et al. 2021):
//
//   1. embed every micro-batch without a graph: z_i (n_i, D), kept as leaves;
//   2. the loss of the whole batch on the concatenated leaves, backward: dL/dz_i;
//   3. embed each micro-batch again, now with a graph, and backward dL/dz_i through it.
//
// The parameter gradients equal the full-batch ones up to float rounding, while only one
// micro-batch's activations are alive at a time. An objective opts in by splitting its loss:
//
//   Var<T, 2> embed(const Batch& micro_batch, StepContext& ctx);           // (n_i, D)
//   Var<T, 0> loss_from_embeddings(const std::vector<Var<T, 2>>& z, StepContext& ctx);
//
// with loss(batch, ctx) == loss_from_embeddings({embed(batch, ctx)}, ctx). Both random streams
// are rewound before each re-embedding, so dropout and random masks replay exactly. Layers
// whose output depends on the other rows of their micro-batch (batch norm in training mode) are
// the exception: their statistics are per micro-batch in both passes.
#pragma once

#include "pretext/autograd.hpp"
#include "pretext/train/objective.hpp"

#include <cmath>
#include <concepts>
#include <cstdint>
#include <vector>

namespace pretext::train {

template <class O, class Batch>
concept BatchCoupledObjective = Objective<O, Batch> &&
    requires(O& o, const Batch& b, StepContext& ctx,
             const std::vector<Var<nn::param_type_t<O>, 2>>& z) {
  { o.embed(b, ctx) } -> std::convertible_to<Var<nn::param_type_t<O>, 2>>;
  { o.loss_from_embeddings(z, ctx) } -> std::convertible_to<loss_type<O>>;
};

/// Forward and backward of one optimizer step made of `batches` (micro-batches in order) through
/// the cached-embedding path; gradients accumulate into the objective's parameters, scaled by
/// `scale`. make_ctx(i) gives the StepContext of micro-batch i. Returns the loss of the whole
/// batch (not scaled); when it is not finite nothing is backpropagated.
template <class O, class Batch, class MakeContext>
requires BatchCoupledObjective<O, Batch>
double cached_embedding_backward(O& objective, const std::vector<Batch>& batches,
                                 MakeContext&& make_ctx, double scale = 1.0) {
  using T = nn::param_type_t<O>;
  const std::size_t n = batches.size();
  std::vector<Var<T, 2>> leaves;
  std::vector<std::uint64_t> rng_at(n), default_at(n);
  leaves.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    StepContext ctx = make_ctx(i);
    rng_at[i] = ctx.generator().offset();
    default_at[i] = default_generator().offset();
    NoGrad no_grad;
    leaves.emplace_back(objective.embed(batches[i], ctx).data(), true);
  }
  StepContext whole = make_ctx(0);
  const std::uint64_t rng_end = whole.generator().offset();
  const std::uint64_t default_end = default_generator().offset();
  Var<T, 0> loss = objective.loss_from_embeddings(leaves, whole);
  const double value = static_cast<double>(loss.item());
  if (!std::isfinite(value)) return value;
  if (scale != 1.0) loss = loss * static_cast<T>(scale);
  loss.backward();
  for (std::size_t i = 0; i < n; ++i) {
    StepContext ctx = make_ctx(i);
    ctx.generator().set_offset(rng_at[i]);
    default_generator().set_offset(default_at[i]);
    StepMetrics* metrics = ctx.metrics;
    ctx.metrics = nullptr;  // the first pass reported this micro-batch already
    const Var<T, 2> z = objective.embed(batches[i], ctx);
    ctx.metrics = metrics;
    z.backward(leaves[i].grad());
  }
  whole.generator().set_offset(rng_end);
  default_generator().set_offset(default_end);
  return value;
}

}  // namespace pretext::train
