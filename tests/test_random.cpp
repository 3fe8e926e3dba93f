// SPDX-License-Identifier: Apache-2.0
// Counter-based random numbers: reproducibility across thread counts, and the distributions.
#include "reference.hpp"

#include <algorithm>
#include <numeric>

using namespace pretext;

namespace {
template <class T>
std::pair<double, double> moments(const std::vector<T>& v) {
  double m = 0, s = 0;
  for (auto x : v) m += x;
  m /= static_cast<double>(v.size());
  for (auto x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size() - 1))};
}
}  // namespace

TEST_CASE_TEMPLATE("the same seed gives the same tensor for any thread count", T, float, double) {
  std::vector<T> ref;
  test::with_threads([&](int n) {
    Generator g(42);
    auto a = normal<T>({257, 129}, g);
    auto b = uniform<T>({1000}, g);
    std::vector<T> v = a.to_vector();
    const auto w = b.to_vector();
    v.insert(v.end(), w.begin(), w.end());
    if (n == 1)
      ref = v;
    else
      CHECK(v == ref);
  });
  Generator g1(42), g2(43);
  CHECK(normal<T>({64}, g1).to_vector() != normal<T>({64}, g2).to_vector());
  // Consecutive draws differ; resetting the offset replays.
  Generator g(7);
  const auto first = uniform<T>({16}, g).to_vector();
  CHECK(uniform<T>({16}, g).to_vector() != first);
  g.set_offset(0);
  CHECK(uniform<T>({16}, g).to_vector() == first);
}

TEST_CASE("a strided view is filled in its own row-major order") {
  Generator g1(5), g2(5);
  auto a = zeros<float>({40, 30});
  normal_(a.t(), g1);
  auto b = normal<float>({30, 40}, g2);
  CHECK(a.t().contiguous().to_vector() == b.to_vector());
}

TEST_CASE_TEMPLATE("distributions have the expected moments", T, float, double) {
  Generator g(11);
  const index_t n = 200000;
  auto [um, us] = moments(uniform<T>({n}, g, T(-1), T(3)).to_vector());
  CHECK(um == doctest::Approx(1.0).epsilon(0.01));
  CHECK(us == doctest::Approx(4 / std::sqrt(12.0)).epsilon(0.01));
  auto u = uniform<T>({n}, g, T(2), T(5)).to_vector();
  CHECK(*std::min_element(u.begin(), u.end()) >= T(2));
  CHECK(*std::max_element(u.begin(), u.end()) < T(5));
  auto [nm, ns] = moments(normal<T>({n}, g, T(3), T(2)).to_vector());
  CHECK(nm == doctest::Approx(3.0).epsilon(0.01));
  CHECK(ns == doctest::Approx(2.0).epsilon(0.01));
  // Normal(0, 1) truncated to [-2, 2] has standard deviation 0.8796.
  auto tv = truncated_normal<T>({n}, g).to_vector();
  CHECK(*std::min_element(tv.begin(), tv.end()) >= T(-2));
  CHECK(*std::max_element(tv.begin(), tv.end()) <= T(2));
  auto [tm, ts] = moments(tv);
  CHECK(std::abs(tm) < 0.01);
  CHECK(ts == doctest::Approx(0.8796).epsilon(0.01));
  auto tb = truncated_normal<T>({n}, g, T(0), T(0.02), T(-0.04), T(0.04)).to_vector();
  CHECK(moments(tb).second == doctest::Approx(0.02 * 0.8796).epsilon(0.02));
  auto bv = bernoulli<T>({n}, g, 0.3).to_vector();
  CHECK(moments(bv).first == doctest::Approx(0.3).epsilon(0.02));
  CHECK(std::all_of(bv.begin(), bv.end(), [](T x) { return x == 0 || x == 1; }));
  CHECK_THROWS_AS(bernoulli<T>({2}, g, 1.5), config_error);
  CHECK_THROWS_AS(uniform<T>({2}, g, T(1), T(0)), config_error);
}

TEST_CASE("randperm is a permutation and reproducible") {
  Generator g(9);
  auto p = randperm(1000, g).to_vector();
  auto s = p;
  std::sort(s.begin(), s.end());
  std::vector<std::int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(s == iota);
  CHECK(p != iota);
  Generator h(9);
  CHECK(randperm(1000, h).to_vector() == p);
  CHECK(randperm(0, h).numel() == 0);
}

TEST_CASE("erfinv inverts erf") {
  for (double y : {-0.999999, -0.9, -0.3, 0.0, 0.1, 0.5, 0.99, 0.9999999}) {
    CHECK(std::erf(detail::erfinv(y)) == doctest::Approx(y).epsilon(1e-14));
  }
}
