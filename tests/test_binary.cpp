// SPDX-License-Identifier: Apache-2.0
// Binary arithmetic with NumPy broadcasting, scalars, in-place forms and operators.
#include "reference.hpp"

using namespace pretext;

namespace {
// Reference of a (op) b over the broadcast shape, element by element through strides.
template <class T, int RA, int RB, class F>
std::vector<double> ref_binary(const Tensor<T, RA>& a, const Tensor<T, RB>& b, F f) {
  constexpr int R = RA > RB ? RA : RB;
  const auto shape = broadcast_shapes(a.shape(), b.shape(), "ref");
  auto ea = a.expand(shape);
  auto eb = b.expand(shape);
  std::vector<double> out;
  for (index_t i = 0; i < numel(shape); ++i) out.push_back(f(test::elem(ea, i), test::elem(eb, i)));
  (void)R;
  return out;
}
}  // namespace

TEST_CASE_TEMPLATE("broadcasting corner cases", T, float, double) {
  const double rtol = test::tol<T>();
  test::with_threads([&](int) {
    auto a = test::randn<T>({3, 1}, 1);
    auto b = test::randn<T>({1, 4}, 2);
    test::check_close(a + b, ref_binary(a, b, std::plus<>()), rtol);
    auto c = test::randn<T>({2, 3, 4}, 3);
    auto v = test::randn<T>({4}, 4);
    test::check_close(c * v, ref_binary(c, v, std::multiplies<>()), rtol);
    test::check_close(v - c, ref_binary(v, c, std::minus<>()), rtol);
    auto s = scalar_tensor<T>(T(2));
    test::check_close(c / s, ref_binary(c, s, std::divides<>()), rtol);
    // Large, both broadcast along different axes, split across threads.
    auto big_a = test::randn<T>({300, 1, 70}, 5);
    auto big_b = test::randn<T>({1, 50, 70}, 6);
    test::check_close(maximum(big_a, big_b),
                      ref_binary(big_a, big_b, [](double x, double y) { return std::max(x, y); }),
                      rtol);
    // Non-contiguous operands.
    auto t = test::randn<T>({5, 7}, 7).t();
    auto u = test::randn<T>({7, 5}, 8).slice(0, 0, 7);
    test::check_close(minimum(t, u),
                      ref_binary(t, u, [](double x, double y) { return std::min(x, y); }), rtol);
    // Zero-size broadcast.
    auto e = zeros<T>({0, 4});
    CHECK((e + v).shape() == Shape<2>{0, 4});
    CHECK((zeros<T>({3, 1}) + zeros<T>({0})).shape() == Shape<2>{3, 0});
  });
}

TEST_CASE("mismatched shapes throw shape_error naming both") {
  auto a = zeros<float>({2, 3});
  auto b = zeros<float>({4});
  const auto msg = test::error_message<shape_error>([&] { (void)(a + b); });
  CHECK(msg.find("pretext::add") != std::string::npos);
  CHECK(msg.find("[2, 3]") != std::string::npos);
  CHECK(msg.find("[4]") != std::string::npos);
  // An in-place op cannot grow its target.
  auto col = zeros<float>({2, 1});
  CHECK_THROWS_AS(mul_(col, a), shape_error);
}

TEST_CASE_TEMPLATE("scalars, in-place forms and operators", T, float, double) {
  auto a = Tensor<T, 2>::from({2, 2}, {1, 2, 3, 4});
  CHECK((a + T(1)).to_vector() == std::vector<T>{2, 3, 4, 5});
  CHECK((T(10) - a).to_vector() == std::vector<T>{9, 8, 7, 6});
  CHECK((a * T(2)).to_vector() == std::vector<T>{2, 4, 6, 8});
  CHECK((T(12) / a).to_vector() == std::vector<T>{12, 6, 4, 3});
  CHECK((-a).to_vector() == std::vector<T>{-1, -2, -3, -4});
  auto b = a.clone();
  b += Tensor<T, 1>::from({2}, {10, 20});
  CHECK(b.to_vector() == std::vector<T>{11, 22, 13, 24});
  b -= T(1);
  b *= T(2);
  b /= a;
  CHECK(b.to_vector() == std::vector<T>{20, 21, 8, 11.5});
  // In place through a view.
  auto m = zeros<T>({2, 3});
  add_(m.select(1, 1), T(5));
  CHECK(m.to_vector() == std::vector<T>{0, 5, 0, 0, 5, 0});
  // Maximum / minimum propagate NaN.
  auto n = Tensor<T, 1>::from({2}, {std::numeric_limits<T>::quiet_NaN(), 1});
  auto one = Tensor<T, 1>::from({2}, {0, 2});
  auto mx = maximum(n, one).to_vector();
  CHECK(std::isnan(mx[0]));
  CHECK(mx[1] == 2);
  CHECK(std::isnan(minimum(one, n).to_vector()[0]));
}
