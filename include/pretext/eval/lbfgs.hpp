// SPDX-License-Identifier: Apache-2.0
// L-BFGS: unconstrained minimisation of a smooth function f: R^n -> R given f and its gradient,
// with a line search that satisfies the strong Wolfe conditions. The linear probe fits its
// logistic regression with it; it is small and general enough for any smooth convex problem.
//
//   x (n) in/out, g (n); history m pairs (s, y) of n doubles each: memory (2m + 6) n doubles.
//
// Follows Nocedal & Wright, Numerical Optimization (2nd ed.): two-loop recursion (Alg. 7.4) with
// the initial scaling gamma = s'y / y'y (eq. 7.20), line search Alg. 3.5 / zoom Alg. 3.6 with
// safeguarded cubic interpolation (eq. 3.59). Parameters are double whatever precision f
// computes in: the update arithmetic costs O(m n), nothing next to an f over a data set.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "pretext/core/error.hpp"

namespace pretext::eval {

struct LbfgsOptions {
  int max_iter = 200;       ///< iterations (one line search each)
  int history = 10;         ///< m: (s, y) pairs kept
  double gtol = 1e-5;       ///< stop when max_i |g_i| <= gtol
  double ftol = 1e-12;      ///< stop when f_prev - f <= ftol * max(|f_prev|, |f|, 1)
  int max_linesearch = 30;  ///< function evaluations per line search
  double c1 = 1e-4;         ///< sufficient decrease (Armijo) constant
  double c2 = 0.9;          ///< curvature constant (0.9: the usual choice for quasi-Newton)
  /// Relative error of f's values: a step whose f is within fepsilon |f| of the current value
  /// may also be accepted on the derivative alone (Hager & Zhang's approximate Wolfe
  /// conditions). Without it, x cannot get closer to the minimiser than about sqrt(rounding)
  /// of f, since decreases below f's rounding are invisible. About 1e-10 for f computed in
  /// double, 1e-6 in float.
  double fepsilon = 1e-10;
};

/// Why lbfgs_minimize stopped.
enum class LbfgsStop {
  gradient,     ///< max |g_i| <= gtol: converged
  function,     ///< the decrease of f fell below ftol: converged as far as f can tell
  max_iter,     ///< ran out of iterations
  line_search,  ///< no step decreased f, even along -g (f too noisy at this precision, or not
                ///< smooth); x is the best point found
};

struct LbfgsResult {
  double f = 0;         ///< f at the returned x
  double grad_inf = 0;  ///< max_i |g_i| there
  int iterations = 0;
  int evaluations = 0;  ///< calls of f
  LbfgsStop stop = LbfgsStop::max_iter;
  bool converged() const noexcept {
    return stop == LbfgsStop::gradient || stop == LbfgsStop::function;
  }
};

namespace detail {

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

inline double inf_norm(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

/// Minimiser of the cubic through (a, fa, da) and (b, fb, db) (N&W eq. 3.59), or NaN when the
/// cubic has none (the caller then bisects).
inline double cubic_minimizer(double a, double fa, double da, double b, double fb, double db) {
  const double d1 = da + db - 3 * (fa - fb) / (a - b);
  const double disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return std::nan("");
  const double d2 = std::copysign(std::sqrt(disc), b - a);
  const double den = db - da + 2 * d2;
  if (den == 0) return std::nan("");
  return b - (b - a) * (db + d2 - d1) / den;
}

}  // namespace detail

/// Minimises f from the starting point x, which is overwritten with the best point found.
///
/// fg(const std::vector<double>& x, std::vector<double>& g) -> double returns f(x) and writes
/// the gradient into g (already sized n). Throws numeric_error when f or its gradient is not
/// finite at the starting point; later non-finite values make the line search step back.
template <class F>
LbfgsResult lbfgs_minimize(F&& fg, std::vector<double>& x, const LbfgsOptions& opt = {}) {
  PRETEXT_CHECK(opt.history >= 1 && opt.max_iter >= 0 && opt.max_linesearch >= 1, config_error,
                "pretext::eval::lbfgs_minimize: history (", opt.history, ") and max_linesearch (",
                opt.max_linesearch, ") must be >= 1 and max_iter (", opt.max_iter, ") >= 0");
  PRETEXT_CHECK(0 < opt.c1 && opt.c1 < opt.c2 && opt.c2 < 1, config_error,
                "pretext::eval::lbfgs_minimize: the Wolfe constants need 0 < c1 < c2 < 1; got c1 ",
                opt.c1, ", c2 ", opt.c2);
  const std::size_t n = x.size();
  const auto m = static_cast<std::size_t>(opt.history);
  LbfgsResult res;
  std::vector<double> g(n), d(n), xt(n), gt(n), xlo(n), glo(n);
  auto eval = [&](const std::vector<double>& at, std::vector<double>& grad) {
    ++res.evaluations;
    return static_cast<double>(fg(at, grad));
  };
  double f = eval(x, g);
  PRETEXT_CHECK(std::isfinite(f) && std::isfinite(detail::inf_norm(g)), numeric_error,
                "pretext::eval::lbfgs_minimize: f or its gradient is not finite at the starting "
                "point (f = ",
                f, "); start from finite parameters and check the inputs for NaN");
  res.f = f;
  res.grad_inf = detail::inf_norm(g);
  if (res.grad_inf <= opt.gtol) {
    res.stop = LbfgsStop::gradient;
    return res;
  }

  // Ring buffer of the last m pairs; slot (head + i) % m for i in [0, count) is oldest first.
  std::vector<std::vector<double>> S(m, std::vector<double>(n)), Y(m, std::vector<double>(n));
  std::vector<double> rho(m), alpha(m);
  std::size_t head = 0, count = 0;

  while (res.iterations < opt.max_iter) {
    // d = -H g by the two-loop recursion; H0 = gamma I with gamma from the newest pair.
    d = g;
    for (std::size_t i = count; i-- > 0;) {
      const std::size_t k = (head + i) % m;
      alpha[k] = rho[k] * detail::dot(S[k], d);
      for (std::size_t j = 0; j < n; ++j) d[j] -= alpha[k] * Y[k][j];
    }
    if (count > 0) {
      const std::size_t k = (head + count - 1) % m;
      const double gamma = detail::dot(S[k], Y[k]) / detail::dot(Y[k], Y[k]);
      for (auto& v : d) v *= gamma;
    }
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t k = (head + i) % m;
      const double beta = rho[k] * detail::dot(Y[k], d);
      for (std::size_t j = 0; j < n; ++j) d[j] += S[k][j] * (alpha[k] - beta);
    }
    for (auto& v : d) v = -v;
    double dphi0 = detail::dot(g, d);
    if (!(dphi0 < 0) || !std::isfinite(dphi0)) {
      // Rounding made the quasi-Newton direction useless: forget the curvature pairs.
      count = 0;
      for (std::size_t j = 0; j < n; ++j) d[j] = -g[j];
      dphi0 = detail::dot(g, d);
    }
    // Without curvature information the first trial step moves x by at most 1 in 2-norm.
    const double a_init = count == 0 ? std::min(1.0, 1.0 / std::sqrt(-dphi0)) : 1.0;

    // ---- line search (strong Wolfe) ----
    int evals = 0;
    double a = a_init;
    auto eval_at = [&](double step, double& dphi) {
      for (std::size_t j = 0; j < n; ++j) xt[j] = x[j] + step * d[j];
      ++evals;
      const double ft = eval(xt, gt);
      dphi = detail::dot(gt, d);
      return ft;
    };
    // lo: the best step so far that satisfies sufficient decrease (0 = x itself).
    double a_lo = 0, f_lo = f, dphi_lo = dphi0;
    bool lo_moved = false;
    auto set_lo = [&](double step, double ft, double dphi) {
      a_lo = step, f_lo = ft, dphi_lo = dphi, lo_moved = true;
      xlo.swap(xt);
      glo.swap(gt);
    };
    bool accepted = false;  // the accepted point is in (xt, gt) with value f_acc
    double f_acc = 0;
    // Sufficient decrease: Armijo, or, when f cannot resolve the decrease any more, the
    // approximate form phi'(a) <= (2 c1 - 1) phi'(0) (exact for a quadratic) with f not
    // higher than its rounding.
    const double f_noise = opt.fepsilon * std::abs(f);
    auto armijo = [&](double step, double ft, double dphi) {
      return ft <= f + opt.c1 * step * dphi0 ||
             (ft <= f + f_noise && dphi <= (2 * opt.c1 - 1) * dphi0);
    };
    // Zoom between a_lo (whose point is x or xlo) and hi_a, which bracket a Wolfe step.
    auto zoom = [&](double hi_a, double f_hi, double dphi_hi) {
      while (evals < opt.max_linesearch) {
        const double lo_b = std::min(a_lo, hi_a), hi_b = std::max(a_lo, hi_a);
        const double width = hi_b - lo_b;
        if (width <= 1e-16 * std::max(1.0, hi_b)) break;
        double t = std::isfinite(f_hi)
                       ? detail::cubic_minimizer(a_lo, f_lo, dphi_lo, hi_a, f_hi, dphi_hi)
                       : std::nan("");
        // Safeguard: stay well inside the bracket, else bisect.
        if (!(t >= lo_b + 0.1 * width && t <= hi_b - 0.1 * width)) t = 0.5 * (a_lo + hi_a);
        double dphi = 0;
        const double ft = eval_at(t, dphi);
        if (!std::isfinite(ft) || !armijo(t, ft, dphi) || ft > f_lo + f_noise) {
          hi_a = t, f_hi = ft, dphi_hi = dphi;
          continue;
        }
        if (std::abs(dphi) <= -opt.c2 * dphi0) {
          f_acc = ft;
          accepted = true;
          return;
        }
        if (dphi * (hi_a - a_lo) >= 0) hi_a = a_lo, f_hi = f_lo, dphi_hi = dphi_lo;
        set_lo(t, ft, dphi);
      }
    };
    double a_prev = 0, f_prev = f;
    while (!accepted && evals < opt.max_linesearch) {
      double dphi = 0;
      const double ft = eval_at(a, dphi);
      if (!std::isfinite(ft) || !armijo(a, ft, dphi) || (a_prev > 0 && ft > f_prev + f_noise)) {
        zoom(a, ft, dphi);
        break;
      }
      if (std::abs(dphi) <= -opt.c2 * dphi0) {
        f_acc = ft;
        accepted = true;
        break;
      }
      if (dphi >= 0) {
        // Past the minimiser along d: the bracket is [a, a_prev] with a as the lower point.
        const double hi = a_prev, fhi = f_prev;
        const double dhi = dphi_lo;  // the derivative at a_prev (dphi0 when a_prev is 0)
        set_lo(a, ft, dphi);
        zoom(hi, fhi, dhi);
        break;
      }
      set_lo(a, ft, dphi);
      a_prev = a, f_prev = ft;
      a *= 2;  // still descending steeply: extrapolate
    }
    if (!accepted && lo_moved && f_lo <= f + f_noise) {
      // Out of evaluations: the best point with sufficient decrease is still progress.
      xt.swap(xlo);
      gt.swap(glo);
      f_acc = f_lo;
      accepted = true;
    }
    if (!accepted) {
      if (count > 0) {
        count = 0;  // retry along -g before giving up
        ++res.iterations;
        continue;
      }
      res.stop = LbfgsStop::line_search;
      break;
    }

    // ---- update: s = x_new - x, y = g_new - g (built in the free lo buffers first, so that a
    // rejected pair cannot overwrite the oldest one kept) ----
    for (std::size_t j = 0; j < n; ++j) {
      xlo[j] = xt[j] - x[j];
      glo[j] = gt[j] - g[j];
    }
    const double sy = detail::dot(xlo, glo), yy = detail::dot(glo, glo);
    // Keep the pair only with positive curvature (the Wolfe step guarantees it up to rounding),
    // so that H stays positive definite.
    if (sy > 1e-12 * yy && yy > 0) {
      const std::size_t k = (head + count) % m;
      S[k].swap(xlo);
      Y[k].swap(glo);
      rho[k] = 1 / sy;
      if (count < m)
        ++count;
      else
        head = (head + 1) % m;
    }
    x.swap(xt);
    g.swap(gt);
    const double f_old = f;
    f = f_acc;
    ++res.iterations;
    res.f = f;
    res.grad_inf = detail::inf_norm(g);
    if (res.grad_inf <= opt.gtol) {
      res.stop = LbfgsStop::gradient;
      return res;
    }
    // Only a step that f itself saw decrease can show that f stopped decreasing.
    if (f < f_old && f_old - f <= opt.ftol * std::max({std::abs(f_old), std::abs(f), 1.0})) {
      res.stop = LbfgsStop::function;
      return res;
    }
  }
  res.f = f;
  res.grad_inf = detail::inf_norm(g);
  if (res.stop != LbfgsStop::line_search) res.stop = LbfgsStop::max_iter;
  return res;
}

}  // namespace pretext::eval
