// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests: random inputs, element-by-index access through any strides,
// and closeness checks against double-precision references.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <pretext/pretext.hpp>

namespace pretext::test {

/// How many times the global operator new has run in this test binary (test_allocator.cpp
/// replaces it with a counting one).
long operator_new_calls();

/// Normal(0, 1) tensor from a fixed seed.
template <class T, std::size_t N>
Tensor<T, static_cast<int>(N)> randn(const index_t (&shape)[N], std::uint64_t seed = 1) {
  Generator g(seed);
  return normal<T>(shape, g);
}

/// Makes leaves with Normal(0, 1) values, each from the next seed: `Leaves<> leaf{100};` then
/// `leaf({3, 4})` or `leaf.make<float>({3, 4})`. Each test file owns one, so its seeds do not
/// depend on which other files ran.
struct Leaves {
  std::uint64_t next_seed;
  template <class T = double, std::size_t N>
  Var<T, static_cast<int>(N)> make(const index_t (&shape)[N]) {
    return Var<T, static_cast<int>(N)>(randn<T>(shape, next_seed++), true);
  }
  template <std::size_t N>
  Var<double, static_cast<int>(N)> operator()(const index_t (&shape)[N]) {
    return make<double>(shape);
  }
};

/// Element at row-major position i of any (possibly strided) tensor, as double.
template <class T, int R>
double elem(const Tensor<T, R>& t, index_t i) {
  index_t off = 0;
  for (int d = R - 1; d >= 0; --d) {
    const auto u = static_cast<std::size_t>(d);
    off += (i % t.shape()[u]) * t.strides()[u];
    i /= t.shape()[u];
  }
  return static_cast<double>(t.data()[off]);
}

/// Relative tolerance that suits T.
template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

/// |a - b| <= rtol * max(1, |b|) (NaN equals NaN, infinities equal themselves).
inline bool close(double a, double b, double rtol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= rtol * std::max(1.0, std::abs(b));
}

/// Checks every element of t against ref (row-major), reporting the first mismatch.
template <class T, int R>
void check_close(const Tensor<T, R>& t, const std::vector<double>& ref, double rtol) {
  REQUIRE(static_cast<std::size_t>(t.numel()) == ref.size());
  for (index_t i = 0; i < t.numel(); ++i) {
    const double a = elem(t, i), b = ref[static_cast<std::size_t>(i)];
    if (!close(a, b, rtol)) {
      FAIL_CHECK("element " << i << " of shape " << detail::shape_string(t.shape()) << ": got " << a
                            << ", expected " << b);
      return;
    }
  }
}

/// Checks ours against a reference tensor with |ours - ref| <= rtol * (|ref| + max|ref|): relative,
/// with the tensor's scale as the floor so that elements that cancel to near zero (sums of
/// products in another order) are not held to a bound they cannot meet. Reports the worst.
template <class A, class B, int R>
void check_scaled(const Tensor<A, R>& ours, const Tensor<B, R>& ref, const std::string& name,
                  double rtol) {
  REQUIRE(ours.shape() == ref.shape());
  double scale = 0;
  for (index_t i = 0; i < ref.numel(); ++i) scale = std::max(scale, std::abs(elem(ref, i)));
  double worst = 0;
  index_t at = -1;
  for (index_t i = 0; i < ref.numel(); ++i) {
    const double a = elem(ours, i), b = elem(ref, i);
    double excess = std::abs(a - b) / (rtol * (std::abs(b) + scale) + 1e-300);
    if (std::isnan(excess)) excess = std::isnan(a) && std::isnan(b) ? 0.0 : HUGE_VAL;
    if (excess > worst) worst = excess, at = i;
  }
  INFO(name << ": worst element " << at << ": ours " << (at >= 0 ? elem(ours, at) : 0.0)
            << ", reference " << (at >= 0 ? elem(ref, at) : 0.0) << " (" << worst
            << " of the tolerance)");
  CHECK(worst <= 1.0);
}

/// Runs body once with 1 thread and once with 2, restoring the previous count.
template <class F>
void with_threads(F&& body) {
  const int before = num_threads();
  for (int n : {1, 2}) {
    set_num_threads(n);
    CAPTURE(n);
    body(n);
  }
  set_num_threads(before);
}

/// The message of the pretext::error subclass E that f throws ("" when it throws none).
template <class E, class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace pretext::test
