// SPDX-License-Identifier: Apache-2.0
// Dropout(p): in training, zeroes each element with probability p and scales the rest by
// 1 / (1 - p) (inverted dropout, as torch.nn.Dropout); in evaluation, the identity. The mask comes
// from a Generator (the default one unless given), so a seed fixes it.
#pragma once

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/core/random.hpp"
#include "pretext/nn/module.hpp"

namespace pretext::nn {

class Dropout : public Stateless<Dropout> {
 public:
  explicit Dropout(double p = 0.5, Generator* g = nullptr) : p_(p), g_(g) {
    PRETEXT_CHECK(p >= 0 && p < 1, config_error, "pretext::nn::Dropout: p ", p,
                  " must be in [0, 1)");
  }

  template <floating T, int R>
  Var<T, R> operator()(const Var<T, R>& x) const {
    if (!this->is_training() || p_ == 0) return x;
    Tensor<T, R> mask(x.shape());
    bernoulli_(mask, g_ ? *g_ : default_generator(), 1.0 - p_);
    return mul(x, pretext::mul(mask, static_cast<T>(1.0 / (1.0 - p_))));  // mask: a constant
  }

  double p() const noexcept { return p_; }

 private:
  double p_;
  Generator* g_;
};

}  // namespace pretext::nn
