// SPDX-License-Identifier: Apache-2.0
// The fused attention kernel against attention composed of matmul, an additive -inf mask table
// and softmax (each checked on its own elsewhere): values and gradients, with strided inputs,
// N != Nk, Dv != Dh, widths that are not multiples of the SIMD width, masks, one and two threads;
// and multi-head attention's packed path against splitting q, k, v out of the projection.
#include <pretext/testing/doctest.hpp>

#include <cmath>
#include <limits>

#include "reference.hpp"

using namespace pretext;

namespace {

using V4 = Var<double, 4>;

/// softmax(q k^T scale + mask) v from separate ops, the way attention was written before the
/// fused kernel.
V4 composed_attention(const V4& q, const V4& k, const V4& v, const AttentionMask& mask,
                      double scale) {
  const index_t B = q.size(0), H = q.size(1), N = q.size(2), Dh = q.size(3), Nk = k.size(2);
  const auto q3 = reshape(q, std::array<index_t, 3>{B * H, N, Dh});
  const auto k3 = reshape(k, std::array<index_t, 3>{B * H, Nk, Dh});
  const auto v3 = reshape(v, std::array<index_t, 3>{B * H, Nk, v.size(3)});
  Var<double, 3> scores = mul(matmul(q3, transpose(k3, 1, 2)), scale);
  Tensor<double, 4> table = Tensor<double, 4>::zeros(Shape<4>{B, 1, N, Nk});
  for (index_t b = 0; b < B; ++b)
    for (index_t i = 0; i < N; ++i)
      for (index_t j = 0; j < Nk; ++j) {
        const bool pad = mask.key_padding && (*mask.key_padding)(b, j) != 0;
        if (pad || (mask.causal && j > i)) table(b, 0, i, j) = -INFINITY;
      }
  const auto s4 = reshape(scores, std::array<index_t, 4>{B, H, N, Nk});
  scores = reshape(add(s4, table), std::array<index_t, 3>{B * H, N, Nk});
  return reshape(matmul(softmax(scores, -1), v3), std::array<index_t, 4>{B, H, N, v.size(3)});
}

/// Values of y and the gradients of sum(y * w) with respect to each input.
template <class F, class... X>
std::vector<Tensor<double, 4>> value_and_grads(F&& f, const Tensor<double, 4>& w, X... x) {
  (x.zero_grad(), ...);
  auto y = f(x...);
  sum(mul(y, V4(w))).backward();
  return {y.data().clone(), x.grad().clone()...};
}

}  // namespace

TEST_CASE("fused attention equals the composed ops: strided inputs, masks, odd widths") {
  struct Case {
    index_t B, H, N, Nk, Dh, Dv;
  };
  // Widths: below one vector, several vectors plus a tail (70 = 64 + 6 with AVX-512 floats),
  // N != Nk for the cross-attention shape; causal needs no N == Nk; keys within one vector of
  // doubles (3, for AVX2 and AVX-512 alike) and over several (37).
  for (const Case c : {Case{2, 3, 5, 5, 3, 3}, Case{2, 2, 7, 37, 70, 19},
                       Case{1, 2, 33, 17, 16, 33}, Case{3, 2, 6, 3, 9, 4}}) {
    CAPTURE(c.N);
    CAPTURE(c.Nk);
    Generator g(static_cast<std::uint64_t>(c.N * 100 + c.Nk));
    // q is a permuted view (its rows are not contiguous); k and v are contiguous.
    const V4 q(uniform<double>({c.B, c.N, c.H, c.Dh}, g, -2, 2).permute({0, 2, 1, 3}), true);
    const V4 k(uniform<double>({c.B, c.H, c.Nk, c.Dh}, g, -2, 2), true);
    const V4 v(uniform<double>({c.B, c.H, c.Nk, c.Dv}, g, -2, 2), true);
    const auto w = uniform<double>({c.B, c.H, c.N, c.Dv}, g, -1, 1);
    Tensor<std::uint8_t, 2> pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{c.B, c.Nk});
    pad(0, c.Nk - 1) = 1;
    if (c.Nk > 3) pad(c.B - 1, 2) = 1;
    for (const auto& mask :
         {AttentionMask{}, AttentionMask{true, nullptr}, AttentionMask{false, &pad}}) {
      CAPTURE(mask.causal);
      const double scale = 0.37;
      test::with_threads([&](int) {
        const auto ours = value_and_grads(
            [&](const V4& a, const V4& b, const V4& cc) {
              return scaled_dot_product_attention(a, b, cc, mask, scale);
            },
            w, q, k, v);
        const auto ref =
            value_and_grads([&](const V4& a, const V4& b,
                                const V4& cc) { return composed_attention(a, b, cc, mask, scale); },
                            w, q, k, v);
        for (std::size_t i = 0; i < ours.size(); ++i) {
          CAPTURE(i);  // 0: output, 1..3: dq, dk, dv
          test::check_close(ours[i], ref[i].contiguous().to_vector(), 1e-12);
        }
      });
    }
  }
}

TEST_CASE("fused attention in float matches double; a fully masked query row is NaN") {
  Generator g(5);
  const auto qd = uniform<double>({2, 2, 9, 40}, g, -2, 2);
  const auto kd = uniform<double>({2, 2, 9, 40}, g, -2, 2);
  const auto vd = uniform<double>({2, 2, 9, 24}, g, -2, 2);
  const auto ref = scaled_dot_product_attention(V4(qd), V4(kd), V4(vd)).data();
  auto to_float = [](const Tensor<double, 4>& t) {
    Tensor<float, 4> f(t.shape());
    for (index_t i = 0; i < t.numel(); ++i) f.data()[i] = static_cast<float>(t.data()[i]);
    return Var<float, 4>(f);
  };
  const auto ours = scaled_dot_product_attention(to_float(qd), to_float(kd), to_float(vd)).data();
  test::check_close(ours, ref.to_vector(), 2e-6);

  // Causal, with key 0 padded: query 0 sees no key at all.
  Tensor<std::uint8_t, 2> pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{2, 9});
  pad(0, 0) = 1;
  NoGrad no_grad;
  const auto y = scaled_dot_product_attention(V4(qd), V4(kd), V4(vd), {true, &pad}).data();
  CHECK(std::isnan(y(0, 0, 0, 0)));
  CHECK(std::isnan(y(0, 1, 0, 5)));
  CHECK(std::isfinite(y(0, 0, 1, 0)));
  CHECK(std::isfinite(y(1, 0, 0, 0)));
}

TEST_CASE("multi-head attention's packed path equals splitting the projection") {
  Generator g(9);
  nn::MultiHeadAttention<nn::dynamic, double> mha(20, 4, g);
  const Var<double, 3> x(uniform<double>({3, 6, 20}, g, -1, 1), true);
  const auto w = uniform<double>({3, 6, 20}, g, -1, 1);
  Tensor<std::uint8_t, 2> pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{3, 6});
  pad(1, 5) = 1;
  for (const auto& mask : {AttentionMask{}, AttentionMask{true, &pad}}) {
    auto run = [&](bool packed) {
      x.zero_grad();
      Var<double, 3> y;
      if (packed) {
        y = mha(x, mask);
      } else {
        const auto qkv = linear(reshape(x, std::array<index_t, 2>{18, 20}), mha.in_proj_weight,
                                mha.in_proj_bias);
        const auto split = permute(reshape(qkv, std::array<index_t, 5>{3, 6, 3, 4, 5}),
                                   std::array<int, 5>{2, 0, 3, 1, 4});
        const auto att = scaled_dot_product_attention(select(split, 0, 0), select(split, 0, 1),
                                                      select(split, 0, 2), mask);
        y = mha.out_proj(reshape(permute(att, std::array<int, 4>{0, 2, 1, 3}),
                                 std::array<index_t, 3>{3, 6, 20}));
      }
      sum(mul(y, Var<double, 3>(w))).backward();
      return std::pair(y.data().clone(), x.grad().clone());
    };
    const auto [y1, g1] = run(true);
    const auto [y2, g2] = run(false);
    test::check_close(y1, y2.to_vector(), 1e-12);
    test::check_close(g1, g2.to_vector(), 1e-12);
  }
}
