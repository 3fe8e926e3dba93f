// SPDX-License-Identifier: Apache-2.0
// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_: every gradient is
// multiplied by min(1, max_norm / (norm + 1e-6)). Returns the norm before clipping (in double),
// which is worth logging; a non-finite norm is returned as is and nothing is scaled.
#pragma once

#include "pretext/nn/module.hpp"

#include <cmath>
#include <vector>

namespace pretext::optim {

/// The global L2 norm of the gradients (undefined ones count as zero), in double.
template <floating T>
double grad_norm(const std::vector<nn::ParamRef<T>>& params) {
  double sq = 0;
  for (const auto& p : params) {
    const Tensor<T, 1> g = p.grad();
    if (!g.defined()) continue;
    for (index_t i = 0; i < g.numel(); ++i) sq += static_cast<double>(g.data()[i]) * g.data()[i];
  }
  return std::sqrt(sq);
}

template <floating T>
double clip_grad_norm_(const std::vector<nn::ParamRef<T>>& params, double max_norm) {
  PRETEXT_CHECK(max_norm > 0, config_error, "pretext::optim::clip_grad_norm_: max_norm ", max_norm,
                " must be positive");
  const double norm = grad_norm(params);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (const auto& p : params) {
      const Tensor<T, 1> g = p.grad();
      if (!g.defined()) continue;
      T* d = g.data();
      for (index_t i = 0; i < g.numel(); ++i) d[i] = static_cast<T>(d[i] * coef);
      g.bump_version();
    }
  return norm;
}

}  // namespace pretext::optim
