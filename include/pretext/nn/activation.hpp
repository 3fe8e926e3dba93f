// SPDX-License-Identifier: Apache-2.0
// Activations and shape adapters as modules, so they sit in a Sequential. They own nothing and
// keep the width (Flatten makes it dynamic); any element type and rank.
#pragma once

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/module.hpp"

namespace pretext::nn {

#define PRETEXT_NN_ACTIVATION(Name, fn)              \
  struct Name : Stateless<Name> {                    \
    template <floating T, int R>                     \
    Var<T, R> operator()(const Var<T, R>& x) const { \
      return pretext::fn(x);                         \
    }                                                \
  };

/// ReLU can also run inside the epilogue of the Linear before it: Sequential passes
/// `epilogue` to such a Linear and skips this layer (one pass over the activations less). The
/// fused Linear then saves its output, not its input, for the backward pass. A class derived
/// from ReLU names ReLU in `fused_in_epilogue`, so its own call operator is never skipped.
struct ReLU : Stateless<ReLU> {
  using fused_in_epilogue = ReLU;
  static constexpr cpu::Activation epilogue = cpu::Activation::relu;
  template <floating T, int R>
  Var<T, R> operator()(const Var<T, R>& x) const {
    return pretext::relu(x);
  }
};
PRETEXT_NN_ACTIVATION(GELU, gelu)           // exact (erf) form, torch.nn.GELU()
PRETEXT_NN_ACTIVATION(GELUTanh, gelu_tanh)  // torch.nn.GELU(approximate="tanh")
PRETEXT_NN_ACTIVATION(SiLU, silu)
PRETEXT_NN_ACTIVATION(Tanh, tanh)
PRETEXT_NN_ACTIVATION(Sigmoid, sigmoid)
#undef PRETEXT_NN_ACTIVATION

/// Passes its input through.
struct Identity : Stateless<Identity> {
  template <floating T, int R>
  Var<T, R> operator()(const Var<T, R>& x) const {
    return x;
  }
};

/// (B, d1, d2, ...) -> (B, d1 * d2 * ...), as torch.nn.Flatten().
struct Flatten : Stateless<Flatten> {
  static constexpr index_t out_width = dynamic;
  template <floating T, int R>
  Var<T, 2> operator()(const Var<T, R>& x) const requires(R >= 2) {
    index_t features = 1;
    for (int i = 1; i < R; ++i) features *= x.size(i);
    return reshape(x, std::array<index_t, 2>{x.size(0), features});
  }
};

}  // namespace pretext::nn
