// SPDX-License-Identifier: Apache-2.0
// Token gather/scatter ops for masked prediction (autograd/ops_index.hpp): gather_tokens
// (B, N, D) x (B, K) -> (B, K, D), gather_rows (M, D) x (K) -> (K, D), scatter_tokens
// (B, K, D) x (B, K) -> (B, n, D), replace_tokens (B, N, D) x (B, N) -> (B, N, D) and concat.
// Hand-computed values, properties, finite-difference gradients in double, and errors.
#include <pretext/testing/doctest.hpp>

#include "reference.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace pretext;
using V1 = Var<double, 1>;
using V2 = Var<double, 2>;
using V3 = Var<double, 3>;
using Idx1 = Tensor<std::int64_t, 1>;
using Idx2 = Tensor<std::int64_t, 2>;
using Mask = Tensor<std::uint8_t, 2>;

namespace {

test::Leaves leaf{900};

/// x[b, n, d] = 100 b + 10 n + d, a constant (B, N, D).
V3 counting(index_t B, index_t N, index_t D) {
  auto t = Tensor<double, 3>(Shape<3>{B, N, D});
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n)
      for (index_t d = 0; d < D; ++d) t.data()[(b * N + n) * D + d] = 100.0 * b + 10.0 * n + d;
  return V3(t);
}

}  // namespace

TEST_CASE("gather_tokens: values, repeated indices and their gradient") {
  const V3 x = counting(2, 3, 2);
  const auto idx = Idx2::from({2, 3}, {2, 0, 2, 1, 1, 0});
  const auto y = gather_tokens(x, idx);
  CHECK(y.shape() == Shape<3>{2, 3, 2});
  test::check_close(y.data(), {20, 21, 0, 1, 20, 21, 110, 111, 110, 111, 100, 101}, 0);

  // The gradient of sum(y) counts how often each token was picked.
  const auto xl = V3(x.data().clone(), true);
  sum(gather_tokens(xl, idx)).backward();
  test::check_close(xl.grad(), {1, 1, 0, 0, 2, 2, 1, 1, 2, 2, 0, 0}, 0);
}

TEST_CASE("gather_tokens: non-contiguous x and idx") {
  const V3 x = counting(2, 4, 3);
  const V3 xt = transpose(V3(x.data().transpose(0, 1).contiguous()), 0, 1);  // same values
  REQUIRE_FALSE(xt.data().is_contiguous());
  const auto idx_t = Idx2::from({2, 2}, {3, 0, 1, 3}).transpose(0, 1);  // (2, 2): {{3, 1}, {0, 3}}
  const auto y = gather_tokens(xt, idx_t);
  test::check_close(y.data(), {30, 31, 32, 10, 11, 12, 100, 101, 102, 130, 131, 132}, 0);
}

TEST_CASE("gather_rows: values and gradient of repeated rows") {
  const auto x = V2(Tensor<double, 2>::from({3, 2}, {1, 2, 3, 4, 5, 6}), true);
  const auto idx = Idx1::from({4}, {2, 0, 2, 2});
  const auto y = gather_rows(x, idx);
  CHECK(y.shape() == Shape<2>{4, 2});
  test::check_close(y.data(), {5, 6, 1, 2, 5, 6, 5, 6}, 0);
  sum(y).backward();
  test::check_close(x.grad(), {1, 1, 0, 0, 3, 3}, 0);
}

TEST_CASE("scatter_tokens: values, fill gradient and the round trip with gather_tokens") {
  const auto src = V3(Tensor<double, 3>::from({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), true);
  const auto fill = V1(Tensor<double, 1>::from({2}, {9, -9}), true);
  const auto idx = Idx2::from({2, 2}, {2, 0, 1, 3});
  const auto y = scatter_tokens(src, idx, fill, 4);
  CHECK(y.shape() == Shape<3>{2, 4, 2});
  test::check_close(y.data(), {3, 4, 9, -9, 1, 2, 9, -9, 9, -9, 5, 6, 9, -9, 7, 8}, 0);

  // Weight each output row by its position so that the gradients tell rows apart.
  auto w = Tensor<double, 3>(Shape<3>{2, 4, 2});
  for (index_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<double>(i / 2);
  sum(y * w).backward();
  test::check_close(src.grad(), {2, 2, 0, 0, 5, 5, 7, 7}, 0);
  test::check_close(fill.grad(), {1 + 3 + 4 + 6, 1 + 3 + 4 + 6}, 0);

  // gather_tokens undoes scatter_tokens at the same indices.
  const auto back = gather_tokens(y, idx);
  test::check_close(back.data(), {1, 2, 3, 4, 5, 6, 7, 8}, 0);
}

TEST_CASE("replace_tokens: masked rows become the token, the others stay untouched") {
  const V3 x = counting(2, 3, 2);
  const auto token = V1(Tensor<double, 1>::from({2}, {-1, -2}));
  const auto mask = Mask::from({2, 3}, {0, 1, 0, 1, 1, 0});
  const auto y = replace_tokens(x, mask, token);
  test::check_close(y.data(), {0, 1, -1, -2, 20, 21, -1, -2, -1, -2, 120, 121}, 0);

  const auto xl = V3(x.data().clone(), true);
  const auto tl = V1(token.data().clone(), true);
  sum(replace_tokens(xl, mask, tl)).backward();
  test::check_close(xl.grad(), {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1}, 0);
  test::check_close(tl.grad(), {3, 3}, 0);

  // A mask changed after the op does not change its backward (the op kept a copy).
  auto m2 = mask.clone();
  const auto xl2 = V3(x.data().clone(), true);
  const auto y2 = replace_tokens(xl2, m2, tl);
  m2.fill_(0);
  sum(y2).backward();
  test::check_close(xl2.grad(), {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1}, 0);
}

TEST_CASE("concat: values along a positive and a negative axis") {
  const auto a = V2(Tensor<double, 2>::from({2, 2}, {1, 2, 3, 4}));
  const auto b = V2(Tensor<double, 2>::from({1, 2}, {5, 6}));
  const auto c = V2(Tensor<double, 2>::from({2, 1}, {7, 8}));
  test::check_close(concat(a, b, 0).data(), {1, 2, 3, 4, 5, 6}, 0);
  test::check_close(concat(a, c, -1).data(), {1, 2, 7, 3, 4, 8}, 0);
  test::check_close(concat({a, c, a}, 1).data(), {1, 2, 7, 1, 2, 3, 4, 8, 3, 4}, 0);
  // One input: a copy, not an alias.
  const auto one = concat(std::vector<V2>{a}, 0);
  CHECK(one.data().data() != a.data().data());
  test::check_close(one.data(), {1, 2, 3, 4}, 0);
  // Many inputs (a tree of nodes), some of zero length.
  std::vector<V2> many;
  std::vector<double> expect;
  for (int i = 0; i < 11; ++i) {
    const index_t len = i % 3;
    auto t = Tensor<double, 2>(Shape<2>{len, 2});
    for (index_t j = 0; j < t.numel(); ++j) {
      t.data()[j] = 10.0 * i + static_cast<double>(j);
      expect.push_back(t.data()[j]);
    }
    many.emplace_back(t);
  }
  const auto m = concat(many, -2);
  CHECK(m.shape() == Shape<2>{static_cast<index_t>(expect.size() / 2), 2});
  test::check_close(m.data(), expect, 0);
}

TEST_CASE("token ops: large inputs split across threads match a plain loop") {
  const index_t B = 2, N = 6000, D = 8, K = 5000;
  const auto x = V3(test::randn<double>({B, N, D}, 902));
  auto idx = Idx2(Shape<2>{B, K});
  auto mask = Mask(Shape<2>{B, N});
  std::vector<char> hit(static_cast<std::size_t>(B * N), 0);
  for (index_t i = 0; i < B * K; ++i) {
    idx.data()[i] = (i * 7919) % N;  // 7919 is prime: K < N consecutive i give distinct values
    hit[static_cast<std::size_t>((i / K) * N + idx.data()[i])] = 1;
  }
  for (index_t i = 0; i < B * N; ++i) mask.data()[i] = static_cast<std::uint8_t>(i % 3 == 0);
  const auto fill = V1(test::randn<double>({D}, 903));
  test::with_threads([&](int) {
    const auto g = gather_tokens(x, idx);
    const auto s = scatter_tokens(g, idx, fill, N);
    const auto r = replace_tokens(x, mask, fill);
    bool ok = true;
    for (index_t b = 0; b < B; ++b)
      for (index_t n = 0; n < N; ++n)
        for (index_t d = 0; d < D; ++d) {
          const double xv = x.data().data()[(b * N + n) * D + d], fv = fill.data().data()[d];
          ok = ok && r.data().data()[(b * N + n) * D + d] == (mask.data()[b * N + n] ? fv : xv);
          if (!hit[static_cast<std::size_t>(b * N + n)])
            ok = ok && s.data().data()[(b * N + n) * D + d] == fv;
        }
    for (index_t b = 0; b < B; ++b)
      for (index_t k = 0; k < K; ++k)
        for (index_t d = 0; d < D; ++d) {
          const index_t n = idx.data()[b * K + k];
          ok = ok && g.data().data()[(b * K + k) * D + d] == x.data().data()[(b * N + n) * D + d];
          ok = ok && s.data().data()[(b * N + n) * D + d] == x.data().data()[(b * N + n) * D + d];
        }
    CHECK(ok);
  });
}

TEST_CASE("token ops record nothing under NoGrad") {
  const auto x = leaf({2, 3, 2});
  const auto f = leaf({2});
  const auto idx = Idx2::from({2, 1}, {1, 2});
  NoGrad guard;
  CHECK_FALSE(gather_tokens(x, idx).requires_grad());
  CHECK_FALSE(scatter_tokens(x, Idx2::from({2, 3}, {0, 1, 2, 2, 1, 0}), f, 3).requires_grad());
  CHECK_FALSE(replace_tokens(x, Mask::zeros({2, 3}), f).requires_grad());
  CHECK_FALSE(concat(x, x, 1).requires_grad());
  CHECK_FALSE(gather_rows(select(x, 0, 0), Idx1::from({1}, {2})).requires_grad());
}

TEST_CASE("gradcheck: token gather/scatter ops") {
  // gather_tokens with repeated indices, and on a transposed (non-contiguous) leaf.
  const auto x = leaf({2, 5, 3});
  const auto idx = Idx2::from({2, 4}, {4, 0, 4, 2, 1, 1, 1, 3});
  PRETEXT_CHECK_GRADIENTS([&](const V3& a) { return gather_tokens(a, idx); }, std::tuple{x});
  const auto xt = leaf({5, 2, 3});
  PRETEXT_CHECK_GRADIENTS([&](const V3& a) { return gather_tokens(transpose(a, 0, 1), idx); },
                          std::tuple{xt});

  // gather_rows with repeats, on a transposed leaf.
  const auto w = leaf({3, 6});
  const auto rows = Idx1::from({5}, {5, 0, 5, 2, 3});
  PRETEXT_CHECK_GRADIENTS([&](const V2& a) { return gather_rows(t(a), rows); }, std::tuple{w});

  // scatter_tokens into n = 6 with a learned fill row; src non-contiguous in a second check.
  const auto src = leaf({2, 3, 4});
  const auto fill = leaf({4});
  const auto sidx = Idx2::from({2, 3}, {4, 0, 2, 1, 5, 3});
  PRETEXT_CHECK_GRADIENTS([&](const V3& s, const V1& f) { return scatter_tokens(s, sidx, f, 6); },
                          std::tuple{src, fill});
  const auto srct = leaf({3, 2, 4});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& s, const V1& f) { return scatter_tokens(transpose(s, 0, 1), sidx, f, 6); },
      std::tuple{srct, fill});

  // replace_tokens, x transposed.
  const auto mask = Mask::from({2, 5}, {1, 0, 0, 1, 1, 0, 1, 0, 0, 0});
  const auto tok = leaf({3});
  PRETEXT_CHECK_GRADIENTS([&](const V3& a, const V1& k) { return replace_tokens(a, mask, k); },
                          std::tuple{x, tok});
  PRETEXT_CHECK_GRADIENTS(
      [&](const V3& a, const V1& k) { return replace_tokens(transpose(a, 0, 1), mask, k); },
      std::tuple{xt, tok});
}

TEST_CASE("gradcheck: concat") {
  const auto a = leaf({2, 3, 4});
  const auto b = leaf({2, 1, 4});
  const auto c = leaf({2, 2, 4});
  PRETEXT_CHECK_GRADIENTS([](const V3& p, const V3& q) { return concat(p, q, 1); },
                          std::tuple{a, b});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& p, const V3& q, const V3& r) {
        return concat({p, q, r}, -2);
      },
      std::tuple{a, b, c});
  // A transposed input and a repeated one.
  const auto d = leaf({4, 2, 2});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& p, const V3& q) {
        return concat({p, transpose(q, 0, 2), p}, -1);
      },
      std::tuple{leaf({2, 2, 3}), d});
  // Ten pieces of one leaf, joined in reverse order: the tree of nodes.
  const auto e = leaf({3, 10, 2});
  PRETEXT_CHECK_GRADIENTS(
      [](const V3& p) {
        std::vector<V3> parts;
        for (index_t i = 0; i < 10; ++i) parts.push_back(narrow(p, 1, i, 1));
        std::reverse(parts.begin(), parts.end());
        return concat(parts, 1);
      },
      std::tuple{e});
  // A constant among the inputs gets no gradient and does not disturb the others.
  const auto k = V3(test::randn<double>({2, 3, 4}, 901));
  PRETEXT_CHECK_GRADIENTS([&](const V3& p) { return concat({k, p, k}, 0); }, std::tuple{a});
}

TEST_CASE("token ops: errors name the op and the shapes") {
  const auto x = leaf({2, 3, 4});
  const auto f = leaf({4});
  // gather_tokens
  CHECK_THROWS_WITH_AS(gather_tokens(x, Idx2::from({2, 2}, {0, 3, 1, 2})),
                       doctest::Contains("pretext::gather_tokens"), index_error);
  CHECK_THROWS_AS(gather_tokens(x, Idx2::from({2, 1}, {-1, 0})), index_error);
  CHECK_THROWS_WITH_AS(gather_tokens(x, Idx2::zeros({3, 1})),
                       doctest::Contains("pretext::gather_tokens: x is [2, 3, 4]"), shape_error);
  // gather_rows
  CHECK_THROWS_WITH_AS(gather_rows(select(x, 0, 0), Idx1::from({2}, {0, 3})),
                       doctest::Contains("pretext::gather_rows"), index_error);
  // scatter_tokens
  CHECK_THROWS_WITH_AS(scatter_tokens(x, Idx2::from({2, 3}, {0, 1, 1, 0, 1, 2}), f, 5),
                       doctest::Contains("must be distinct"), index_error);
  CHECK_THROWS_WITH_AS(scatter_tokens(x, Idx2::from({2, 3}, {0, 1, 5, 0, 1, 2}), f, 5),
                       doctest::Contains("pretext::scatter_tokens"), index_error);
  CHECK_THROWS_WITH_AS(scatter_tokens(x, Idx2::zeros({2, 2}), f, 5),
                       doctest::Contains("pretext::scatter_tokens"), shape_error);
  CHECK_THROWS_WITH_AS(scatter_tokens(x, Idx2::from({2, 3}, {0, 1, 2, 0, 1, 2}), leaf({3}), 5),
                       doctest::Contains("pretext::scatter_tokens: fill is [3]"), shape_error);
  CHECK_THROWS_AS(scatter_tokens(x, Idx2::from({2, 3}, {0, 1, 2, 0, 1, 2}), f, 2), shape_error);
  // replace_tokens
  CHECK_THROWS_WITH_AS(replace_tokens(x, Mask::zeros({2, 4}), f),
                       doctest::Contains("pretext::replace_tokens"), shape_error);
  CHECK_THROWS_WITH_AS(replace_tokens(x, Mask::zeros({2, 3}), leaf({5})),
                       doctest::Contains("pretext::replace_tokens"), shape_error);
  // concat
  const auto msg = test::error_message<shape_error>([&] { concat(x, leaf({2, 3, 5}), 1); });
  CHECK(msg.find("pretext::concat") != std::string::npos);
  CHECK(msg.find("[2, 3, 4]") != std::string::npos);
  CHECK(msg.find("[2, 3, 5]") != std::string::npos);
  CHECK(msg.find("axis 1") != std::string::npos);
  CHECK_THROWS_WITH_AS(concat(std::vector<V3>{}, 0), doctest::Contains("pretext::concat"),
                       config_error);
  CHECK_THROWS_WITH_AS(concat(x, x, 3), doctest::Contains("pretext::concat"), index_error);
  CHECK_THROWS_AS(concat(x, x, -4), index_error);
}
