// SPDX-License-Identifier: Apache-2.0
// The autograd engine: accumulation, broadcasting, NoGrad, detach, graph freeing, hooks, long
// chains, in-place modification of saved tensors.
#include "reference.hpp"

using namespace pretext;

TEST_CASE("backward computes and accumulates leaf gradients") {
  Var<double, 1> x(Tensor<double, 1>::from({3}, {1.0, -2.0, 0.5}), true);
  auto y = sum(x * x + 3.0 * x);  // dy/dx = 2x + 3
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK(x.is_leaf());
  y.backward();
  test::check_close(x.grad(), {5.0, -1.0, 4.0}, 1e-15);
  // A second graph adds to the same gradient until it is zeroed.
  sum(x * 2.0).backward();
  test::check_close(x.grad(), {7.0, 1.0, 6.0}, 1e-15);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  // Copies of a Var share its gradient.
  auto x2 = x;
  sum(x2).backward();
  test::check_close(x.grad(), {1.0, 1.0, 1.0}, 0);
}

TEST_CASE("broadcast gradients are summed back to each input's shape") {
  Var<float, 2> a(Tensor<float, 2>::from({2, 1}, {1, 2}), true);
  Var<float, 1> b(Tensor<float, 1>::from({3}, {1, 2, 3}), true);
  sum(a * b).backward();  // (2, 3) products
  CHECK(a.grad().shape() == Shape<2>{2, 1});
  test::check_close(a.grad(), {6, 6}, 0);
  test::check_close(b.grad(), {3, 3, 3}, 0);
}

TEST_CASE("NoGrad, EnableGrad and detach") {
  Var<float, 1> x(Tensor<float, 1>::ones({4}), true);
  {
    NoGrad guard;
    CHECK_FALSE(grad_enabled());
    const auto y = exp(x);
    CHECK_FALSE(y.requires_grad());
    {
      EnableGrad on;
      CHECK(exp(x).requires_grad());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  const auto d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data().shares_storage(x.data()));
  sum(x * d).backward();  // only the x factor carries gradient: d(x * c)/dx = c = 1
  test::check_close(x.grad(), {1, 1, 1, 1}, 0);
  CHECK_THROWS_AS(sum(d).backward(), error);
}

TEST_CASE("the graph is freed after backward unless retained") {
  Var<double, 1> x(Tensor<double, 1>::from({2}, {1.0, 2.0}), true);
  auto y = sum(exp(x));
  y.backward(/*retain_graph=*/true);
  y.backward();  // allowed once more: the first call kept the graph
  test::check_close(x.grad(), {2 * std::exp(1.0), 2 * std::exp(2.0)}, 1e-14);
  const auto msg = test::error_message<error>([&] { y.backward(); });
  CAPTURE(msg);
  CHECK(msg.find("retain_graph") != std::string::npos);
  CHECK(msg.find("sum") != std::string::npos);
}

TEST_CASE("backward of a non-scalar needs its gradient") {
  Var<float, 2> x(Tensor<float, 2>::ones({2, 3}), true);
  const auto y = x * 2.0f;
  CHECK_THROWS_AS(y.backward(), shape_error);
  CHECK_THROWS_AS(y.backward(Tensor<float, 2>::ones({3, 2})), shape_error);
  y.backward(Tensor<float, 2>::full({2, 3}, 0.5f));
  test::check_close(x.grad(), std::vector<double>(6, 1.0), 0);
  CHECK_THROWS_AS((void)y.grad(), error);  // non-leaf: no stored gradient
}

TEST_CASE("leaf hooks see and may replace the gradient") {
  Var<float, 1> x(Tensor<float, 1>::ones({3}), true);
  int calls = 0;
  x.register_hook([&](const Tensor<float, 1>& g) {
    ++calls;
    return pretext::mul(g, 10.0f);
  });
  sum(x).backward();
  CHECK(calls == 1);
  test::check_close(x.grad(), {10, 10, 10}, 0);
  x.register_hook([](const Tensor<float, 1>&) { return Tensor<float, 1>::ones({2}); });
  CHECK_THROWS_AS(sum(x).backward(), shape_error);
}

TEST_CASE("a chain of 100,000 operations runs backward and is freed without recursion") {
  Var<double, 1> x(Tensor<double, 1>::from({2}, {1.0, 2.0}), true);
  auto y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0 + 0.0;  // 200,000 nodes
  sum(y).backward();
  test::check_close(x.grad(), {1.0, 1.0}, 1e-12);
  // Dropping a long graph that never ran backward must not overflow the stack either.
  auto z = x;
  for (int i = 0; i < 100000; ++i) z = neg(z);
  z = Var<double, 1>();
  CHECK(x.requires_grad());
}

TEST_CASE("modifying a saved tensor in place fails its backward, naming the op") {
  Var<float, 1> x(Tensor<float, 1>::from({3}, {0.1f, 0.2f, 0.3f}), true);
  const auto y = exp(x);  // saves its output
  const auto loss = sum(y * 2.0f);
  add_(y.data(), 1.0f);  // in-place write through the tensor API
  const auto msg = test::error_message<error>([&] { loss.backward(); });
  CAPTURE(msg);
  CHECK(msg.find("'exp'") != std::string::npos);
  CHECK(msg.find("modified in place") != std::string::npos);

  // Ops that save nothing are indifferent to later writes.
  Var<float, 1> a(Tensor<float, 1>::ones({2}), true);
  const auto s = a + 1.0f;
  const auto l2 = sum(s);
  s.data().fill_(5.0f);
  l2.backward();
  test::check_close(a.grad(), {1, 1}, 0);
}

TEST_CASE("requires_grad_ applies to leaves only") {
  Var<float, 1> x(Tensor<float, 1>::ones({2}));
  CHECK_FALSE(x.requires_grad());
  x.requires_grad_();
  CHECK(x.requires_grad());
  auto y = exp(x);
  CHECK_THROWS_AS(y.requires_grad_(false), error);
  x.requires_grad_(false);
  CHECK_FALSE(exp(x).requires_grad());
}

TEST_CASE("cross_entropy rejects bad targets and matches hand-computed values") {
  Var<double, 2> z(Tensor<double, 2>::from({2, 3}, {1.0, 2.0, 3.0, 0.0, 0.0, 0.0}), true);
  const auto good = Tensor<std::int64_t, 1>::from({2}, {2, 0});
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double expect = ((lse0 - 3.0) + std::log(3.0)) / 2;
  CHECK(cross_entropy(z, good).item() == doctest::Approx(expect).epsilon(1e-14));
  // A confident row with large float logits: the loss log(1 + e^-10) = 4.54e-5 is below the
  // spacing of floats near 1000 (6.1e-5), so it must not be computed as lse - x[y].
  Var<float, 2> big(Tensor<float, 2>::from({1, 2}, {1000.0f, 990.0f}));
  const auto first = Tensor<std::int64_t, 1>::from({1}, {0});
  CHECK(cross_entropy(big, first).item() ==
        doctest::Approx(std::log1p(std::exp(-10.0))).epsilon(1e-5));
  const auto bad = Tensor<std::int64_t, 1>::from({2}, {3, 0});
  const auto msg = test::error_message<index_error>([&] { cross_entropy(z, bad); });
  CHECK(msg.find("target 3") != std::string::npos);
  CHECK_THROWS_AS(cross_entropy(z, Tensor<std::int64_t, 1>::from({1}, {0})), shape_error);
}
