// SPDX-License-Identifier: Apache-2.0
// Fused optimizer and EMA updates against step-by-step references.
#include "reference.hpp"

using namespace pretext;

TEST_CASE_TEMPLATE("axpy_ and lerp_", T, float, double) {
  auto x = test::randn<T>({1001}, 1), y = test::randn<T>({1001}, 2);
  auto y0 = y.clone();
  axpy_(y, T(0.5), x);
  std::vector<double> ref;
  for (index_t i = 0; i < 1001; ++i) ref.push_back(test::elem(y0, i) + 0.5 * test::elem(x, i));
  test::check_close(y, ref, test::tol<T>());
  auto a = y0.clone();
  lerp_(a, x, T(0));  // momentum 1: nothing changes
  CHECK(a.to_vector() == y0.to_vector());
  lerp_(a, x, T(1));
  CHECK(a.to_vector() == x.to_vector());
  CHECK_THROWS_AS(axpy_(y, T(1), test::randn<T>({1000})), shape_error);
  auto m = zeros<T>({4, 4});
  CHECK_THROWS_AS(lerp_(m.t(), zeros<T>({4, 4}), T(0.5)), shape_error);
}

TEST_CASE_TEMPLATE("adamw_step_ follows torch.optim.AdamW's arithmetic", T, float, double) {
  auto p = test::randn<T>({37}, 1);
  auto m = zeros<T>({37}), v = zeros<T>({37});
  std::vector<double> rp(p.data(), p.data() + 37), rm(37, 0), rv(37, 0);
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  for (long step = 1; step <= 3; ++step) {
    auto g = test::randn<T>({37}, 10 + static_cast<std::uint64_t>(step));
    adamw_step_(p, g, m, v, cpu::AdamWStep<T>{T(lr), T(b1), T(b2), T(eps), T(wd), step});
    for (std::size_t i = 0; i < 37; ++i) {
      const double gi = g.data()[i];
      rp[i] *= 1 - lr * wd;
      rm[i] = b1 * rm[i] + (1 - b1) * gi;
      rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
      const double mh = rm[i] / (1 - std::pow(b1, step)), vh = rv[i] / (1 - std::pow(b2, step));
      rp[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
  test::check_close(p, rp, std::is_same_v<T, float> ? 1e-5 : 1e-12);
}

TEST_CASE_TEMPLATE("sgd_step_ with momentum, dampening, Nesterov and weight decay", T, float,
                   double) {
  for (bool nesterov : {false, true}) {
    auto p = test::randn<T>({19}, 1);
    auto buf = zeros<T>({19});
    std::vector<double> rp(p.data(), p.data() + 19), rb(19, 0);
    const double lr = 0.1, mom = 0.9, damp = nesterov ? 0.0 : 0.2, wd = 0.01;
    for (int step = 0; step < 3; ++step) {
      auto g = test::randn<T>({19}, 5 + static_cast<std::uint64_t>(step));
      sgd_step_(p, g, buf, cpu::SgdStep<T>{T(lr), T(mom), T(damp), T(wd), nesterov, step == 0});
      for (std::size_t i = 0; i < 19; ++i) {
        double d = g.data()[i] + wd * rp[i];
        rb[i] = step == 0 ? d : mom * rb[i] + (1 - damp) * d;
        d = nesterov ? d + mom * rb[i] : rb[i];
        rp[i] -= lr * d;
      }
    }
    test::check_close(p, rp, std::is_same_v<T, float> ? 1e-5 : 1e-12);
  }
  auto p = zeros<T>({3});
  CHECK_THROWS_AS(sgd_step_(p, p, Tensor<T, 1>(), cpu::SgdStep<T>{T(1), T(0.9)}), config_error);
}
