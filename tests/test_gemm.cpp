// SPDX-License-Identifier: Apache-2.0
// Tests of cpu::gemm, cpu::gemm_batched (C (M, N) = op(A) (M, K) op(B) (K, N), batched (B, M, N))
// against gemm_reference, and of the tensor-level matmul, matmul_out and linear.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pretext/backend/cpu/gemm.hpp"
#include "pretext/backend/cpu/gemm_reference.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/ops/matmul.hpp"

namespace {

using pretext::index_t;
using pretext::cpu::Activation;
using pretext::cpu::Epilogue;
using pretext::cpu::Trans;

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<T> dist(T(-1), T(1));
  std::vector<T> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

/// Relative tolerance per sqrt(K): rounding error of a K-term sum grows about as sqrt(K).
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-13;
}

/// Every element of got within tolerance of want, relative to the largest |want| (at least 1).
template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, index_t K) {
  REQUIRE(got.size() == want.size());
  double scale = 1;
  for (T w : want) scale = std::max(scale, std::abs(static_cast<double>(w)));
  const double tol = tolerance<T>() * std::sqrt(static_cast<double>(K) + 1) * scale;
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    if (!(d <= tol) && !(std::isnan(got[i]) && std::isnan(want[i]))) {
      if (!bad) first = i;
      ++bad;
    }
  }
  INFO("first mismatch at ", first, ": got ", got[first], ", want ", want[first]);
  CHECK(bad == 0);
}

struct Case {
  Trans ta = Trans::no, tb = Trans::no;
  index_t M = 1, N = 1, K = 1;
  double alpha = 1, beta = 0;
  Activation act = Activation::none;
  bool bias = false;
  index_t pad = 0;     // extra elements per row of A, B and C
  bool nan_c = false;  // C starts as NaN (valid only with beta == 0)
};

/// Runs gemm and gemm_reference on the same random operands; checks C and that the padding
/// between C's rows is untouched.
template <class T>
void run_case(const Case& c) {
  CAPTURE(c.M);
  CAPTURE(c.N);
  CAPTURE(c.K);
  INFO("ta=", static_cast<int>(c.ta), " tb=", static_cast<int>(c.tb), " alpha=", c.alpha,
       " beta=", c.beta, " act=", static_cast<int>(c.act), " bias=", c.bias, " pad=", c.pad);
  const index_t a_rows = c.ta == Trans::no ? c.M : c.K, a_cols = c.ta == Trans::no ? c.K : c.M;
  const index_t b_rows = c.tb == Trans::no ? c.K : c.N, b_cols = c.tb == Trans::no ? c.N : c.K;
  const index_t lda = std::max<index_t>(a_cols, 1) + c.pad,
                ldb = std::max<index_t>(b_cols, 1) + c.pad, ldc = std::max<index_t>(c.N, 1) + c.pad;
  const auto A = random_values<T>(static_cast<std::size_t>(a_rows * lda), 1);
  const auto B = random_values<T>(static_cast<std::size_t>(b_rows * ldb), 2);
  const auto bias = random_values<T>(static_cast<std::size_t>(c.N), 3);
  auto C = random_values<T>(static_cast<std::size_t>(c.M * ldc), 4);
  if (c.nan_c) std::fill(C.begin(), C.end(), std::numeric_limits<T>::quiet_NaN());
  auto R = C;
  const Epilogue<T> ep{c.bias ? bias.data() : nullptr, c.act};
  pretext::cpu::gemm<T>(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), lda, B.data(), ldb,
                        T(c.beta), C.data(), ldc, ep);
  pretext::cpu::gemm_reference<T>(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), lda, B.data(),
                                  ldb, T(c.beta), R.data(), ldc, ep);
  if (c.nan_c) {
    // The padding keeps its NaN in both; compare only the matrix.
    for (index_t i = 0; i < c.M; ++i)
      for (index_t j = c.N; j < ldc; ++j)
        C[static_cast<std::size_t>(i * ldc + j)] = R[static_cast<std::size_t>(i * ldc + j)] = 0;
  }
  check_close(C, R, c.K);
}

/// Restores the thread count when a test ends, however it ends.
struct ThreadCount {
  int saved = pretext::num_threads();
  explicit ThreadCount(int n) { pretext::set_num_threads(n); }
  ~ThreadCount() { pretext::set_num_threads(saved); }
};

const Trans kTrans[] = {Trans::no, Trans::yes};

}  // namespace

TEST_CASE_TEMPLATE("gemm matches the reference on edge sizes and every transpose", T, float,
                   double) {
  const index_t sizes[] = {1, 2, 3, 7, 15, 17, 31, 33, 63, 65, 100, 129, 257};
  constexpr std::size_t n = std::size(sizes);
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; j += 2) {
          Case c{ta, tb, sizes[i], sizes[j], sizes[(i + j + 3) % n]};
          if (c.M * c.N * c.K > 600000) continue;
          run_case<T>(c);
        }
}

TEST_CASE_TEMPLATE("gemm crosses K and N cache blocks", T, float, double) {
  // K beyond KC (several K blocks: later blocks accumulate into C), N beyond NC.
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      run_case<T>({ta, tb, 19, 37, 900});
      run_case<T>({ta, tb, 5, 1400, 200});
      run_case<T>({ta, tb, 30, 50, 450, 0.5, 0.25, Activation::gelu, true});
    }
}

TEST_CASE_TEMPLATE("gemm with alpha and beta", T, float, double) {
  for (double alpha : {1.0, -0.5, 0.0})
    for (double beta : {0.0, 1.0, 0.75})
      for (index_t K : {index_t{50}, index_t{450}})
        run_case<T>({Trans::no, Trans::yes, 37, 45, K, alpha, beta});
}

TEST_CASE_TEMPLATE("gemm with beta = 0 never reads C", T, float, double) {
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      Case c{ta, tb, 29, 35, 40};
      c.nan_c = true;
      c.pad = 3;
      run_case<T>(c);
      c.K = 0;  // K == 0 with beta == 0: C = bias, still without reading the NaN
      c.bias = true;
      run_case<T>(c);
    }
}

TEST_CASE_TEMPLATE("gemm with K = 0 scales C and applies the epilogue", T, float, double) {
  run_case<T>({Trans::no, Trans::no, 9, 21, 0, 1.0, 0.5});
  run_case<T>({Trans::no, Trans::no, 9, 21, 0, 1.0, 0.5, Activation::relu, true});
  run_case<T>({Trans::yes, Trans::yes, 1, 1, 0, 2.0, 0.0, Activation::silu, true});
}

TEST_CASE_TEMPLATE("gemm with leading dimensions wider than the rows", T, float, double) {
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      Case c{ta, tb, 33, 47, 19, 1.0, 0.5};
      c.pad = 5;
      run_case<T>(c);
      c.M = 1;
      c.N = 1;
      c.K = 1;
      run_case<T>(c);
    }
}

TEST_CASE_TEMPLATE("gemm fuses bias and each activation", T, float, double) {
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu,
                         Activation::gelu_tanh, Activation::silu}) {
    run_case<T>({Trans::no, Trans::yes, 31, 70, 23, 1.0, 0.0, act, true});
    run_case<T>({Trans::no, Trans::no, 16, 64, 30, 1.0, 1.0, act, true});
    run_case<T>({Trans::yes, Trans::no, 15, 33, 400, 0.5, 0.0, act, false});
  }
}

TEST_CASE_TEMPLATE("gemm gives the same result on 1 and 2 threads", T, float, double) {
  for (int threads : {1, 2}) {
    ThreadCount guard(threads);
    CAPTURE(threads);
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        run_case<T>({ta, tb, 130, 150, 120, 1.0, 0.5, Activation::relu, true});
        run_case<T>({ta, tb, 20, 300, 130});  // wide: the threads split N
        run_case<T>({ta, tb, 300, 20, 130});  // tall: the threads split M
        // Tall with several N and K blocks: the threads pack B together, block by block.
        run_case<T>({ta, tb, 100, 1000, 900, 1.0, 0.5, Activation::gelu, true});
      }
  }
}

TEST_CASE_TEMPLATE("gemm_batched matches per-item gemm, with broadcast operands", T, float,
                   double) {
  const index_t M = 13, N = 21, K = 17;
  for (int threads : {1, 2}) {
    ThreadCount guard(threads);
    for (index_t batch : {index_t{1}, index_t{3}, index_t{4}})
      for (bool bcast_a : {false, true})
        for (bool bcast_b : {false, true}) {
          CAPTURE(threads);
          CAPTURE(batch);
          CAPTURE(bcast_a);
          CAPTURE(bcast_b);
          const index_t sa = bcast_a ? 0 : M * K, sb = bcast_b ? 0 : N * K, sc = M * N + 2;
          const auto A = random_values<T>(static_cast<std::size_t>(batch * M * K), 5);
          const auto B = random_values<T>(static_cast<std::size_t>(batch * N * K), 6);
          const auto bias = random_values<T>(static_cast<std::size_t>(N), 7);
          auto C = random_values<T>(static_cast<std::size_t>(batch * sc), 8);
          auto R = C;
          const Epilogue<T> ep{bias.data(), Activation::gelu_tanh};
          pretext::cpu::gemm_batched<T>(Trans::no, Trans::yes, batch, M, N, K, T(0.5), A.data(), K,
                                        sa, B.data(), K, sb, T(1), C.data(), N, sc, ep);
          for (index_t b = 0; b < batch; ++b)
            pretext::cpu::gemm_reference<T>(Trans::no, Trans::yes, M, N, K, T(0.5),
                                            A.data() + b * sa, K, B.data() + b * sb, K, T(1),
                                            R.data() + b * sc, N, ep);
          check_close(C, R, K);
        }
  }
}

namespace {

/// Reference product of two rank-2 tensors of any layout, in double.
template <class T>
std::vector<T> reference_product(const pretext::Tensor<T, 2>& a, const pretext::Tensor<T, 2>& b) {
  const auto ac = a.contiguous(), bc = b.contiguous();
  const index_t M = a.size(0), K = a.size(1), N = b.size(1);
  std::vector<T> out(static_cast<std::size_t>(M * N));
  pretext::cpu::gemm_reference<T>(Trans::no, Trans::no, M, N, K, T(1), ac.data(),
                                  std::max<index_t>(K, 1), bc.data(), std::max<index_t>(N, 1), T(0),
                                  out.data(), std::max<index_t>(N, 1));
  return out;
}

template <class T>
pretext::Tensor<T, 2> random_matrix(index_t rows, index_t cols, unsigned seed) {
  return pretext::Tensor<T, 2>::from({rows, cols},
                                     random_values<T>(static_cast<std::size_t>(rows * cols), seed));
}

}  // namespace

TEST_CASE_TEMPLATE("matmul reads transposed views in place and copies other layouts", T, float,
                   double) {
  const auto a = random_matrix<T>(23, 31, 1), b = random_matrix<T>(31, 19, 2);
  const auto at = random_matrix<T>(31, 23, 3).t();  // (23, 31), strides (1, 23)
  const auto bt = random_matrix<T>(19, 31, 4).t();  // (31, 19), strides (1, 31)
  const auto wide = random_matrix<T>(46, 62, 5);
  const auto strided = wide.slice(0, 0, 46, 2).slice(1, 0, 62, 2);  // (23, 31), no unit stride
  for (const auto& x : {a, at, strided})
    for (const auto& y : {b, bt}) {
      const auto c = pretext::matmul(x, y);
      CHECK(c.shape() == pretext::Shape<2>{23, 19});
      check_close(c.to_vector(), reference_product(x, y), 31);
    }
  // A row slice keeps unit column stride and a row stride wider than the row: no copy needed.
  const auto rows = wide.narrow(1, 3, 31).narrow(0, 0, 23);
  check_close(pretext::matmul(rows, b).to_vector(), reference_product(rows, b), 31);
}

TEST_CASE_TEMPLATE("matmul on rank 3 broadcasts a batch extent of 1", T, float, double) {
  const index_t B = 3, M = 9, K = 14, N = 11;
  auto rand3 = [](index_t b, index_t r, index_t c, unsigned seed) {
    return pretext::Tensor<T, 3>::from({b, r, c},
                                       random_values<T>(static_cast<std::size_t>(b * r * c), seed));
  };
  const auto a = rand3(B, M, K, 1), b = rand3(B, K, N, 2), b1 = rand3(1, K, N, 3);
  const auto a1 = rand3(1, M, K, 4), bt = rand3(B, N, K, 5).transpose(1, 2);
  const auto a_strided = rand3(B, M, 2 * K, 6).slice(2, 0, 2 * K, 2);
  struct Pair {
    pretext::Tensor<T, 3> x, y;
  };
  for (const auto& [x, y] :
       {Pair{a, b}, Pair{a, b1}, Pair{a1, b}, Pair{a, bt}, Pair{a_strided, bt}}) {
    const auto c = pretext::matmul(x, y);
    REQUIRE(c.shape() == pretext::Shape<3>{B, M, N});
    for (index_t i = 0; i < B; ++i) {
      const auto want = reference_product(x.select(0, x.size(0) == 1 ? 0 : i),
                                          y.select(0, y.size(0) == 1 ? 0 : i));
      check_close(c.select(0, i).to_vector(), want, K);
    }
  }
}

TEST_CASE_TEMPLATE("matmul_out writes into a strided view with alpha and beta", T, float, double) {
  const auto a = random_matrix<T>(12, 20, 1), b = random_matrix<T>(20, 9, 2);
  const auto big = random_matrix<T>(14, 15, 3);
  const auto before = big.clone();
  const auto out = big.narrow(0, 1, 12).narrow(1, 4, 9);  // (12, 9), row stride 15
  pretext::matmul_out(out, a, b.t().contiguous().t(), T(2), T(0.5));
  const auto ab = reference_product(a, b);
  for (index_t i = 0; i < 14; ++i)
    for (index_t j = 0; j < 15; ++j) {
      const bool inside = i >= 1 && i < 13 && j >= 4 && j < 13;
      const T old = before(i, j);
      const T want =
          inside ? T(2) * ab[static_cast<std::size_t>((i - 1) * 9 + (j - 4))] + T(0.5) * old : old;
      CHECK(std::abs(static_cast<double>(big(i, j) - want)) <= 100 * tolerance<T>());
    }
}

TEST_CASE_TEMPLATE("linear fuses bias and activation", T, float, double) {
  const index_t M = 37, K = 45, N = 29;
  const auto x = random_matrix<T>(M, K, 1), w = random_matrix<T>(N, K, 2);
  const auto bias = pretext::Tensor<T, 1>::from({N}, random_values<T>(N, 3));
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu,
                         Activation::gelu_tanh, Activation::silu}) {
    std::vector<T> want(static_cast<std::size_t>(M * N));
    pretext::cpu::gemm_reference<T>(Trans::no, Trans::yes, M, N, K, T(1), x.data(), K, w.data(), K,
                                    T(0), want.data(), N, {bias.data(), act});
    check_close(pretext::linear(x, w, &bias, act).to_vector(), want, K);
    check_close(pretext::linear(x, w, std::optional(bias), act).to_vector(), want, K);
  }
  std::vector<T> plain(static_cast<std::size_t>(M * N));
  pretext::cpu::gemm_reference<T>(Trans::no, Trans::yes, M, N, K, T(1), x.data(), K, w.data(), K,
                                  T(0), plain.data(), N);
  check_close(pretext::linear(x, w).to_vector(), plain, K);
  // A transposed weight view goes through the same path.
  const auto w_t = w.t().contiguous().t();
  check_close(pretext::linear(x, w_t).to_vector(), plain, K);
}

TEST_CASE("matmul shape errors name the op and both shapes") {
  const auto a = pretext::zeros<float>({2, 3}), b = pretext::zeros<float>({4, 5});
  try {
    (void)pretext::matmul(a, b);
    FAIL("no shape_error");
  } catch (const pretext::shape_error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("pretext::matmul") != std::string::npos);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    CHECK(msg.find("[4, 5]") != std::string::npos);
  }
  const auto a3 = pretext::zeros<float>({2, 3, 4}), b3 = pretext::zeros<float>({3, 4, 5});
  CHECK_THROWS_AS((void)pretext::matmul(a3, b3), pretext::shape_error);
  CHECK_THROWS_WITH_AS((void)pretext::matmul(a3, b3), doctest::Contains("[3, 4, 5]"),
                       pretext::shape_error);
  CHECK_THROWS_AS((void)pretext::linear(a, b), pretext::shape_error);
  const auto out = pretext::zeros<float>({2, 4});
  CHECK_THROWS_AS(pretext::matmul_out(out, a, pretext::zeros<float>({3, 5})), pretext::shape_error);
  CHECK_THROWS_AS(pretext::cpu::gemm<float>(Trans::no, Trans::no, 2, 2, 2, 1.0f, nullptr, 1,
                                            nullptr, 2, 0.0f, nullptr, 2),
                  pretext::shape_error);
}
