// SPDX-License-Identifier: Apache-2.0
// Loss functions on Vars, with PyTorch's definitions and defaults.
//
// The reduction is a tag, so the result's rank is known at compile time:
//   mse_loss(pred, target)                     -> Var<T, 0>, the mean
//   mse_loss(pred, target, reduction::sum)     -> Var<T, 0>
//   mse_loss(pred, target, reduction::none)    -> Var<T, R>, elementwise
#pragma once

#include <cstdint>
#include <type_traits>

#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/autograd/ops_rowwise.hpp"

namespace pretext {

namespace reduction {
struct mean_t {};
struct sum_t {};
struct none_t {};
/// KL divergence only: the sum divided by the batch size (the mathematically right mean).
struct batchmean_t {};
inline constexpr mean_t mean{};
inline constexpr sum_t sum{};
inline constexpr none_t none{};
inline constexpr batchmean_t batchmean{};
}  // namespace reduction

template <class X>
concept reduction_tag = std::is_same_v<X, reduction::mean_t> ||
    std::is_same_v<X, reduction::sum_t> || std::is_same_v<X, reduction::none_t>;

namespace autograd::detail {

template <class Red, class T, int R>
auto reduce_loss(const Var<T, R>& per_element, Red) {
  if constexpr (std::is_same_v<Red, reduction::none_t>)
    return per_element;
  else if constexpr (std::is_same_v<Red, reduction::sum_t>)
    return pretext::sum(per_element);
  else
    return pretext::mean(per_element);
}

/// out = F(a, b) elementwise (same broadcast rules as add); da = sum_to(Ga(g, a, b)),
/// db = sum_to(Gb(g, a, b)). For losses whose formula is best written as one pointwise kernel.
template <class F, class Ga, class Gb, class T, int RA, int RB>
Var<T, std::max(RA, RB)> pointwise2(const char* name, const Var<T, RA>& a, const Var<T, RB>& b, F f,
                                    Ga ga, Gb gb) {
  constexpr int R = std::max(RA, RB);
  auto out = zip(a.data(), b.data(), f, name);
  auto sa = save(a.data());
  auto sb = save(b.data());
  return record(
      name, std::move(out),
      [=](const Tensor<T, R>& g, const std::array<bool, 2>& need) {
        Tensor<T, RA> da;
        Tensor<T, RB> db;
        const auto& x = sa.get(name);
        const auto& y = sb.get(name);
        if (need[0]) da = sum_to(zip3(g, x, y, ga, name), x.shape());
        if (need[1]) db = sum_to(zip3(g, x, y, gb, name), y.shape());
        return std::tuple(std::move(da), std::move(db));
      },
      a, b);
}

}  // namespace autograd::detail

// ---- regression -------------------------------------------------------------------------------

/// Mean squared error (pred - target)^2.
template <floating T, int R, var_or_tensor Target, reduction_tag Red = reduction::mean_t>
auto mse_loss(const Var<T, R>& pred, const Target& target, Red red = {}) {
  return autograd::detail::reduce_loss(square(sub(pred, target)), red);
}

/// Mean absolute error |pred - target|.
template <floating T, int R, var_or_tensor Target, reduction_tag Red = reduction::mean_t>
auto l1_loss(const Var<T, R>& pred, const Target& target, Red red = {}) {
  return autograd::detail::reduce_loss(abs(sub(pred, target)), red);
}

namespace autograd::detail {
template <class T>
struct SmoothL1 {
  T beta;
  template <class X>
  X operator()(const X& d) const {
    const X a = xsimd::abs(d), b = X(beta);
    return cpu::grad::where(a < b, X(T(0.5)) * d * d / b, a - X(T(0.5)) * b);
  }
};
template <class T>
struct SmoothL1Grad {
  T beta;
  template <class X>
  X operator()(const X& g, const X& d) const {
    const X b = X(beta), zero = X(T(0));
    const X sign = cpu::grad::where(d > zero, X(T(1)), cpu::grad::where(d < zero, X(T(-1)), zero));
    return g * cpu::grad::where(xsimd::abs(d) < b, d / b, sign);
  }
};
}  // namespace autograd::detail

/// Huber-like loss: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = pred - target).
/// beta = 0 is the L1 loss.
template <floating T, int R, var_or_tensor Target, reduction_tag Red = reduction::mean_t>
auto smooth_l1_loss(const Var<T, R>& pred, const Target& target,
                    std::type_identity_t<T> beta = T(1), Red red = {}) {
  PRETEXT_CHECK(beta >= 0, config_error, "pretext::smooth_l1_loss: beta ", beta,
                " must not be negative");
  const auto d = sub(pred, target);
  if (beta == T(0)) return autograd::detail::reduce_loss(abs(d), red);
  return autograd::detail::reduce_loss(
      autograd::detail::unary<false>("smooth_l1_loss", d, autograd::detail::SmoothL1<T>{beta},
                                     autograd::detail::SmoothL1Grad<T>{beta}),
      red);
}

// ---- classification ---------------------------------------------------------------------------

namespace autograd::detail {
/// Per-row cross-entropy (N) of logits (N, C) against class indices (checked by the caller,
/// and not modified afterwards: the backward reads them). Fused: the forward keeps only each
/// row's log-sum-exp, the backward recomputes the softmax from the saved logits, so no (N, C)
/// log-probabilities or one-hot weights are made.
template <floating T>
Var<T, 1> cross_entropy_rows(const Var<T, 2>& logits, const Tensor<std::int64_t, 1>& target, T eps,
                             std::int64_t ignore) {
  const index_t N = logits.size(0), C = logits.size(1);
  const Tensor<T, 2> x = logits.data().contiguous();
  Tensor<T, 1> loss(Shape<1>{N}), lse(Shape<1>{N});
  cpu::cross_entropy_rows(x.data(), target.data(), loss.data(), lse.data(), N, C, eps, ignore);
  auto sx = save(x);
  return record(
      "cross_entropy", std::move(loss),
      [sx, lse, target, eps, ignore](const Tensor<T, 1>& g, const auto&) {
        const auto& xs = sx.get("cross_entropy");
        const Tensor<T, 1> gc = g.contiguous();
        Tensor<T, 2> dx(xs.shape());
        cpu::cross_entropy_rows_backward(xs.data(), target.data(), lse.data(), gc.data(), dx.data(),
                                         xs.size(0), xs.size(1), eps, ignore);
        return dx;
      },
      logits);
}
}  // namespace autograd::detail

/// Options of cross_entropy (PyTorch's defaults).
struct CrossEntropyOptions {
  std::int64_t ignore_index = -100;  ///< targets equal to it add nothing and are not counted
  double label_smoothing = 0;        ///< in [0, 1]: mixes the one-hot target with uniform 1/C
};

/// Cross-entropy of logits (N, C) against class indices (N), through a stable log-sum-exp (one
/// fused op: cross_entropy_rows above). With mean reduction, divides by the number of targets
/// that are not ignore_index.
template <floating T, reduction_tag Red = reduction::mean_t>
auto cross_entropy(const Var<T, 2>& logits, const Tensor<std::int64_t, 1>& target,
                   CrossEntropyOptions opt = {}, Red = {}) {
  const index_t N = logits.size(0), C = logits.size(1);
  PRETEXT_CHECK(target.size(0) == N, shape_error, "pretext::cross_entropy: logits are ",
                detail::shape_string(logits.shape()), " but targets are ",
                detail::shape_string(target.shape()), "; give one class index per row");
  PRETEXT_CHECK(opt.label_smoothing >= 0 && opt.label_smoothing <= 1, config_error,
                "pretext::cross_entropy: label_smoothing ", opt.label_smoothing,
                " must be in [0, 1]");
  index_t counted = 0;
  for (index_t i = 0; i < N; ++i) {
    const std::int64_t y = target(i);
    if (y == opt.ignore_index) continue;
    PRETEXT_CHECK(y >= 0 && y < C, index_error, "pretext::cross_entropy: target ", y, " of row ", i,
                  " is not a class index in [0, ", C, ") nor ignore_index (", opt.ignore_index,
                  ")");
    ++counted;
  }
  const auto per_row = autograd::detail::cross_entropy_rows(
      logits, target.clone(), static_cast<T>(opt.label_smoothing), opt.ignore_index);  // (N)
  if constexpr (std::is_same_v<Red, reduction::none_t>)
    return per_row;
  else if constexpr (std::is_same_v<Red, reduction::sum_t>)
    return sum(per_row);
  else
    return mul(sum(per_row), T(1) / static_cast<T>(counted));  // NaN when all are ignored
}

/// Cross-entropy of logits (N, C) against class probabilities (N, C) (soft targets).
template <floating T, var_or_tensor Target, reduction_tag Red = reduction::mean_t>
auto cross_entropy(const Var<T, 2>& logits, const Target& probs, Red red = {}) {
  static_assert(Target::rank == 2, "pretext::cross_entropy: soft targets must be (N, C)");
  PRETEXT_CHECK(probs.shape() == logits.shape(), shape_error, "pretext::cross_entropy: logits are ",
                detail::shape_string(logits.shape()), " but target probabilities are ",
                detail::shape_string(probs.shape()));
  return autograd::detail::reduce_loss(neg(sum(mul(log_softmax(logits, 1), probs), 1)), red);
}

namespace autograd::detail {
/// max(x, 0) - x y + log(1 + exp(-|x|)): BCE on logits without overflow.
struct BceLogits {
  template <class X>
  X operator()(const X& x, const X& y) const {
    const X zero = cpu::detail::splat<X>(0.0);
    return cpu::grad::where(x > zero, x, zero) - x * y + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
  }
};
struct BceLogitsGradX {
  template <class X>
  X operator()(const X& g, const X& x, const X& y) const {
    return g * (cpu::Sigmoid{}(x)-y);
  }
};
struct BceLogitsGradY {
  template <class X>
  X operator()(const X& g, const X& x, const X&) const {
    return -g * x;
  }
};
}  // namespace autograd::detail

/// Binary cross-entropy of logits x against targets y in [0, 1], stable for any |x|.
template <floating T, int R, var_or_tensor Target, reduction_tag Red = reduction::mean_t>
auto binary_cross_entropy_with_logits(const Var<T, R>& logits, const Target& target, Red red = {}) {
  PRETEXT_CHECK(target.shape() == logits.shape(), shape_error,
                "pretext::binary_cross_entropy_with_logits: logits are ",
                detail::shape_string(logits.shape()), " but targets are ",
                detail::shape_string(target.shape()), "; they must match");
  return autograd::detail::reduce_loss(
      autograd::detail::pointwise2("binary_cross_entropy_with_logits", logits,
                                   autograd::detail::as_var(target), autograd::detail::BceLogits{},
                                   autograd::detail::BceLogitsGradX{},
                                   autograd::detail::BceLogitsGradY{}),
      red);
}

// ---- similarity and divergence ----------------------------------------------------------------

/// Cosine similarity along axis: sum(a_n b_n) with a_n = a / max(||a||, eps) (PyTorch 1.13's
/// formula). a and b broadcast; the axis is removed. Non-negative axes count in each input,
/// so give a negative axis when the ranks differ.
template <floating T, int RA, int RB>
auto cosine_similarity(const Var<T, RA>& a, const Var<T, RB>& b, int axis = -1,
                       std::type_identity_t<T> eps = T(1e-8)) {
  const auto an = div(a, maximum(norm(a, axis, keepdim), eps));
  const auto bn = div(b, maximum(norm(b, axis, keepdim), eps));
  return sum(mul(an, bn), axis);  // axis counts in the broadcast result's rank
}

namespace autograd::detail {
/// t (log t - x), 0 where t = 0; with log targets exp(t) (t - x).
template <bool LogTarget>
struct KlPointwise {
  template <class X>
  X operator()(const X& x, const X& t) const {
    const X zero = cpu::detail::splat<X>(0.0);
    if constexpr (LogTarget)
      return xsimd::exp(t) * (t - x);
    else
      return cpu::grad::where(t > zero, t * (xsimd::log(t) - x), zero);
  }
};
template <bool LogTarget>
struct KlGradX {
  template <class X>
  X operator()(const X& g, const X&, const X& t) const {
    if constexpr (LogTarget)
      return -g * xsimd::exp(t);
    else
      return -g * t;
  }
};
template <bool LogTarget>
struct KlGradT {
  template <class X>
  X operator()(const X& g, const X& x, const X& t) const {
    const X zero = cpu::detail::splat<X>(0.0), one = cpu::detail::splat<X>(1.0);
    if constexpr (LogTarget)
      return g * xsimd::exp(t) * (t - x + one);
    else
      return cpu::grad::where(t > zero, g * (xsimd::log(t) + one - x), zero);
  }
};
}  // namespace autograd::detail

/// KL divergence KL(target || exp(input)) with input holding log-probabilities, as
/// torch.nn.functional.kl_div: pointwise t (log t - input). Reductions: mean (PyTorch's default:
/// over all elements), batchmean (over the first axis: the true KL per sample), sum, none.
template <floating T, int R, var_or_tensor Target, class Red = reduction::mean_t>
auto kl_div(const Var<T, R>& input, const Target& target, Red red = {}, bool log_target = false) {
  PRETEXT_CHECK(target.shape() == input.shape(), shape_error, "pretext::kl_div: input is ",
                detail::shape_string(input.shape()), " but target is ",
                detail::shape_string(target.shape()), "; they must match");
  const auto t = autograd::detail::as_var(target);
  auto per = log_target
                 ? autograd::detail::pointwise2(
                       "kl_div", input, t, autograd::detail::KlPointwise<true>{},
                       autograd::detail::KlGradX<true>{}, autograd::detail::KlGradT<true>{})
                 : autograd::detail::pointwise2(
                       "kl_div", input, t, autograd::detail::KlPointwise<false>{},
                       autograd::detail::KlGradX<false>{}, autograd::detail::KlGradT<false>{});
  if constexpr (std::is_same_v<Red, reduction::batchmean_t>) {
    static_assert(R >= 1, "pretext::kl_div: batchmean needs a batch axis");
    return mul(sum(per), T(1) / static_cast<T>(input.size(0)));
  } else {
    static_assert(reduction_tag<Red>,
                  "pretext::kl_div: reduction must be mean, sum, none or batchmean");
    return autograd::detail::reduce_loss(per, red);
  }
}

}  // namespace pretext
