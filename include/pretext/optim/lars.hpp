// SPDX-License-Identifier: Apache-2.0
// LARS (You et al. 2017) in the form SimCLR, BYOL and Barlow Twins train with:
//   d = g + wd p;  for adapted parameters d *= trust (eta ||p|| / ||d||, or 1 when either norm
//   is 0);  buf = momentum buf + d;  p -= lr buf.
// Parameters with exclude_from_adaptation (biases and norm parameters; see decay_groups) get
// neither weight decay nor the trust ratio. torch has no LARS; the fixture script writes this
// same rule in torch to check the trajectory.
#pragma once

#include "pretext/optim/optimizer.hpp"

#include <cmath>

namespace pretext::optim {

struct LarsOptions {
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-6;
  double trust_coefficient = 0.001;  ///< eta
  bool exclude_from_adaptation = false;
};

template <floating T = float>
class LARS : public Optimizer<LARS<T>, T, LarsOptions, 1> {
  using Base = Optimizer<LARS<T>, T, LarsOptions, 1>;

 public:
  static constexpr std::array<const char*, 1> state_names{"momentum_buffer"};
  using Base::Base;

  static void check(const LarsOptions& o) {
    PRETEXT_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0 && o.trust_coefficient > 0,
                  config_error, "pretext::optim::LARS: lr ", o.lr, ", momentum ", o.momentum,
                  ", weight_decay ", o.weight_decay, " must not be negative and ",
                  "trust_coefficient ", o.trust_coefficient, " must be positive");
  }

  void update(const LarsOptions& o, const ParamRef<T>& p, Tensor<T, 1>* state, long, bool) {
    const Tensor<T, 1> w = p.data(), g = p.grad(), buf = state[0];
    const index_t n = w.numel();
    T* pw = w.data();
    const T* pg = g.data();
    T* pb = buf.data();
    const bool adapt = !o.exclude_from_adaptation;
    const T wd = adapt ? static_cast<T>(o.weight_decay) : T(0);
    T trust = 1;
    if (adapt) {
      double wn = 0, dn = 0;  // norms accumulate in double
      for (index_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(pg[i]) + static_cast<double>(wd) * pw[i];
        wn += static_cast<double>(pw[i]) * pw[i];
        dn += d * d;
      }
      if (wn > 0 && dn > 0) trust = static_cast<T>(o.trust_coefficient * std::sqrt(wn / dn));
    }
    const T mom = static_cast<T>(o.momentum), lr = static_cast<T>(o.lr);
    for (index_t i = 0; i < n; ++i) {
      const T d = (pg[i] + wd * pw[i]) * trust;
      pb[i] = mom * pb[i] + d;
      pw[i] -= lr * pb[i];
    }
  }
};

}  // namespace pretext::optim
