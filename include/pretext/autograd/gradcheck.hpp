// SPDX-License-Identifier: Apache-2.0
// gradcheck: compares the gradients backward() computes with central finite differences.
//
//   auto report = pretext::gradcheck(
//       [](const Var<double, 2>& a, const Var<double, 1>& b) { return my_op(a, b); },
//       std::tuple{a, b});                       // leaves with requires_grad = true
//   if (!report) std::puts(report.message.c_str());
//
// The output is projected on a fixed random direction u (s = sum(f(x) * u), as PyTorch's fast
// mode), so one backward pass gives every analytic derivative ds/dx_j and two evaluations per
// input element give the numeric one, (s(x + eps e_j) - s(x - eps e_j)) / (2 eps). Run it in
// double: in float the finite differences drown in rounding.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/core/random.hpp"

namespace pretext {

struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< an element passes when |analytic - numeric| <= atol + rtol |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 0;  ///< of the projection direction
};

/// The outcome of gradcheck: ok, and the worst element (largest error relative to its
/// tolerance) with both derivatives.
struct GradcheckReport {
  bool ok = true;
  int input = -1;        ///< which input holds the worst element (-1: none checked)
  index_t element = -1;  ///< its flat (row-major) index
  double analytic = 0;   ///< ds/dx from backward
  double numeric = 0;    ///< ds/dx from central differences
  double error = 0;      ///< |analytic - numeric|
  double tolerance = 0;  ///< atol + rtol |numeric|
  index_t checked = 0;   ///< elements compared
  std::string message;   ///< a sentence saying all of the above
  explicit operator bool() const noexcept { return ok; }
};

namespace autograd::detail {

/// Offset of the flat row-major index i in a strided tensor.
template <class T, int R>
index_t offset_of_flat(const Tensor<T, R>& t, index_t i) {
  index_t off = 0;
  for (int a = R - 1; a >= 0; --a) {
    const auto u = static_cast<std::size_t>(a);
    off += (i % t.shape()[u]) * t.strides()[u];
    i /= t.shape()[u];
  }
  return off;
}

}  // namespace autograd::detail

/// Checks f's gradients with respect to every input that requires grad. f takes the inputs (as
/// Vars of double) and returns a Var of any rank.
template <class F, class... Inputs>
GradcheckReport gradcheck(F&& f, const std::tuple<Inputs...>& inputs,
                          const GradcheckOptions& opt = {}) {
  static_assert((var_like<Inputs> && ...), "pretext::gradcheck: the inputs must be Vars");
  static_assert((std::is_same_v<typename Inputs::value_type, double> && ...),
                "pretext::gradcheck: use double inputs; finite differences in float are "
                "dominated by rounding");
  GradcheckReport rep;
  auto evaluate = [&] { return std::apply(f, inputs); };
  using Out = decltype(evaluate());
  static_assert(var_like<Out>, "pretext::gradcheck: f must return a Var");

  // Analytic: one backward of s = sum(f(x) * u).
  std::apply([](const auto&... x) { (x.zero_grad(), ...); }, inputs);
  Out y = evaluate();
  Generator gen(opt.seed);
  Tensor<double, Out::rank> u(y.shape());
  normal_(u, gen);
  PRETEXT_CHECK(y.requires_grad(), error,
                "pretext::gradcheck: f's output does not require grad; give inputs with "
                "requires_grad = true and compute the output from them");
  sum(mul(y, u)).backward();

  auto projected = [&] {
    NoGrad guard;
    return pretext::sum(pretext::mul(evaluate().data(), u)).item();
  };

  double worst_ratio = -1;
  int index = 0;
  auto check_input = [&](const auto& x) {
    const int which = index++;
    if (!x.requires_grad()) return;
    const auto& data = x.data();
    const auto grad = x.grad();
    for (index_t i = 0; i < data.numel(); ++i) {
      double* p = data.data() + autograd::detail::offset_of_flat(data, i);
      const double keep = *p;
      *p = keep + opt.eps;
      const double up = projected();
      *p = keep - opt.eps;
      const double down = projected();
      *p = keep;
      const double numeric = (up - down) / (2 * opt.eps);
      const double analytic =
          grad.defined() ? grad.data()[autograd::detail::offset_of_flat(grad, i)] : 0.0;
      const double err = std::abs(analytic - numeric);
      const double tol = opt.atol + opt.rtol * std::abs(numeric);
      const double ratio = std::isnan(err) ? INFINITY : err / tol;
      ++rep.checked;
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        rep.input = which;
        rep.element = i;
        rep.analytic = analytic;
        rep.numeric = numeric;
        rep.error = err;
        rep.tolerance = tol;
      }
    }
  };
  std::apply([&](const auto&... x) { (check_input(x), ...); }, inputs);
  std::apply([](const auto&... x) { (x.zero_grad(), ...); }, inputs);

  rep.ok = rep.checked > 0 && worst_ratio <= 1.0;
  std::ostringstream os;
  os.precision(10);
  if (rep.checked == 0) {
    os << "gradcheck: no input requires grad; nothing was checked";
  } else {
    os << "gradcheck " << (rep.ok ? "passed" : "FAILED") << " over " << rep.checked
       << " elements; worst: input " << rep.input << ", element " << rep.element << ": analytic "
       << rep.analytic << ", numeric " << rep.numeric << ", |difference| " << rep.error
       << (rep.ok ? " <= " : " > ") << "tolerance " << rep.tolerance << " (atol " << opt.atol
       << " + rtol " << opt.rtol << " * |numeric|, eps " << opt.eps << ")";
  }
  rep.message = os.str();
  return rep;
}

}  // namespace pretext
