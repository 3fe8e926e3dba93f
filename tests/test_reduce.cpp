// SPDX-License-Identifier: Apache-2.0
// Reductions over every axis and over all elements, against double references.
#include "reference.hpp"

#include <algorithm>
#include <limits>

using namespace pretext;

namespace {
// Reference reduction of x (any strides) along axis a, with f folding a vector of doubles.
template <class T, int R, class F>
std::vector<double> ref_axis(const Tensor<T, R>& x, int a, F f) {
  const auto c = x.contiguous();
  index_t outer = 1, n = x.shape()[static_cast<std::size_t>(a)], inner = 1;
  for (int i = 0; i < a; ++i) outer *= x.shape()[static_cast<std::size_t>(i)];
  for (int i = a + 1; i < R; ++i) inner *= x.shape()[static_cast<std::size_t>(i)];
  std::vector<double> out;
  for (index_t o = 0; o < outer; ++o)
    for (index_t j = 0; j < inner; ++j) {
      std::vector<double> v;
      for (index_t r = 0; r < n; ++r) v.push_back(c.data()[(o * n + r) * inner + j]);
      out.push_back(f(v));
    }
  return out;
}
double rsum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
double rmean(const std::vector<double>& v) {
  return rsum(v) / static_cast<double>(v.size());
}
double rvar(const std::vector<double>& v) {
  const double m = rmean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}
double rlse(const std::vector<double>& v) {
  const double m = *std::max_element(v.begin(), v.end());
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}
}  // namespace

TEST_CASE_TEMPLATE("axis reductions match references", T, float, double) {
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  test::with_threads([&](int) {
    for (auto x : {test::randn<T>({3, 17, 5}, 1), test::randn<T>({40, 3, 300}, 2),
                   test::randn<T>({5, 17, 3}, 3).permute({2, 1, 0})}) {
      for (int a = 0; a < 3; ++a) {
        CAPTURE(a);
        test::check_close(sum(x, a), ref_axis(x, a, rsum), rtol);
        test::check_close(mean(x, a), ref_axis(x, a, rmean), rtol);
        test::check_close(
            max(x, a),
            ref_axis(x, a, [](auto& v) { return *std::max_element(v.begin(), v.end()); }), 0);
        test::check_close(
            min(x, a),
            ref_axis(x, a, [](auto& v) { return *std::min_element(v.begin(), v.end()); }), 0);
        test::check_close(var(x, a), ref_axis(x, a, rvar), rtol * 10);
        test::check_close(stddev(x, a), ref_axis(x, a, [](auto& v) { return std::sqrt(rvar(v)); }),
                          rtol * 10);
        test::check_close(logsumexp(x, a), ref_axis(x, a, rlse), rtol);
        test::check_close(norm(x, a, 2.0),
                          ref_axis(x, a,
                                   [](auto& v) {
                                     double s = 0;
                                     for (double e : v) s += e * e;
                                     return std::sqrt(s);
                                   }),
                          rtol);
        const auto am = argmax(x, a);
        const auto ref = ref_axis(x, a, [](auto& v) {
          return static_cast<double>(std::max_element(v.begin(), v.end()) - v.begin());
        });
        test::check_close(am, ref, 0);
      }
    }
  });
}

TEST_CASE_TEMPLATE("keepdim and full reductions", T, float, double) {
  auto x = test::randn<T>({4, 6}, 9);
  CHECK(sum(x, 1, keepdim).shape() == Shape<2>{4, 1});
  CHECK(sum(x, -2, keepdim).shape() == Shape<2>{1, 6});
  const auto flat = x.flatten();
  CHECK(sum(x).item() == doctest::Approx(test::elem(sum(flat, 0).unsqueeze(0), 0)));
  std::vector<double> v(flat.data(), flat.data() + flat.numel());
  CHECK(mean(x).item() == doctest::Approx(rmean(v)));
  CHECK(var(x).item() == doctest::Approx(rvar(v)));
  CHECK(stddev(x).item() == doctest::Approx(std::sqrt(rvar(v))));
  CHECK(max(x).item() == *std::max_element(v.begin(), v.end()));
  CHECK(min(x).item() == *std::min_element(v.begin(), v.end()));
  double l1 = 0, linf = 0, l3 = 0;
  for (double e : v)
    l1 += std::abs(e), linf = std::max(linf, std::abs(e)), l3 += std::pow(std::abs(e), 3);
  CHECK(norm(x, 1).item() == doctest::Approx(l1));
  CHECK(norm(x, INFINITY).item() == doctest::Approx(linf));
  CHECK(norm(x, 3).item() == doctest::Approx(std::cbrt(l3)));
  CHECK(var(x, 1, keepdim, 0).shape() == Shape<2>{4, 1});
  // Population variance (correction 0) of a known row.
  auto k = Tensor<T, 2>::from({1, 4}, {1, 2, 3, 4});
  CHECK(var(k, 1, 0).item() == doctest::Approx(1.25));
}

TEST_CASE("a large sum is the same for any thread count and accurate") {
  Generator g(4);
  auto x = uniform<float>({3000001}, g);
  double ref = 0;
  for (index_t i = 0; i < x.numel(); ++i) ref += x.data()[i];
  std::vector<float> got;
  test::with_threads([&](int) { got.push_back(sum(x).item()); });
  CHECK(got[0] == got[1]);
  CHECK(got[0] == doctest::Approx(ref).epsilon(1e-6));
}

TEST_CASE("empty reductions and NaN") {
  auto e = zeros<float>({0, 3});
  CHECK(sum(e).item() == 0);
  CHECK(sum(e, 0).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(std::isnan(mean(e).item()));
  CHECK_THROWS_AS(max(e), shape_error);
  CHECK_THROWS_AS(max(e, 0), shape_error);
  CHECK_THROWS_AS(argmax(e, 0), shape_error);
  CHECK(max(e, 1).shape() == Shape<1>{0});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto n = Tensor<float, 2>::from({2, 3}, {1, nan, 3, 4, 5, 6});
  CHECK(std::isnan(max(n).item()));
  CHECK(std::isnan(min(n, 1).to_vector()[0]));
  CHECK(max(n, 1).to_vector()[1] == 6);
  CHECK(argmax(n, 1).to_vector() == std::vector<std::int64_t>{1, 2});
  CHECK(std::isnan(sum(n).item()));
  // logsumexp of an all -inf row is -inf, not NaN.
  auto inf = full<float>({1, 3}, -INFINITY);
  CHECK(logsumexp(inf, 1).item() == -INFINITY);
  CHECK_THROWS_AS(sum(e, 2), index_error);
}
