// SPDX-License-Identifier: Apache-2.0
// Heads made of layers:
//   MLP             fc1 (In -> Hidden), activation, fc2 (Hidden -> Out) - timm's Mlp names.
//   ProjectionHead  fc1, bn1 (BatchNorm), ReLU, fc2 - the projector of SimCLR and the predictor
//                   of BYOL / SimSiam.
#pragma once

#include "pretext/nn/linear.hpp"
#include "pretext/nn/norm.hpp"

namespace pretext::nn {

template <index_t In, index_t Hidden, index_t Out, floating T = float>
class MLP : public Module<MLP<In, Hidden, Out, T>> {
 public:
  using value_type = T;
  static constexpr index_t in_width = In;
  static constexpr index_t out_width = Out;

  MLP(index_t in, index_t hidden, index_t out, Generator& g,
      cpu::Activation act = cpu::Activation::gelu)
      : fc1(in, hidden, g), fc2(hidden, out, g), act(act) {}
  explicit MLP(Generator& g, cpu::Activation act = cpu::Activation::gelu) requires(
      In != dynamic && Hidden != dynamic && Out != dynamic)
      : MLP(In, Hidden, Out, g, act) {}

  template <class V>
  void visit(V& v) {
    v.module("fc1", fc1);
    v.module("fc2", fc2);
  }
  template <int R>
  Var<T, R> operator()(const Var<T, R>& x) const {
    return fc2(fc1(x, act));
  }

  Linear<In, Hidden, T> fc1;
  Linear<Hidden, Out, T> fc2;
  cpu::Activation act;
};

template <index_t In, index_t Hidden, index_t Out, floating T = float>
class ProjectionHead : public Module<ProjectionHead<In, Hidden, Out, T>> {
 public:
  using value_type = T;
  static constexpr index_t in_width = In;
  static constexpr index_t out_width = Out;

  ProjectionHead(index_t in, index_t hidden, index_t out, Generator& g)
      : fc1(in, hidden, g, /*bias=*/false), bn1(hidden), fc2(hidden, out, g) {}
  explicit ProjectionHead(Generator& g) requires(In != dynamic && Hidden != dynamic &&
                                                 Out != dynamic)
      : ProjectionHead(In, Hidden, Out, g) {}

  template <class V>
  void visit(V& v) {
    v.module("fc1", fc1);
    v.module("bn1", bn1);
    v.module("fc2", fc2);
  }
  /// x (B, In) -> (B, Out).
  Var<T, 2> operator()(const Var<T, 2>& x) const { return fc2(relu(bn1(fc1(x)))); }

  Linear<In, Hidden, T> fc1;
  BatchNorm<Hidden, T> bn1;
  Linear<Hidden, Out, T> fc2;
};

}  // namespace pretext::nn
