// SPDX-License-Identifier: Apache-2.0
// Fused update kernels over contiguous (N) arrays: the one-pass forms optimizers and EMA
// teachers need, so a parameter update reads and writes each array once.
#pragma once

#include <cmath>

#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"

namespace pretext::cpu {

namespace detail {
// Runs body(i, batch-width) over [0, n) in SIMD steps and body(i, 1) on the tail, in parallel.
template <class T, class Vec, class Scalar>
void fused_loop(index_t n, const Vec& vec, const Scalar& scalar) {
  constexpr auto W = static_cast<index_t>(simd::width<T>);
  parallel_for(0, n, 1 << 14, [&](index_t lo, index_t hi) {
    index_t i = lo;
    for (; i + W <= hi; i += W) vec(i);
    for (; i < hi; ++i) scalar(i);
  });
}
}  // namespace detail

/// y += alpha * x.
template <class T>
void axpy(index_t n, T alpha, const T* x, T* y) {
  using B = simd::batch<T>;
  const B a(alpha);
  detail::fused_loop<T>(
      n,
      [&](index_t i) { simd::store(y + i, xsimd::fma(a, simd::load(x + i), simd::load(y + i))); },
      [&](index_t i) { y[i] += alpha * x[i]; });
}

/// a += w * (b - a): exponential moving average of b into a with weight w.
template <class T>
void lerp(index_t n, T* a, const T* b, T w) {
  using B = simd::batch<T>;
  // As torch.lerp: measured from the nearer end, so w = 0 and w = 1 return a and b exactly.
  if (w < T(0.5)) {
    const B bw(w);
    detail::fused_loop<T>(
        n,
        [&](index_t i) {
          const B av = simd::load(a + i);
          simd::store(a + i, xsimd::fma(bw, simd::load(b + i) - av, av));
        },
        [&](index_t i) { a[i] += w * (b[i] - a[i]); });
  } else {
    const B bw(T(1) - w);
    detail::fused_loop<T>(
        n,
        [&](index_t i) {
          const B bv = simd::load(b + i);
          simd::store(a + i, xsimd::fnma(bw, bv - simd::load(a + i), bv));
        },
        [&](index_t i) { a[i] = b[i] - (T(1) - w) * (b[i] - a[i]); });
  }
}

/// Hyper-parameters of one AdamW step (decoupled weight decay, Loshchilov & Hutter).
template <class T>
struct AdamWStep {
  T lr, beta1, beta2, eps, weight_decay;
  long step;  ///< 1-based step number, for bias correction
};

/// One AdamW update in one pass: m, v (moments) and p (parameters) updated from g (gradients),
/// the same arithmetic as torch.optim.AdamW (non-amsgrad, non-fused).
template <class T>
void adamw_step(index_t n, T* p, const T* g, T* m, T* v, const AdamWStep<T>& h) {
  using B = simd::batch<T>;
  const T bc1 = T(1) - std::pow(h.beta1, static_cast<T>(h.step));
  const T bc2 = T(1) - std::pow(h.beta2, static_cast<T>(h.step));
  const T step_size = h.lr / bc1, bc2_sqrt = std::sqrt(bc2), decay = T(1) - h.lr * h.weight_decay;
  const T b1 = h.beta1, b2 = h.beta2, eps = h.eps;
  detail::fused_loop<T>(
      n,
      [&](index_t i) {
        const B gv = simd::load(g + i);
        const B mv = B(b1) * simd::load(m + i) + B(T(1) - b1) * gv;
        const B vv = B(b2) * simd::load(v + i) + B(T(1) - b2) * gv * gv;
        simd::store(m + i, mv);
        simd::store(v + i, vv);
        const B denom = xsimd::sqrt(vv) / B(bc2_sqrt) + B(eps);
        simd::store(p + i, simd::load(p + i) * B(decay) - B(step_size) * mv / denom);
      },
      [&](index_t i) {
        const T gv = g[i];
        m[i] = b1 * m[i] + (T(1) - b1) * gv;
        v[i] = b2 * v[i] + (T(1) - b2) * gv * gv;
        const T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
        p[i] = p[i] * decay - step_size * m[i] / denom;
      });
}

/// Hyper-parameters of one SGD step, as torch.optim.SGD.
template <class T>
struct SgdStep {
  T lr, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first = false;  ///< first step: the momentum buffer starts as the gradient
};

/// One SGD update: g' = g + wd * p; buf = momentum * buf + (1 - dampening) * g' (or g' on the
/// first step); p -= lr * (nesterov ? g' + momentum * buf : buf). buf may be null when
/// momentum == 0.
template <class T>
void sgd_step(index_t n, T* p, const T* g, T* buf, const SgdStep<T>& h) {
  auto one = [&](auto pv, auto gv, auto bv) {
    using X = decltype(pv);
    X d = gv + X(h.weight_decay) * pv;
    if (h.momentum != T(0)) {
      bv = h.first ? d : X(h.momentum) * bv + X(T(1) - h.dampening) * d;
      d = h.nesterov ? d + X(h.momentum) * bv : bv;
    }
    return std::pair<X, X>(pv - X(h.lr) * d, bv);
  };
  detail::fused_loop<T>(
      n,
      [&](index_t i) {
        const auto bv = buf ? simd::load(buf + i) : simd::batch<T>(T(0));
        const auto [np, nb] = one(simd::load(p + i), simd::load(g + i), bv);
        simd::store(p + i, np);
        if (buf) simd::store(buf + i, nb);
      },
      [&](index_t i) {
        const auto [np, nb] = one(p[i], g[i], buf ? buf[i] : T(0));
        p[i] = np;
        if (buf) buf[i] = nb;
      });
}

}  // namespace pretext::cpu
