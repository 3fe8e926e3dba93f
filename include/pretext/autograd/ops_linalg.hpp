// SPDX-License-Identifier: Apache-2.0
// Differentiable matrix products: matmul (2-D, and batched 3-D with a broadcast batch of 1) and
// linear with bias and activation. Backward uses GEMMs on transposed views, no transposed copies:
//   C = A B        dA = dC B^T        dB = A^T dC
#pragma once

#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/ops/matmul.hpp"

namespace pretext {

/// (M, K) x (K, N) -> (M, N), or (B, M, K) x (B, K, N) -> (B, M, N) where either batch may be 1.
template <floating T, int R>
requires(R == 2 || R == 3) Var<T, R> matmul(const Var<T, R>& a, const Var<T, R>& b) {
  auto sa = autograd::detail::save(a.data()), sb = autograd::detail::save(b.data());
  return autograd::detail::record(
      "matmul", pretext::matmul(a.data(), b.data()),
      [sa, sb](const Tensor<T, R>& g, const std::array<bool, 2>& need) {
        const auto& x = sa.get("matmul");
        const auto& y = sb.get("matmul");
        Tensor<T, R> ga, gb;
        if constexpr (R == 2) {
          if (need[0]) ga = pretext::matmul(g, y.t());
          if (need[1]) gb = pretext::matmul(x.t(), g);
        } else {
          // A batch of 1 was broadcast: its gradient sums over the batch.
          if (need[0]) {
            ga = pretext::matmul(g, y.transpose(1, 2));
            if (x.size(0) == 1 && ga.size(0) != 1) ga = pretext::sum(ga, 0, keepdim);
          }
          if (need[1]) {
            gb = pretext::matmul(x.transpose(1, 2), g);
            if (y.size(0) == 1 && gb.size(0) != 1) gb = pretext::sum(gb, 0, keepdim);
          }
        }
        return std::tuple(std::move(ga), std::move(gb));
      },
      a, b);
}
template <floating T, int R>
requires(R == 2 || R == 3) Var<T, R> matmul(const Var<T, R>& a, const Tensor<T, R>& b) {
  return matmul(a, Var<T, R>(b));
}
template <floating T, int R>
requires(R == 2 || R == 3) Var<T, R> matmul(const Tensor<T, R>& a, const Var<T, R>& b) {
  return matmul(Var<T, R>(a), b);
}

namespace autograd::detail {

/// dz = g * act'(.) for the activations linear can fuse; `v` is z, or y for ReLU.
template <class T>
Tensor<T, 2> activation_grad(cpu::Activation act, const Tensor<T, 2>& g, const Tensor<T, 2>& v) {
  switch (act) {
    case cpu::Activation::relu:
      return zip(g, v, cpu::grad::ReluOfX{}, "linear");
    case cpu::Activation::gelu:
      return zip(g, v, cpu::grad::GeluOfX{}, "linear");
    case cpu::Activation::gelu_tanh:
      return zip(g, v, cpu::grad::GeluTanhOfX{}, "linear");
    case cpu::Activation::silu:
      return zip(g, v, cpu::grad::SiluOfX{}, "linear");
    case cpu::Activation::none:
      break;
  }
  return g;
}

template <class T>
Var<T, 2> linear_impl(const Var<T, 2>& x, const Var<T, 2>& w, const Var<T, 1>* b,
                      cpu::Activation act) {
  const Tensor<T, 1>* bias = b ? &b->data() : nullptr;
  // ReLU's derivative can be read off its output, so it stays fused; the smooth activations need
  // the pre-activation z, which the fused store does not keep.
  const bool fuse = act == cpu::Activation::none || act == cpu::Activation::relu;
  Tensor<T, 2> z = pretext::linear(x.data(), w.data(), bias, fuse ? act : cpu::Activation::none);
  Tensor<T, 2> y = z;
  if (!fuse) cpu::with_activation(act, [&](auto f) { y = map(z, f); });
  auto sx = save(x.data()), sw = save(w.data()),
       sv = save(act == cpu::Activation::none ? Tensor<T, 2>() : z);
  auto fn = [sx, sw, sv, act](const Tensor<T, 2>& g, const auto& need) {
    const Tensor<T, 2> dz =
        act == cpu::Activation::none ? g : activation_grad(act, g, sv.get("linear"));
    Tensor<T, 2> gx, gw;
    Tensor<T, 1> gb;
    if (need[0]) gx = pretext::matmul(dz, sw.get("linear"));      // (M, N)(N, K)
    if (need[1]) gw = pretext::matmul(dz.t(), sx.get("linear"));  // (N, M)(M, K)
    if constexpr (std::tuple_size_v<std::remove_cvref_t<decltype(need)>> == 3)
      if (need[2]) gb = pretext::sum(dz, 0);
    if constexpr (std::tuple_size_v<std::remove_cvref_t<decltype(need)>> == 3)
      return std::tuple(std::move(gx), std::move(gw), std::move(gb));
    else
      return std::tuple(std::move(gx), std::move(gw));
  };
  if (b) return record("linear", std::move(y), fn, x, w, *b);
  return record("linear", std::move(y), fn, x, w);
}

}  // namespace autograd::detail

/// y (M, N) = act(x (M, K) weight (N, K)^T + bias (N)), PyTorch's layout for weight.
template <floating T>
Var<T, 2> linear(const Var<T, 2>& x, const Var<T, 2>& weight, const Var<T, 1>& bias,
                 cpu::Activation act = cpu::Activation::none) {
  return autograd::detail::linear_impl(x, weight, &bias, act);
}
/// linear without a bias.
template <floating T>
Var<T, 2> linear(const Var<T, 2>& x, const Var<T, 2>& weight,
                 cpu::Activation act = cpu::Activation::none) {
  return autograd::detail::linear_impl<T>(x, weight, nullptr, act);
}

}  // namespace pretext
