// SPDX-License-Identifier: Apache-2.0
// softmax, log_softmax and layer normalisation (forward, backward) against references.
#include "reference.hpp"

using namespace pretext;

namespace {
template <class T, int R>
std::vector<double> ref_softmax(const Tensor<T, R>& x, bool log) {
  const auto c = x.contiguous();
  const index_t D = x.shape()[R - 1], M = x.numel() / D;
  std::vector<double> out;
  for (index_t r = 0; r < M; ++r) {
    double m = -INFINITY, s = 0;
    for (index_t i = 0; i < D; ++i) m = std::max(m, double(c.data()[r * D + i]));
    for (index_t i = 0; i < D; ++i) s += std::exp(c.data()[r * D + i] - m);
    for (index_t i = 0; i < D; ++i) {
      const double v = c.data()[r * D + i] - m;
      out.push_back(log ? v - std::log(s) : std::exp(v) / s);
    }
  }
  return out;
}

// Layer norm in double, row by row.
template <class T>
std::vector<double> ref_layer_norm(const Tensor<T, 2>& x, const Tensor<T, 1>& g,
                                   const Tensor<T, 1>& b, double eps) {
  const index_t M = x.shape()[0], D = x.shape()[1];
  std::vector<double> out;
  for (index_t r = 0; r < M; ++r) {
    double m = 0, v = 0;
    for (index_t i = 0; i < D; ++i) m += x(r, i);
    m /= static_cast<double>(D);
    for (index_t i = 0; i < D; ++i) v += (x(r, i) - m) * (x(r, i) - m);
    v /= static_cast<double>(D);
    for (index_t i = 0; i < D; ++i) out.push_back((x(r, i) - m) / std::sqrt(v + eps) * g(i) + b(i));
  }
  return out;
}
}  // namespace

TEST_CASE_TEMPLATE("softmax and log_softmax", T, float, double) {
  const double rtol = std::is_same_v<T, float> ? 4e-6 : 1e-13;
  test::with_threads([&](int) {
    for (index_t D : {1, 7, 16, 33, 1000}) {
      auto x = test::randn<T>({13, D}, static_cast<std::uint64_t>(D));
      mul_(x, T(10));
      test::check_close(softmax(x), ref_softmax(x, false), rtol);
      test::check_close(log_softmax(x), ref_softmax(x, true), rtol);
    }
    // Stable for huge magnitudes.
    auto big = Tensor<T, 2>::from({1, 3}, {1000, 1001, 1002});
    test::check_close(softmax(big), ref_softmax(big, false), rtol);
    // Another axis, and a strided input.
    auto x = test::randn<T>({6, 5, 4}, 3);
    test::check_close(softmax(x, 1).permute({0, 2, 1}), ref_softmax(x.permute({0, 2, 1}), false),
                      rtol);
    auto t = test::randn<T>({9, 11}, 4).t();
    test::check_close(log_softmax(t), ref_softmax(t, true), rtol);
  });
  CHECK(softmax(zeros<T>({0, 4})).numel() == 0);
}

TEST_CASE_TEMPLATE("layer_norm forward", T, float, double) {
  const double rtol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  test::with_threads([&](int) {
    for (index_t D : {1, 5, 16, 37, 768}) {
      auto x = test::randn<T>({20, D}, 1);
      add_(x, T(3));  // a mean far from zero tests the two-pass variance
      auto g = test::randn<T>({D}, 2);
      auto b = test::randn<T>({D}, 3);
      auto out = layer_norm_forward(x, &g, &b, T(1e-5));
      test::check_close(out.y, ref_layer_norm(x, g, b, 1e-5), rtol);
      CHECK(out.mean.shape() == Shape<1>{20});
      auto plain = layer_norm(x, nullptr, nullptr);
      test::check_close(plain, ref_layer_norm(x, ones<T>({D}), zeros<T>({D}), 1e-5), rtol);
    }
  });
  auto x = zeros<T>({2, 4});
  auto wrong = zeros<T>({3});
  const auto msg = test::error_message<shape_error>([&] { layer_norm(x, &wrong, nullptr); });
  CHECK(msg.find("[3]") != std::string::npos);
  CHECK(msg.find("[2, 4]") != std::string::npos);
}

TEST_CASE("layer_norm backward matches central differences in double") {
  const index_t M = 37, D = 19;  // 37 rows: two row blocks, the second partial
  auto x = test::randn<double>({M, D}, 5);
  auto g = test::randn<double>({D}, 6);
  auto b = test::randn<double>({D}, 7);
  auto w = test::randn<double>({M, D}, 8);  // loss = sum(w * y)
  auto loss = [&] { return sum(layer_norm(x, &g, &b) * w).item(); };
  auto fwd = layer_norm_forward(x, &g, &b);
  auto grads = layer_norm_backward(w, x, fwd.mean, fwd.rstd, &g, true, true);
  const double h = 1e-6;
  auto numeric = [&](const Tensor<double, 2>& t, index_t r, index_t c) {
    const double keep = t(r, c);
    t(r, c) = keep + h;
    const double up = loss();
    t(r, c) = keep - h;
    const double down = loss();
    t(r, c) = keep;
    return (up - down) / (2 * h);
  };
  for (index_t r : {0, 17, 36})
    for (index_t c : {0, 9, 18})
      CHECK(grads.dx(r, c) == doctest::Approx(numeric(x, r, c)).epsilon(1e-7));
  auto g2 = g.unsqueeze(0), b2 = b.unsqueeze(0);
  for (index_t c : {0, 4, 18}) {
    CHECK(grads.dgamma(c) == doctest::Approx(numeric(g2, 0, c)).epsilon(1e-7));
    CHECK(grads.dbeta(c) == doctest::Approx(numeric(b2, 0, c)).epsilon(1e-7));
  }
  // Without gamma, and identical for one and two threads.
  std::vector<double> first;
  test::with_threads([&](int n) {
    auto gr = layer_norm_backward(w, x, fwd.mean, fwd.rstd, &g, true, false);
    auto v = gr.dx.to_vector();
    const auto dg = gr.dgamma.to_vector();
    v.insert(v.end(), dg.begin(), dg.end());
    if (n == 1)
      first = v;
    else
      CHECK(v == first);
    CHECK_FALSE(gr.dbeta.defined());
  });
}
