// SPDX-License-Identifier: Apache-2.0
// Unary math and activations against double-precision references: odd sizes, strided inputs,
// empty tensors, one and two threads.
#include "reference.hpp"

#include <functional>

using namespace pretext;

namespace {

struct Case {
  const char* name;
  std::function<double(double)> ref;
  double lo, hi;  // input range
};

const Case cases[] = {
    {"exp", [](double x) { return std::exp(x); }, -20, 20},
    {"log", [](double x) { return std::log(x); }, 1e-3, 100},
    {"sqrt", [](double x) { return std::sqrt(x); }, 0, 100},
    {"rsqrt", [](double x) { return 1 / std::sqrt(x); }, 1e-3, 100},
    {"tanh", [](double x) { return std::tanh(x); }, -10, 10},
    {"sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -30, 30},
    {"relu", [](double x) { return x > 0 ? x : 0; }, -5, 5},
    {"gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -8, 8},
    {"gelu_tanh",
     [](double x) {
       return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
     },
     -8, 8},
    {"silu", [](double x) { return x / (1 + std::exp(-x)); }, -30, 30},
    {"abs", [](double x) { return std::abs(x); }, -5, 5},
    {"neg", [](double x) { return -x; }, -5, 5},
    {"square", [](double x) { return x * x; }, -5, 5},
    {"reciprocal", [](double x) { return 1 / x; }, 0.1, 5},
};

template <class T, int R>
Tensor<T, R> apply(const std::string& n, const Tensor<T, R>& x) {
  if (n == "exp") return exp(x);
  if (n == "log") return log(x);
  if (n == "sqrt") return sqrt(x);
  if (n == "rsqrt") return rsqrt(x);
  if (n == "tanh") return tanh(x);
  if (n == "sigmoid") return sigmoid(x);
  if (n == "relu") return relu(x);
  if (n == "gelu") return gelu(x);
  if (n == "gelu_tanh") return gelu_tanh(x);
  if (n == "silu") return silu(x);
  if (n == "abs") return abs(x);
  if (n == "neg") return neg(x);
  if (n == "square") return square(x);
  return reciprocal(x);
}

}  // namespace

TEST_CASE_TEMPLATE("unary ops match double references", T, float, double) {
  const double rtol = std::is_same_v<T, float> ? 4e-6 : 1e-13;
  test::with_threads([&](int) {
    for (const auto& c : cases) {
      CAPTURE(c.name);
      for (index_t n : {0, 1, 7, 16, 17, 33, 1000, 40001}) {
        CAPTURE(n);
        Generator g(static_cast<std::uint64_t>(n));
        auto x = uniform<T>({n}, g, T(c.lo), T(c.hi));
        std::vector<double> ref;
        for (index_t i = 0; i < n; ++i) ref.push_back(c.ref(test::elem(x, i)));
        test::check_close(apply(c.name, x), ref, rtol);
      }
      // A transposed (strided) input takes the scalar path; same values.
      Generator g(3);
      auto m = uniform<T>({37, 29}, g, T(c.lo), T(c.hi)).t();
      std::vector<double> ref;
      for (index_t i = 0; i < m.numel(); ++i) ref.push_back(c.ref(test::elem(m, i)));
      test::check_close(apply(c.name, m), ref, rtol);
    }
  });
}

TEST_CASE("in-place unary ops and pow") {
  auto x = Tensor<double, 1>::from({4}, {0.5, 1, 2, 4});
  CHECK(pow(x, 2.0).to_vector() == std::vector<double>{0.25, 1, 4, 16});
  CHECK(pow(x, 0.5).to_vector()[3] == 2);
  CHECK(pow(x, 3.0).to_vector()[2] == doctest::Approx(8));
  CHECK(pow(x, -1.0).to_vector()[0] == 2);
  auto y = x.clone();
  exp_(y);
  CHECK(y.to_vector()[1] == doctest::Approx(std::exp(1.0)));
  // In-place through a strided view touches only the view.
  auto m = zeros<double>({3, 4});
  exp_(m.narrow(1, 1, 2));
  CHECK(m.to_vector() == std::vector<double>{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("relu propagates NaN; activations handle infinities") {
  const double nan = std::nan("");
  auto x = Tensor<float, 1>::from({3}, {static_cast<float>(nan), -INFINITY, INFINITY});
  auto r = relu(x).to_vector();
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == 0);
  CHECK(r[2] == INFINITY);
  auto s = sigmoid(x).to_vector();
  CHECK(s[1] == 0);
  CHECK(s[2] == 1);
}

TEST_CASE("gelu_tanh and its gradient keep their relative precision where they are tiny (float)") {
  // For x in [-7, -3], 0.5 x (1 + tanh u) is 1e-15..1e-3 of x: computed that way in float,
  // 1 + tanh u keeps a few digits or none (tanh rounds to -1); as x sigmoid(2u) about five. The
  // reference takes the sigmoid form too, in double (the tanh form cancels even there).
  Generator g(4);
  const auto x = uniform<float>({1000}, g, -7.0f, -3.0f);
  Var<float, 1> v(x, true);
  const auto y = gelu_tanh(v);
  sum(y).backward();
  const double k = std::sqrt(2 / M_PI);
  for (index_t i = 0; i < x.numel(); ++i) {
    const double xi = x(i), u = k * (xi + 0.044715 * xi * xi * xi);
    const double s = 1 / (1 + std::exp(-2 * u));
    const double ref = xi * s, dref = s + 2 * xi * s * (1 - s) * k * (1 + 3 * 0.044715 * xi * xi);
    CAPTURE(xi);
    CHECK(std::abs(y.data()(i) - ref) <= 5e-5 * std::abs(ref));
    CHECK(std::abs(v.grad()(i) - dref) <= 5e-5 * std::abs(dref));
  }
}
