// SPDX-License-Identifier: Apache-2.0
// Evaluation toolkit: feature extraction (batches, no graph, modes restored), standardisation,
// the logistic-regression objective (finite differences in double), L-BFGS (quadratic to 1e-8,
// Rosenbrock), the linear probe (separable data, random labels, weight-decay selection on the
// validation split, one example per class), stratified splits, weighted kNN (hand-made cases,
// a brute-force double reference), mean ± std, results tables as JSON and text, SVG output.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pretext/eval.hpp>
#include <pretext/pretext.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace pretext;
namespace ev = pretext::eval;

namespace {

using Labels = Tensor<std::int64_t, 1>;

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// The message of the exception fn throws (empty when it throws none).
template <class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

/// Gaussian blobs: C class centres drawn at scale `sep`, unit noise around them; labels i % C,
/// or with `imbalanced` (C = 3) classes 0, 1, 2 for half, 30% and 20% of the rows.
template <class T>
std::pair<Tensor<T, 2>, Labels> blobs(index_t n, index_t d, index_t c, double sep,
                                      std::uint64_t seed, bool imbalanced = false) {
  Generator gc(99), g(seed);
  const auto centres = normal<T>({c, d}, gc, T(0), static_cast<T>(sep));
  auto x = normal<T>({n, d}, g);
  Labels y(Shape<1>{n});
  for (index_t i = 0; i < n; ++i) {
    y(i) = imbalanced ? (i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2) : i % c;
    for (index_t j = 0; j < d; ++j) x(i, j) += centres(y(i), j);
  }
  return {x, y};
}

Labels random_labels(index_t n, index_t c, std::uint64_t seed) {
  Generator g(seed);
  const auto u = uniform<double>({n}, g);
  Labels y(Shape<1>{n});
  for (index_t i = 0; i < n; ++i) y(i) = std::min<index_t>(c - 1, static_cast<index_t>(u(i) * c));
  return y;
}

/// Whether every start tag in an XML document has its end tag, in order (self-closing tags,
/// the declaration and comments aside), and nothing but whitespace follows the root.
bool balanced_xml(const std::string& doc) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  bool root_closed = false;
  while ((i = doc.find('<', i)) != std::string::npos) {
    const std::size_t end = doc.find('>', i);
    if (end == std::string::npos) return false;
    const std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (root_closed) return false;
    if (tag.back() == '/') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return false;
      stack.pop_back();
      if (stack.empty()) root_closed = true;
      continue;
    }
    stack.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
  }
  // Text outside tags must not hold a raw '&' that is not an entity.
  for (std::size_t a = doc.find('&'); a != std::string::npos; a = doc.find('&', a + 1)) {
    const std::size_t semi = doc.find(';', a);
    if (semi == std::string::npos || semi - a > 6) return false;
  }
  return stack.empty() && root_closed;
}

// ---- an encoder module that records how it is called ---------------------------------------

struct Recorder : nn::Module<Recorder> {
  using value_type = float;
  Var<float, 2> w;
  nn::Dropout drop{0.5};
  std::vector<index_t> batch_sizes;
  std::vector<bool> saw_training, saw_drop_training, saw_grad;
  int throw_on_call = -1;

  explicit Recorder(index_t in, index_t out) {
    Generator g(5);
    w = Var<float, 2>(normal<float>({in, out}, g), true);
  }
  template <class V>
  void visit(V& v) {
    v.param("w", w);
    v.module("drop", drop);
  }
  Var<float, 2> operator()(const Var<float, 2>& x) {
    if (static_cast<int>(batch_sizes.size()) == throw_on_call)
      throw std::runtime_error("encoder failure");
    batch_sizes.push_back(x.size(0));
    saw_training.push_back(is_training());
    saw_drop_training.push_back(drop.is_training());
    saw_grad.push_back(grad_enabled());
    return drop(matmul(x, w));
  }
};

}  // namespace

// ---- features ---------------------------------------------------------------------------------

TEST_CASE("extract_features: batches along the first axis, no graph, eval mode, modes restored") {
  Generator g(1);
  const auto x = normal<float>({10, 6}, g);
  Recorder enc(6, 3);
  enc.drop.eval();  // a mixed tree: the parent trains, the dropout is frozen
  const auto f = ev::extract_features(enc, x, 4);
  CHECK(f.shape() == Shape<2>{10, 3});
  CHECK(enc.batch_sizes == std::vector<index_t>{4, 4, 2});
  for (std::size_t i = 0; i < enc.batch_sizes.size(); ++i) {
    CHECK_FALSE(enc.saw_training[i]);
    CHECK_FALSE(enc.saw_drop_training[i]);
    CHECK_FALSE(enc.saw_grad[i]);
  }
  CHECK(enc.is_training());
  CHECK_FALSE(enc.drop.is_training());
  CHECK(grad_enabled());
  // In eval mode the dropout is the identity: features are x w, row for row.
  const auto ref = matmul(x, enc.w.data());
  for (index_t i = 0; i < 10; ++i)
    for (index_t j = 0; j < 3; ++j) CHECK(f(i, j) == doctest::Approx(ref(i, j)).epsilon(1e-5));

  SUBCASE("the modes come back when the encoder throws") {
    Recorder bad(6, 3);
    bad.throw_on_call = 1;
    CHECK_THROWS_AS(ev::extract_features(bad, x, 4), std::runtime_error);
    CHECK(bad.is_training());
    CHECK(bad.drop.is_training());
    CHECK(grad_enabled());
  }
}

TEST_CASE("extract_features: plain callables, any input rank, and shape errors") {
  Generator g(2);
  const auto x = normal<float>({5, 1, 2, 2}, g);
  const auto f = ev::extract_features(
      [](const Var<float, 4>& v) {
        return reshape(v, std::array<index_t, 2>{v.size(0), 4});
      },
      x, 2);
  CHECK(f.shape() == Shape<2>{5, 4});
  CHECK(f.to_vector() == x.reshape({5, 4}).to_vector());
  // A callable returning a plain tensor in another precision: the result has its type.
  const auto fd = ev::extract_features(
      [](const Var<float, 4>& v) {
        Tensor<double, 2> t(Shape<2>{v.size(0), 1});
        t.fill_(1.5);
        return t;
      },
      x);
  CHECK(fd.shape() == Shape<2>{5, 1});
  CHECK(fd(4, 0) == 1.5);

  const auto wrong_rows = [&] {
    ev::extract_features(
        [](const Var<float, 4>&) {
          return Tensor<float, 2>::zeros({3, 2});
        },
        x, 2);
  };
  CHECK_THROWS_AS(wrong_rows(), shape_error);
  CHECK(message_of(wrong_rows).find("[3, 2]") != std::string::npos);
  CHECK_THROWS_AS(ev::extract_features(
                      [](const Var<float, 4>& v) {
                        return v.data().reshape({v.size(0), 4});
                      },
                      x, 0),
                  config_error);
}

TEST_CASE("standardize: train statistics for both sets, constant columns keep scale 1") {
  const auto train = Tensor<double, 2>::from({4, 3}, {1, 5, 2,  //
                                                      2, 5, 4,  //
                                                      3, 5, 6,  //
                                                      4, 5, 8});
  const auto test = Tensor<double, 2>::from({1, 3}, {5, 6, 2});
  const auto s = ev::fit_standardizer(train);
  CHECK(s.mean.to_vector() == std::vector<double>{2.5, 5, 5});
  CHECK(s.scale(0) == doctest::Approx(std::sqrt(1.25)));
  CHECK(s.scale(1) == 1.0);  // constant on train
  CHECK(s.scale(2) == doctest::Approx(2 * std::sqrt(1.25)));
  const auto [a, b] = ev::standardize(train, test);
  for (index_t j = 0; j < 3; ++j) {
    double m = 0, v = 0;
    for (index_t i = 0; i < 4; ++i) m += a(i, j) / 4;
    for (index_t i = 0; i < 4; ++i) v += (a(i, j) - m) * (a(i, j) - m) / 4;
    CHECK(m == doctest::Approx(0).epsilon(1e-12));
    CHECK(v == doctest::Approx(j == 1 ? 0.0 : 1.0));
  }
  CHECK(b(0, 0) == doctest::Approx((5 - 2.5) / std::sqrt(1.25)));
  CHECK(b(0, 1) == doctest::Approx(1.0));  // 6 - 5, unscaled
  const auto mismatch = [&] { ev::standardize(train, Tensor<double, 2>::zeros({2, 4})); };
  CHECK_THROWS_AS(mismatch(), shape_error);
  CHECK(message_of(mismatch).find("[4, 3]") != std::string::npos);
  CHECK(message_of(mismatch).find("[2, 4]") != std::string::npos);
}

// ---- logistic regression and L-BFGS -------------------------------------------------------------

TEST_CASE("logistic_loss_grad: log C at zero and central finite differences in double") {
  // C = 4 takes the one-pass kernel (21 rows: two blocks of 8 and five single rows), C = 40 the
  // two GEMMs.
  for (const index_t C : {index_t{4}, index_t{40}}) {
    CAPTURE(C);
    Generator g(3);
    const index_t N = 21, D = 5;
    const auto x = normal<double>({N, D}, g);
    const auto y = random_labels(N, C, 4);
    auto w = Tensor<double, 2>::zeros({C, D});
    auto b = Tensor<double, 1>::zeros({C});
    CHECK(ev::logistic_loss_grad(x, y, w, b, 0.5) ==
          doctest::Approx(std::log(static_cast<double>(C))));

    w = normal<double>({C, D}, g);
    b = normal<double>({C}, g);
    const double wd = 0.3;
    Tensor<double, 2> gw;
    Tensor<double, 1> gb;
    ev::logistic_loss_grad(x, y, w, b, wd, &gw, &gb);
    const double eps = 1e-5;
    double worst = 0;
    auto check = [&](double& param, double analytic) {
      const double keep = param;
      param = keep + eps;
      const double fp = ev::logistic_loss_grad(x, y, w, b, wd);
      param = keep - eps;
      const double fm = ev::logistic_loss_grad(x, y, w, b, wd);
      param = keep;
      const double numeric = (fp - fm) / (2 * eps);
      // Relative, with a floor: with 40 classes some derivatives are ~1e-5, and the difference
      // quotient's own rounding (~1e-10 at eps 1e-5) would already be 1e-5 of them.
      worst = std::max(worst, std::abs(numeric - analytic) / (1e-3 + std::abs(numeric)));
    };
    for (index_t c = 0; c < C; ++c) {
      for (index_t j = 0; j < D; ++j) check(w(c, j), gw(c, j));
      check(b(c), gb(c));
    }
    CHECK(worst < 1e-6);
  }
}

TEST_CASE_TEMPLATE(
    "cpu::softmax_xent_fused: equals two GEMMs, and is the same for any thread count", T, float,
    double) {
  // 1,500 rows: three chunks, the last ending in a partial block of 8; 7 classes: pairs and
  // one single; 300 columns: several column tiles and a tail past the last whole vector.
  const index_t N = 1500, D = 300, C = 7;
  Generator g(8);
  const auto x = uniform<T>({N, D}, g, T(-1), T(1));
  const auto w = uniform<T>({C, D}, g, T(-0.2), T(0.2));
  const auto b = uniform<T>({C}, g, T(-1), T(1));
  const auto y = random_labels(N, C, 9);
  Tensor<T, 2> gw_ref(Shape<2>{C, D});
  Tensor<T, 1> gb_ref(Shape<1>{C});
  const double f_ref = ev::probe_detail::softmax_xent_two_gemms(x, y, w, b, &gw_ref, &gb_ref);
  CHECK(f_ref > 0.5);  // far from a trivial fit: the gradients are not near zero

  const int keep_threads = num_threads();
  auto run = [&](int threads, Tensor<T, 2>& gw, Tensor<T, 1>& gb) {
    set_num_threads(threads);
    gw = Tensor<T, 2>(Shape<2>{C, D});
    gb = Tensor<T, 1>(Shape<1>{C});
    return cpu::softmax_xent_fused(x.data(), N, D, y.data(), w.data(), b.data(), C, gw.data(),
                                   gb.data());
  };
  Tensor<T, 2> gw1, gw3;
  Tensor<T, 1> gb1, gb3;
  const double f1 = run(1, gw1, gb1), f3 = run(3, gw3, gb3);
  set_num_threads(keep_threads);

  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  CHECK(f1 == doctest::Approx(f_ref).epsilon(tol));
  double scale = 0, worst = 0;
  for (index_t j = 0; j < C * D; ++j) {
    scale = std::max(scale, std::abs(static_cast<double>(gw_ref.data()[j])));
    worst = std::max(worst, std::abs(static_cast<double>(gw1.data()[j] - gw_ref.data()[j])));
  }
  CHECK(worst <= tol * scale);
  for (index_t c = 0; c < C; ++c)
    CHECK(static_cast<double>(gb1(c)) ==
          doctest::Approx(static_cast<double>(gb_ref(c))).epsilon(tol * 10).scale(1e-3));
  // Bit for bit across thread counts.
  CHECK(f1 == f3);
  CHECK(std::equal(gw1.data(), gw1.data() + C * D, gw3.data()));
  CHECK(std::equal(gb1.data(), gb1.data() + C, gb3.data()));

  // Without gradients: the same loss.
  CHECK(cpu::softmax_xent_fused<T>(x.data(), N, D, y.data(), w.data(), b.data(), C, nullptr,
                                   nullptr) == f1);
}

TEST_CASE("lbfgs_minimize: an ill-conditioned convex quadratic to 1e-8, and Rosenbrock") {
  // f(x) = 1/2 x' A x - b' x with A = Q diag(lambda) Q', lambda from 1 to 1000, Q orthogonal
  // (Gram-Schmidt of a random matrix); x* = Q diag(1 / lambda) Q' b.
  const std::size_t n = 40;
  Generator g(6);
  const auto r = normal<double>({static_cast<index_t>(n), static_cast<index_t>(n)}, g);
  std::vector<std::vector<double>> Q(n, std::vector<double>(n));
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t i = 0; i < n; ++i)
      Q[k][i] = r(static_cast<index_t>(k), static_cast<index_t>(i));
    for (std::size_t p = 0; p < k; ++p) {
      double d = 0;
      for (std::size_t i = 0; i < n; ++i) d += Q[k][i] * Q[p][i];
      for (std::size_t i = 0; i < n; ++i) Q[k][i] -= d * Q[p][i];
    }
    double nrm = 0;
    for (double v : Q[k]) nrm += v * v;
    for (double& v : Q[k]) v /= std::sqrt(nrm);
  }
  std::vector<double> lambda(n), bvec(n), xstar(n, 0.0);
  for (std::size_t k = 0; k < n; ++k) {
    lambda[k] = std::pow(1000.0, static_cast<double>(k) / static_cast<double>(n - 1));
    bvec[k] = std::sin(static_cast<double>(k) + 1.0);
  }
  for (std::size_t k = 0; k < n; ++k) {
    double qb = 0;
    for (std::size_t i = 0; i < n; ++i) qb += Q[k][i] * bvec[i];
    for (std::size_t i = 0; i < n; ++i) xstar[i] += Q[k][i] * qb / lambda[k];
  }
  auto fg = [&](const std::vector<double>& x, std::vector<double>& grad) {
    std::fill(grad.begin(), grad.end(), 0.0);
    double f = 0;
    for (std::size_t k = 0; k < n; ++k) {
      double qx = 0;
      for (std::size_t i = 0; i < n; ++i) qx += Q[k][i] * x[i];
      f += 0.5 * lambda[k] * qx * qx;
      for (std::size_t i = 0; i < n; ++i) grad[i] += lambda[k] * qx * Q[k][i];
    }
    for (std::size_t i = 0; i < n; ++i) {
      f -= bvec[i] * x[i];
      grad[i] -= bvec[i];
    }
    return f;
  };
  std::vector<double> x(n, 0.0);
  ev::LbfgsOptions opt;
  opt.max_iter = 2000;
  opt.gtol = 1e-11;
  opt.ftol = 0;
  const auto res = ev::lbfgs_minimize(fg, x, opt);
  CHECK(res.stop == ev::LbfgsStop::gradient);
  CHECK(res.converged());
  double err = 0;
  for (std::size_t i = 0; i < n; ++i) err = std::max(err, std::abs(x[i] - xstar[i]));
  CHECK(err < 1e-8);
  CHECK(res.iterations < 500);

  std::vector<double> z{-1.2, 1.0};
  auto rosen = [](const std::vector<double>& v, std::vector<double>& grad) {
    const double a = 1 - v[0], b = v[1] - v[0] * v[0];
    grad[0] = -2 * a - 400 * v[0] * b;
    grad[1] = 200 * b;
    return a * a + 100 * b * b;
  };
  opt.gtol = 1e-10;
  const auto rr = ev::lbfgs_minimize(rosen, z, opt);
  CHECK(rr.converged());
  CHECK(z[0] == doctest::Approx(1.0).epsilon(1e-7));
  CHECK(z[1] == doctest::Approx(1.0).epsilon(1e-7));

  std::vector<double> bad{std::nan("")};
  CHECK_THROWS_AS(ev::lbfgs_minimize(
                      [](const std::vector<double>& v, std::vector<double>& gr) {
                        gr[0] = v[0];
                        return v[0];
                      },
                      bad),
                  numeric_error);
}

TEST_CASE("LogisticRegression: fit, predict, probabilities and warm start") {
  const auto [x, y] = blobs<double>(300, 8, 3, 4.0, 10);
  ev::LogisticRegression<double> lr(ev::LogisticOptions{.weight_decay = 1e-3});
  CHECK_THROWS_AS(lr.predict(x), config_error);
  const auto res = lr.fit(x, y);
  CHECK(res.converged());
  CHECK(lr.num_classes() == 3);
  CHECK(lr.score(x, y) > 0.97);
  const auto p = lr.predict_proba(x);
  for (index_t i = 0; i < 5; ++i) {
    double s = 0;
    for (index_t c = 0; c < 3; ++c) s += p(i, c);
    CHECK(s == doctest::Approx(1.0));
  }
  // The optimum of the regularised (strictly convex) objective: a warm restart stays there.
  lr.options().warm_start = true;
  const auto again = lr.fit(x, y);
  CHECK(again.iterations <= 2);
  CHECK(again.f == doctest::Approx(res.f).epsilon(1e-9));
}

TEST_CASE("probe_as_linear: the folded layer gives the probe's logits on raw features") {
  // Columns on very different scales and offsets, so the folding of the standardisation shows.
  auto [x, y] = blobs<float>(240, 6, 4, 3.0, 12);
  for (index_t i = 0; i < x.size(0); ++i)
    for (index_t j = 0; j < 6; ++j) x(i, j) = x(i, j) * static_cast<float>(1 + 10 * j) + 5.0f * j;
  const auto st = ev::fit_standardizer(x);
  ev::LogisticRegression<float> lr(ev::LogisticOptions{.weight_decay = 1e-2});
  CHECK_THROWS_AS(ev::probe_as_linear(st, lr), config_error);  // not fitted yet
  lr.fit(st.transform(x), y);
  const auto want = lr.decision_function(st.transform(x));  // (240, 4)
  const auto layer = ev::probe_as_linear<6, 4>(st, lr);
  CHECK(layer.in_features() == 6);
  CHECK(layer.out_features() == 4);
  NoGrad no_grad;
  const auto got = layer(Var<float, 2>(x)).data();
  double worst = 0;
  for (index_t i = 0; i < want.size(0); ++i)
    for (index_t c = 0; c < 4; ++c)
      worst = std::max(worst, std::abs(static_cast<double>(got(i, c) - want(i, c))) /
                                  (1.0 + std::abs(static_cast<double>(want(i, c)))));
  CHECK(worst < 1e-4);
  // The same predictions, so the same accuracy: the fold loses nothing a probe would measure.
  CHECK(ev::accuracy(argmax(got, 1), y) == doctest::Approx(lr.score(st.transform(x), y)));
  // A dynamic layer, a static width that disagrees, and a standardizer of another width.
  CHECK(ev::probe_as_linear(st, lr).in_features() == 6);
  CHECK_THROWS_AS((ev::probe_as_linear<5, 4>(st, lr)), config_error);
  const auto other = ev::fit_standardizer(x.narrow(1, 0, 5).contiguous());
  CHECK_THROWS_AS(ev::probe_as_linear(other, lr), shape_error);
}

// ---- linear probe -----------------------------------------------------------------------------

TEST_CASE("linear_probe: near 100% on separable data, chance on random labels") {
  const auto [xtr, ytr] = blobs<float>(400, 16, 4, 3.0, 11);
  const auto [xte, yte] = blobs<float>(400, 16, 4, 3.0, 12);
  const auto r = ev::linear_probe(xtr, ytr, xte, yte);
  CHECK(r.accuracy >= 0.99);
  CHECK(r.train_accuracy >= 0.99);
  CHECK(r.num_classes == 4);
  CHECK(r.val_size == 40);
  CHECK(r.val_accuracies.size() == 5);
  CHECK(r.iterations >= 1);

  Generator g(13);
  const auto xa = normal<float>({600, 20}, g), xb = normal<float>({2000, 20}, g);
  const auto ya = random_labels(600, 5, 14), yb = random_labels(2000, 5, 15);
  const auto rr = ev::linear_probe(xa, ya, xb, yb);
  CHECK(rr.accuracy > 0.15);
  CHECK(rr.accuracy < 0.25);
}

TEST_CASE("linear_probe: the weight decay is chosen on the seeded validation split") {
  // Imbalanced classes, so that a model pinned at W ~ 0 (wd = 1e6) predicts the majority class
  // from its bias alone: 50% accuracy against ~100% without decay.
  const auto [xtr, ytr] = blobs<float>(300, 10, 3, 3.0, 21, true);
  const auto [xte, yte] = blobs<float>(300, 10, 3, 3.0, 22, true);
  ev::ProbeOptions o;
  o.weight_decays = {0.0, 1e6};
  o.seed = 7;
  const auto r = ev::linear_probe(xtr, ytr, xte, yte, o);
  CHECK(r.weight_decay == 0.0);
  CHECK(r.val_accuracies.size() == 2);
  CHECK(r.val_accuracies[0] > r.val_accuracies[1]);
  CHECK(r.val_accuracy == r.val_accuracies[0]);
  CHECK(r.val_size == 30);

  // The same numbers by hand: standardise with all of train, split with the seed, fit the
  // largest wd first, then the next from its solution, and score on the held-out rows.
  const auto [xs, xt] = ev::standardize(xtr, xte);
  const auto split = ev::stratified_split(ytr, 0.1, 7);
  const auto xf = pretext::data::take_rows(xs, split.first),
             xv = pretext::data::take_rows(xs, split.second);
  const auto yf = pretext::data::take_rows(ytr, split.first),
             yv = pretext::data::take_rows(ytr, split.second);
  ev::LogisticRegression<float> lr(
      ev::LogisticOptions{.weight_decay = 1e6, .num_classes = 3, .warm_start = true});
  lr.fit(xf, yf);
  CHECK(lr.score(xv, yv) == r.val_accuracies[1]);
  lr.options().weight_decay = 0;
  lr.fit(xf, yf);
  CHECK(lr.score(xv, yv) == r.val_accuracies[0]);

  // Deterministic by seed, whatever the order of the candidates.
  const auto again = ev::linear_probe(xtr, ytr, xte, yte, o);
  CHECK(again.accuracy == r.accuracy);
  CHECK(again.val_accuracies == r.val_accuracies);
  o.weight_decays = {1e6, 0.0};
  const auto swapped = ev::linear_probe(xtr, ytr, xte, yte, o);
  CHECK(swapped.weight_decay == 0.0);
  CHECK(swapped.val_accuracies[0] == r.val_accuracies[1]);

  // One candidate: no split, the whole training set is fitted once.
  o.weight_decays = {1e-4};
  const auto single = ev::linear_probe(xtr, ytr, xte, yte, o);
  CHECK(single.val_size == 0);
  CHECK(single.val_accuracies.empty());
  CHECK(std::isnan(single.val_accuracy));
  CHECK(single.weight_decay == 1e-4);
}

TEST_CASE("fit_linear_probe: the probe linear_probe scores, kept for predictions and LP-FT") {
  // Columns on very different scales, so that a probe that skipped its standardisation on new
  // features would predict differently.
  auto [xtr, ytr] = blobs<float>(300, 8, 3, 2.0, 41);
  auto [xte, yte] = blobs<float>(200, 8, 3, 2.0, 42);
  for (auto* x : {&xtr, &xte})
    for (index_t i = 0; i < x->size(0); ++i)
      for (index_t j = 0; j < 8; ++j) (*x)(i, j) = (*x)(i, j) * float(1 + 7 * j) + float(3 * j);
  ev::ProbeOptions o;
  o.weight_decays = {1e-4, 1e-2, 1.0};
  o.seed = 5;
  const auto probe = ev::fit_linear_probe(xtr, ytr, o);
  const auto r = ev::linear_probe(xtr, ytr, xte, yte, o);
  // The same fit: the same choice, the same model, and its score is linear_probe's accuracy.
  CHECK(probe.result.weight_decay == r.weight_decay);
  CHECK(probe.result.val_accuracies == r.val_accuracies);
  CHECK(probe.result.iterations == r.iterations);
  CHECK(probe.result.train_accuracy == r.train_accuracy);
  CHECK(std::isnan(probe.result.accuracy));  // no test set seen
  CHECK(probe.score(xte, yte) == r.accuracy);
  CHECK(r.accuracy > 0.9);
  // predict and score take raw features and standardise them; the model alone on raw features
  // gives other logits.
  CHECK(probe.predict(xte).to_vector() ==
        probe.model.predict(probe.standardizer.transform(xte)).to_vector());
  const auto mine = probe.decision_function(xte), bare = probe.model.decision_function(xte);
  double apart = 0;
  for (index_t i = 0; i < mine.numel(); ++i)
    apart = std::max(apart, std::abs(double(mine.data()[i]) - bare.data()[i]));
  CHECK(apart > 1.0);
  // Folded into a layer: the same logits on raw features.
  const auto layer = ev::probe_as_linear<8, 3>(probe);
  NoGrad no_grad;
  const auto got = layer(Var<float, 2>(xte)).data();
  const auto want = probe.decision_function(xte);
  double worst = 0;
  for (index_t i = 0; i < want.numel(); ++i)
    worst = std::max(worst, std::abs(double(got.data()[i]) - want.data()[i]) /
                                (1.0 + std::abs(double(want.data()[i]))));
  CHECK(worst < 1e-4);
  // Without standardisation the probe's standardizer is the identity.
  o.standardize = false;
  const auto raw = ev::fit_linear_probe(xtr, ytr, o);
  CHECK(raw.standardizer.transform(xte).to_vector() == xte.to_vector());
  CHECK(raw.score(xte, yte) == ev::linear_probe(xtr, ytr, xte, yte, o).accuracy);
  // Bad use names the operation.
  CHECK_THROWS_WITH_AS(ev::fit_linear_probe(xtr, ytr.narrow(0, 0, 10).contiguous()),
                       doctest::Contains("fit_linear_probe"), shape_error);
  o.weight_decays = {};
  CHECK_THROWS_WITH_AS(ev::fit_linear_probe(xtr, ytr, o), doctest::Contains("fit_linear_probe"),
                       config_error);
}

TEST_CASE("signed_power and ProbeOptions::power: sign(f) |f|^p before standardising") {
  Tensor<float, 2> x(Shape<2>{2, 3});
  const std::vector<float> v = {4.0f, -9.0f, 0.0f, 0.25f, -1e-8f, 2.0f};
  std::copy(v.begin(), v.end(), x.data());
  const auto h = ev::signed_power(x, 0.5);
  CHECK(h(0, 0) == doctest::Approx(2.0));
  CHECK(h(0, 1) == doctest::Approx(-3.0));  // the sign is kept
  CHECK(h(0, 2) == 0.0f);
  CHECK(h(1, 0) == doctest::Approx(0.5));
  CHECK(h(1, 1) == doctest::Approx(-1e-4).epsilon(1e-5).scale(0));  // relative, not absolute
  const auto c = ev::signed_power(x, 1.0 / 3.0);
  CHECK(c(0, 1) == doctest::Approx(-std::cbrt(9.0)));
  CHECK(c(1, 2) == doctest::Approx(std::cbrt(2.0)));
  CHECK(ev::signed_power(x, 1.0).to_vector() == x.to_vector());
  // A strided view gives the same as its contiguous copy.
  CHECK(ev::signed_power(x.t(), 0.5).to_vector() ==
        ev::signed_power(x.t().contiguous(), 0.5).to_vector());
  for (double bad : {0.0, -0.5, std::nan(""), std::numeric_limits<double>::infinity(), 1e-50})
    CHECK_THROWS_WITH_AS(ev::signed_power(x, bad), doctest::Contains("power"), config_error);
  // Special values: NaN stays NaN, infinities keep their sign; and in double.
  Tensor<double, 2> d(Shape<2>{1, 4});
  d(0, 0) = std::nan("");
  d(0, 1) = -std::numeric_limits<double>::infinity();
  d(0, 2) = std::numeric_limits<double>::infinity();
  d(0, 3) = -2.0;
  const auto dh = ev::signed_power(d, 0.5);
  CHECK(std::isnan(dh(0, 0)));
  CHECK(dh(0, 1) == -std::numeric_limits<double>::infinity());
  CHECK(dh(0, 2) == std::numeric_limits<double>::infinity());
  CHECK(dh(0, 3) == doctest::Approx(-std::sqrt(2.0)).epsilon(1e-15));
  CHECK(ev::signed_power(d, 0.25)(0, 3) == doctest::Approx(-std::pow(2.0, 0.25)).epsilon(1e-15));

  // Heavy-tailed non-negative features, as ReLU features are: the probe with power 0.5 is the
  // probe with power 1 on features square-rooted by hand, and its predict applies the root.
  auto [xtr, ytr] = blobs<float>(300, 8, 3, 1.5, 51);
  auto [xte, yte] = blobs<float>(200, 8, 3, 1.5, 52);
  for (auto* f : {&xtr, &xte})
    for (index_t i = 0; i < f->numel(); ++i) f->data()[i] = std::exp(f->data()[i]);
  ev::ProbeOptions o;
  o.weight_decays = {1e-4, 1e-2};
  o.seed = 3;
  o.power = 0.5;
  const auto probe = ev::fit_linear_probe(xtr, ytr, o);
  CHECK(probe.power == 0.5);
  ev::ProbeOptions plain = o;
  plain.power = 1;
  const auto rtr = ev::signed_power(xtr, 0.5), rte = ev::signed_power(xte, 0.5);
  const auto by_hand = ev::fit_linear_probe(rtr, ytr, plain);
  CHECK(probe.result.weight_decay == by_hand.result.weight_decay);
  CHECK(probe.result.val_accuracies == by_hand.result.val_accuracies);
  CHECK(probe.model.weight().to_vector() == by_hand.model.weight().to_vector());
  CHECK(probe.predict(xte).to_vector() == by_hand.predict(rte).to_vector());
  CHECK(probe.score(xte, yte) == ev::linear_probe(xtr, ytr, xte, yte, o).accuracy);
  CHECK(probe.score(xte, yte) == by_hand.score(rte, yte));
  // The root changes what the probe sees: on raw features the logits differ.
  const auto mine = probe.decision_function(xte), raw = by_hand.decision_function(xte);
  double apart = 0;
  for (index_t i = 0; i < mine.numel(); ++i)
    apart = std::max(apart, std::abs(double(mine.data()[i]) - raw.data()[i]));
  CHECK(apart > 0.1);
  // Not linear in raw features: it cannot be folded into a layer; bad powers are refused.
  CHECK_THROWS_WITH_AS(ev::probe_as_linear(probe), doctest::Contains("power"), config_error);
  CHECK_NOTHROW(ev::probe_as_linear(by_hand));
  // Without standardisation the power still applies, to the raw features.
  o.standardize = false;
  plain.standardize = false;
  const auto unscaled = ev::fit_linear_probe(xtr, ytr, o);
  CHECK(unscaled.model.weight().to_vector() ==
        ev::fit_linear_probe(rtr, ytr, plain).model.weight().to_vector());
  CHECK(unscaled.transform(xte).to_vector() == rte.to_vector());
  o.power = 0;
  CHECK_THROWS_WITH_AS(ev::fit_linear_probe(xtr, ytr, o), doctest::Contains("power"), config_error);
  o.power = std::nan("");
  CHECK_THROWS_WITH_AS(ev::linear_probe(xtr, ytr, xte, yte, o), doctest::Contains("linear_probe"),
                       config_error);
  CHECK_THROWS_WITH_AS(ev::linear_probe(xtr, ytr, xte, yte, o), doctest::Contains("power"),
                       config_error);
}

TEST_CASE("linear_probe: one example per class, and a 1% stratified subset") {
  const auto [x, y] = blobs<float>(1000, 12, 10, 3.0, 31);
  const auto [xte, yte] = blobs<float>(500, 12, 10, 3.0, 32);
  const auto idx = pretext::data::class_balanced_indices(y, 0.01, 3);
  CHECK(idx.size(0) == 10);
  const auto xs = pretext::data::take_rows(x, idx);
  const auto ys = pretext::data::take_rows(y, idx);
  std::vector<std::int64_t> seen = ys.to_vector();
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto r = ev::linear_probe(xs, ys, xte, yte);
  CHECK(r.val_size == 0);  // no class can spare its only example
  CHECK(r.weight_decay == 1e-3);
  CHECK(r.accuracy > 0.5);  // well-separated blobs: one example each already helps
  CHECK(r.num_classes == 10);
}

TEST_CASE("stratified_split: per-class counts, disjoint, complete, reproducible") {
  Labels y(Shape<1>{105});
  for (index_t i = 0; i < 105; ++i) y(i) = i < 100 ? i % 4 : 4;  // class 4 has 5 rows
  const auto s = ev::stratified_split(y, 0.2, 1);
  std::vector<index_t> per_class(5, 0);
  for (auto i : s.second.to_vector()) ++per_class[static_cast<std::size_t>(y(i))];
  CHECK(per_class == std::vector<index_t>{5, 5, 5, 5, 1});
  std::vector<std::int64_t> all = s.first.to_vector();
  const auto v = s.second.to_vector();
  all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expect(105);
  std::iota(expect.begin(), expect.end(), 0);
  CHECK(all == expect);
  CHECK(ev::stratified_split(y, 0.2, 1).second.to_vector() == v);
  CHECK(ev::stratified_split(y, 0.2, 2).second.to_vector() != v);
  CHECK_THROWS_AS(ev::stratified_split(y, 1.0, 1), config_error);
}

// ---- kNN --------------------------------------------------------------------------------------

TEST_CASE("knn: weights exp(sim / T), the temperature, k clamped, ties to the lower row") {
  // Cosine similarities to the query (2, 0): a 1, b 0.8, c 0.8, d -1.
  const auto train = Tensor<double, 2>::from({4, 2}, {1, 0, 0.8, 0.6, 0.8, -0.6, -1, 0});
  const auto y = Labels::from({4}, {0, 1, 1, 2});
  const auto q = Tensor<double, 2>::from({1, 2}, {2, 0});
  ev::KnnOptions o{.k = 3, .temperature = 0.1};
  auto s = ev::knn_scores(train, y, q, o);
  const double e = std::exp(-2.0);  // exp((0.8 - 1) / 0.1)
  CHECK(s(0, 0) == doctest::Approx(1 / (1 + 2 * e)).epsilon(1e-12));
  CHECK(s(0, 1) == doctest::Approx(2 * e / (1 + 2 * e)).epsilon(1e-12));
  CHECK(s(0, 2) == 0.0);
  CHECK(ev::knn_predict(train, y, q, o)(0) == 0);
  // A high temperature flattens the weights: two neighbours of class 1 outvote one of class 0.
  o.temperature = 10;
  s = ev::knn_scores(train, y, q, o);
  const double e10 = std::exp(-0.02);
  CHECK(s(0, 0) == doctest::Approx(1 / (1 + 2 * e10)).epsilon(1e-12));
  CHECK(ev::knn_predict(train, y, q, o)(0) == 1);
  o.k = 1;
  CHECK(ev::knn_predict(train, y, q, o)(0) == 0);
  // k beyond the training set uses all of it: d votes with exp(-2 / 0.1).
  o = ev::KnnOptions{};  // k = 200, T = 0.1
  s = ev::knn_scores(train, y, q, o);
  const double e20 = std::exp(-20.0);
  CHECK(s(0, 2) == doctest::Approx(e20 / (1 + 2 * e + e20)).epsilon(1e-9));
  o.k = 4;
  CHECK(ev::knn_scores(train, y, q, o).to_vector() == s.to_vector());
  CHECK(ev::knn_accuracy(train, y, q, Labels::from({1}, {0})) == 1.0);
  // Two identical rows with different labels: with k = 1 the lower row wins.
  const auto dup = Tensor<double, 2>::from({2, 2}, {0, 1, 0, 1});
  CHECK(ev::knn_predict(dup, Labels::from({2}, {3, 1}), q, ev::KnnOptions{.k = 1})(0) == 3);
  CHECK(ev::knn_predict(dup, Labels::from({2}, {1, 3}), q, ev::KnnOptions{.k = 1})(0) == 1);
}

TEST_CASE("knn: equal to a brute-force double reference on random data, in chunks") {
  const index_t N = 300, M = 57, D = 8, C = 5, K = 20;
  const double T = 0.07;
  Generator g(40);
  const auto xtr = normal<double>({N, D}, g), xte = normal<double>({M, D}, g);
  const auto ytr = random_labels(N, C, 41), yte = random_labels(M, C, 42);
  const ev::KnnOptions o{.k = K, .temperature = T, .num_classes = C, .chunk = 10};
  const auto scores = ev::knn_scores(xtr, ytr, xte, o);
  const auto pred = ev::knn_predict(xtr, ytr, xte, o);
  index_t right = 0;
  for (index_t i = 0; i < M; ++i) {
    std::vector<std::pair<double, index_t>> sims;
    double nq = 0;
    for (index_t d = 0; d < D; ++d) nq += xte(i, d) * xte(i, d);
    for (index_t j = 0; j < N; ++j) {
      double dot = 0, nt = 0;
      for (index_t d = 0; d < D; ++d) dot += xte(i, d) * xtr(j, d), nt += xtr(j, d) * xtr(j, d);
      sims.push_back({dot / std::sqrt(nq * nt), j});
    }
    std::sort(sims.begin(), sims.end(), [](auto& a, auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    std::vector<double> ref(C, 0.0);
    double total = 0;
    for (index_t k = 0; k < K; ++k) {
      const double w = std::exp(sims[static_cast<std::size_t>(k)].first / T);
      ref[static_cast<std::size_t>(ytr(sims[static_cast<std::size_t>(k)].second))] += w;
      total += w;
    }
    for (index_t c = 0; c < C; ++c)
      CHECK(scores(i, c) ==
            doctest::Approx(ref[static_cast<std::size_t>(c)] / total).epsilon(1e-10));
    const auto best = std::max_element(ref.begin(), ref.end()) - ref.begin();
    CHECK(pred(i) == best);
    right += best == yte(i);
  }
  CHECK(ev::knn_accuracy(xtr, ytr, xte, yte, o) ==
        static_cast<double>(right) / static_cast<double>(M));

  // In float, the similarities round differently, but the votes barely move.
  Tensor<float, 2> ftr(xtr.shape()), fte(xte.shape());
  for (index_t i = 0; i < xtr.numel(); ++i) ftr.data()[i] = static_cast<float>(xtr.data()[i]);
  for (index_t i = 0; i < xte.numel(); ++i) fte.data()[i] = static_cast<float>(xte.data()[i]);
  const auto fpred = ev::knn_predict(ftr, ytr, fte, o);
  index_t same = 0;
  for (index_t i = 0; i < M; ++i) same += fpred(i) == pred(i);
  CHECK(same >= M - 1);
}

// ---- summary, JSON, SVG -------------------------------------------------------------------------

TEST_CASE("mean_std: sample standard deviation; ResultTable as JSON and text") {
  const auto s = ev::mean_std({1, 2, 3, 4});
  CHECK(s.mean == 2.5);
  CHECK(s.std == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(s.n == 4);
  CHECK(std::isnan(ev::mean_std({0.7}).std));
  CHECK_THROWS_AS(ev::mean_std({}), config_error);

  ev::ResultTable t("Fashion-MNIST linear probe");
  t.add("pretrained \"MAE\"", 0.01, {0.71, 0.73, 0.72});
  t.add("from scratch", 1.0, {0.84});
  const auto j = nlohmann::json::parse(t.to_json());
  CHECK(j["title"] == "Fashion-MNIST linear probe");
  CHECK(j["metric"] == "accuracy");
  CHECK(j["rows"].size() == 2);
  CHECK(j["rows"][0]["method"] == "pretrained \"MAE\"");
  CHECK(j["rows"][0]["label_fraction"].get<double>() == 0.01);
  CHECK(j["rows"][0]["mean"].get<double>() == doctest::Approx(0.72));
  CHECK(j["rows"][0]["std"].get<double>() == doctest::Approx(0.01));
  CHECK(j["rows"][0]["n"] == 3);
  CHECK(j["rows"][0]["values"].size() == 3);
  CHECK(j["rows"][1]["std"].is_null());
  const std::string text = t.to_text();
  CHECK(text.find("0.7200 ± 0.0100") != std::string::npos);
  CHECK(text.find("1%") != std::string::npos);
  CHECK(text.find("100%") != std::string::npos);
  CHECK(text.find("0.8400 ± -") != std::string::npos);
  std::ostringstream os;
  os << t;
  CHECK(os.str() == text);
  const auto path = temp_path("pretext_eval_results.json");
  t.write_json(path);
  CHECK(read_file(path) == t.to_json());
  std::filesystem::remove(path);
}

TEST_CASE("SVG: a line chart and a table, well-formed, escaped, written atomically") {
  const std::vector<ev::Series> series{
      {"train <loss>", {1, 2, 3, 4, 5}, {2.3, 1.1, 0.7, std::nan(""), 0.4}},
      {"val & test", {}, {2.0, 1.5, 1.2}}};
  const std::string doc = ev::line_chart_svg("Loss \"curve\"", "step", "loss", series);
  CHECK(balanced_xml(doc));
  CHECK(doc.rfind("<?xml", 0) == 0);
  CHECK(doc.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(doc.find("Loss &quot;curve&quot;") != std::string::npos);
  CHECK(doc.find("train &lt;loss&gt;") != std::string::npos);
  CHECK(doc.find("val &amp; test") != std::string::npos);
  CHECK(doc.find("class=\"legend\"") != std::string::npos);
  // The NaN splits the first series in two runs: 3 points and 1 point (too short for a line).
  std::size_t polylines = 0;
  for (auto p = doc.find("<polyline"); p != std::string::npos; p = doc.find("<polyline", p + 1))
    ++polylines;
  CHECK(polylines == 2);
  CHECK(doc.find(">step<") != std::string::npos);
  CHECK(doc.find("nan") == std::string::npos);

  const auto path = temp_path("pretext_eval_chart.svg");
  ev::write_line_chart_svg(path, "Loss \"curve\"", "step", "loss", series);
  CHECK(read_file(path) == doc);
  std::filesystem::remove(path);

  ev::ChartOptions log;
  log.log_x = true;
  log.log_y = true;
  const std::string ld = ev::line_chart_svg("Label efficiency", "labels", "error",
                                            {{"probe", {0.01, 0.1, 1}, {0.3, 0.2, 0.15}}}, log);
  CHECK(balanced_xml(ld));
  CHECK(ld.find(">0.01<") != std::string::npos);
  CHECK(ld.find(">1<") != std::string::npos);

  const auto mismatch = [] { ev::line_chart_svg("t", "x", "y", {{"s", {1, 2, 3}, {1, 2}}}); };
  CHECK_THROWS_AS(mismatch(), shape_error);
  CHECK(message_of(mismatch).find("3 x values but 2 y values") != std::string::npos);

  ev::ResultTable t("Accuracy <1% labels>");
  t.add("kNN", 0.01, {0.70, 0.72});
  t.add("probe", 0.01, {0.75, 0.77});
  const std::string tab = ev::table_svg(t);
  CHECK(balanced_xml(tab));
  CHECK(tab.find("Accuracy &lt;1% labels&gt;") != std::string::npos);
  CHECK(tab.find("0.7100 ± 0.0141") != std::string::npos);
  const auto tpath = temp_path("pretext_eval_table.svg");
  ev::write_table_svg(tpath, t);
  CHECK(read_file(tpath) == tab);
  std::filesystem::remove(tpath);
}

// ---- errors -----------------------------------------------------------------------------------

TEST_CASE("errors name both shapes: feature widths, label counts, options") {
  const auto a = Tensor<float, 2>::zeros({20, 4}), b = Tensor<float, 2>::zeros({10, 5});
  const auto ya = Labels::zeros({20}), yb = Labels::zeros({10}), y19 = Labels::zeros({19});
  const auto widths = [&] { ev::linear_probe(a, ya, b, yb); };
  CHECK_THROWS_AS(widths(), shape_error);
  CHECK(message_of(widths).find("[20, 4]") != std::string::npos);
  CHECK(message_of(widths).find("[10, 5]") != std::string::npos);
  const auto counts = [&] { ev::linear_probe(a, y19, a, ya); };
  CHECK_THROWS_AS(counts(), shape_error);
  CHECK(message_of(counts).find("[20, 4]") != std::string::npos);
  CHECK(message_of(counts).find("[19]") != std::string::npos);
  const auto knn_widths = [&] { ev::knn_accuracy(a, ya, b, yb); };
  CHECK_THROWS_AS(knn_widths(), shape_error);
  CHECK(message_of(knn_widths).find("[20, 4]") != std::string::npos);
  CHECK(message_of(knn_widths).find("[10, 5]") != std::string::npos);
  CHECK(message_of(knn_widths).find("knn_accuracy") != std::string::npos);
  const auto knn_counts = [&] { ev::knn_predict(a, y19, a); };
  CHECK_THROWS_AS(knn_counts(), shape_error);
  CHECK(message_of(knn_counts).find("[19]") != std::string::npos);

  CHECK_THROWS_AS(ev::knn_predict(a, ya, a, ev::KnnOptions{.k = 0}), config_error);
  CHECK_THROWS_AS(ev::knn_predict(a, ya, a, ev::KnnOptions{.temperature = 0}), config_error);
  ev::ProbeOptions o;
  o.weight_decays = {};
  CHECK_THROWS_AS(ev::linear_probe(a, ya, a, ya, o), config_error);
  o.weight_decays = {0, 1e-3};
  o.val_fraction = 0;
  CHECK_THROWS_AS(ev::linear_probe(a, ya, a, ya, o), config_error);
  o = {};
  o.num_classes = 2;
  const auto y3 = Labels::full({20}, 3);
  CHECK_THROWS_AS(ev::linear_probe(a, y3, a, ya, o), config_error);
  CHECK_THROWS_AS(ev::knn_predict(a, Labels::full({20}, -1), a), config_error);
}
