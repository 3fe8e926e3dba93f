// SPDX-License-Identifier: Apache-2.0
// Joint-embedding losses (objectives/contrastive.hpp): finite-difference gradient checks in
// double, closed-form values (orthogonal embeddings, Hadamard columns, constant embeddings),
// invariance to a consistent batch permutation, stop-gradients, and argument errors.
// Embeddings are (B, D): B pairs of views, width D.
#include <pretext/objectives/contrastive.hpp>
#include <pretext/testing/doctest.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "reference.hpp"

using namespace pretext;
namespace obj = pretext::objectives;
using V0 = Var<double, 0>;
using V2 = Var<double, 2>;

namespace {

test::Leaves leaf{1700};

/// A leaf with Normal(0, scale^2) values.
V2 scaled_leaf(const index_t (&shape)[2], double scale) {
  return V2(pretext::mul(leaf(shape).data(), scale), true);
}

/// A rank-0 leaf holding v.
V0 scalar_leaf(double v) {
  return V0(scalar_tensor<double>(v), true);
}

/// A (rows, cols) constant from row-major values.
V2 constant(index_t rows, index_t cols, const std::vector<double>& values) {
  Tensor<double, 2> t(Shape<2>{rows, cols});
  for (index_t i = 0; i < rows * cols; ++i) t.data()[i] = values[static_cast<std::size_t>(i)];
  return V2(t);
}

/// Rows of x in the order perm (a copy, no graph).
V2 permute_rows(const V2& x, const std::vector<index_t>& perm) {
  const index_t B = x.size(0), D = x.size(1);
  Tensor<double, 2> out(Shape<2>{B, D});
  const auto xc = x.data().contiguous();
  for (index_t i = 0; i < B; ++i)
    for (index_t j = 0; j < D; ++j)
      out.data()[i * D + j] = xc.data()[perm[static_cast<std::size_t>(i)] * D + j];
  return V2(out);
}

/// Sylvester's Hadamard matrix of order n (a power of 2): entries +-1, orthogonal columns.
std::vector<double> hadamard(index_t n) {
  std::vector<double> h(static_cast<std::size_t>(n * n));
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j)
      h[static_cast<std::size_t>(i * n + j)] =
          __builtin_popcountll(static_cast<unsigned long long>(i & j)) % 2 ? -1.0 : 1.0;
  return h;
}

}  // namespace

// ---- gradients ----------------------------------------------------------------------------------

TEST_CASE("contrastive: gradcheck of similarity logits, NT-Xent, InfoNCE and CLIP") {
  const auto a = leaf({3, 5}), b = leaf({4, 5});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y) { return obj::similarity_logits(x, y, 0.3); }, std::tuple{a, b});
  const auto z1 = leaf({4, 6}), z2 = leaf({4, 6});
  for (double temp : {0.5, 0.1}) {
    CAPTURE(temp);
    PRETEXT_CHECK_GRADIENTS([temp](const V2& x, const V2& y) { return obj::nt_xent(x, y, temp); },
                            std::tuple{z1, z2});
  }
  // A non-contiguous view as one input.
  const auto z2t = leaf({6, 4});
  PRETEXT_CHECK_GRADIENTS([](const V2& x, const V2& y) { return obj::nt_xent(x, t(y), 0.2); },
                          std::tuple{z1, z2t});

  const auto q = leaf({3, 5}), k = leaf({3, 5}), queue = leaf({7, 5});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y, const V2& n) { return obj::info_nce(x, y, &n, 0.2); },
      std::tuple{q, k, queue});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y) { return obj::info_nce(x, y, nullptr, 0.2); }, std::tuple{q, k});

  const auto log_scale = scalar_leaf(std::log(1 / 0.3));
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y, const V0& s) { return obj::clip_loss(x, y, s); },
      std::tuple{q, k, log_scale});
}

TEST_CASE("contrastive: gradcheck of BYOL, SimSiam, Barlow Twins and VICReg") {
  const auto p = leaf({5, 4});
  const V2 z(leaf({5, 4}).data());  // the detached target: only p is checked
  PRETEXT_CHECK_GRADIENTS([&z](const V2& x) { return obj::byol_loss(x, z); }, std::tuple{p});
  PRETEXT_CHECK_GRADIENTS([&z](const V2& x) { return obj::simsiam_loss(x, z); }, std::tuple{p});

  const auto z1 = leaf({6, 4}), z2 = leaf({6, 4});
  PRETEXT_CHECK_GRADIENTS([](const V2& x, const V2& y) { return obj::barlow_twins_loss(x, y); },
                          std::tuple{z1, z2});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y) { return obj::barlow_twins_loss(x, y, 0.3); },
      std::tuple{z1, z2});

  // VICReg's hinge relu(1 - std): active for every column at scale 0.5, inactive at scale 3.
  for (double scale : {0.5, 3.0}) {
    CAPTURE(scale);
    const auto v1 = scaled_leaf({5, 4}, scale), v2 = scaled_leaf({5, 4}, scale);
    PRETEXT_CHECK_GRADIENTS([](const V2& x, const V2& y) { return obj::vicreg_loss(x, y); },
                            std::tuple{v1, v2});
    PRETEXT_CHECK_GRADIENTS(
        [](const V2& x, const V2& y) { return obj::vicreg_terms(x, y).invariance; },
        std::tuple{v1, v2});
    PRETEXT_CHECK_GRADIENTS(
        [](const V2& x, const V2& y) { return obj::vicreg_terms(x, y).variance; },
        std::tuple{v1, v2});
    PRETEXT_CHECK_GRADIENTS(
        [](const V2& x, const V2& y) { return obj::vicreg_terms(x, y).covariance; },
        std::tuple{v1, v2});
  }
}

// ---- closed forms -------------------------------------------------------------------------------

TEST_CASE("similarity_logits is the pairwise cosine similarity over the temperature") {
  const auto a = leaf({3, 5}), b = leaf({4, 5});
  const auto s = obj::similarity_logits(a, b, 0.25);
  REQUIRE(s.shape() == Shape<2>{3, 4});
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 4; ++j) {
      const double c = cosine_similarity(select(a, 0, i), select(b, 0, j), -1, 1e-12).item();
      CHECK(s.data()(i, j) == doctest::Approx(c / 0.25).epsilon(1e-13));
    }
}

TEST_CASE("NT-Xent of identical, well-separated views falls to 0 with the temperature") {
  const auto z = leaf({4, 64});  // random directions in 64-D: |cos| of distinct rows well below 1
  double last = INFINITY;
  for (double temp : {1.0, 0.5, 0.1, 0.05, 0.01}) {
    CAPTURE(temp);
    const double l = obj::nt_xent(z, z, temp).item();
    CHECK(l < last);
    last = l;
  }
  CHECK(last < 1e-3);
  CHECK(last >= 0);
}

TEST_CASE("NT-Xent of 2B mutually orthogonal embeddings is log(2B - 1) at any temperature") {
  for (index_t B : {1, 2, 3, 5}) {
    CAPTURE(B);
    // z1 = e_0 .. e_{B-1}, z2 = e_B .. e_{2B-1} in D = 2B: every logit off the diagonal is 0.
    Tensor<double, 2> e = Tensor<double, 2>::zeros(Shape<2>{2 * B, 2 * B});
    for (index_t i = 0; i < 2 * B; ++i) e.data()[i * 2 * B + i] = 3.0;  // length does not matter
    const V2 z1(e.narrow(0, 0, B).contiguous()), z2(e.narrow(0, B, B).contiguous());
    for (double temp : {0.5, 0.07}) {
      CAPTURE(temp);
      CHECK(obj::nt_xent(z1, z2, temp).item() ==
            doctest::Approx(std::log(2.0 * static_cast<double>(B) - 1.0)).epsilon(1e-14));
    }
  }
}

TEST_CASE("multi-view NT-Xent: two views give NT-Xent; gradients of three and four views") {
  const auto z1 = leaf({4, 6}), z2 = leaf({4, 6}), z3 = leaf({4, 6}), z4 = leaf({4, 6});
  for (double temp : {0.5, 0.1}) {
    CAPTURE(temp);
    CHECK(obj::multi_view_nt_xent(std::vector{z1, z2}, temp).item() ==
          doctest::Approx(obj::nt_xent(z1, z2, temp).item()).epsilon(1e-14));
    PRETEXT_CHECK_GRADIENTS(
        [temp](const V2& x, const V2& y, const V2& w) {
          return obj::multi_view_nt_xent(std::vector{x, y, w}, temp);
        },
        std::tuple{z1, z2, z3});
  }
  // Four views, one of them a non-contiguous view.
  const auto z4t = leaf({6, 4});
  PRETEXT_CHECK_GRADIENTS(
      [](const V2& x, const V2& y, const V2& w, const V2& u) {
        return obj::multi_view_nt_xent(std::vector{x, y, w, t(u)}, 0.2);
      },
      std::tuple{z1, z2, z3, z4t});
}

TEST_CASE("multi-view NT-Xent: closed forms for orthogonal and for identical views") {
  for (index_t V : {3, 4})
    for (index_t B : {1, 2, 3}) {
      CAPTURE(V);
      CAPTURE(B);
      // V B mutually orthogonal rows: every logit off the diagonal is 0, so each anchor's
      // log-softmax is -log(VB - 1) at every one of its positives.
      const index_t N = V * B;
      Tensor<double, 2> e = Tensor<double, 2>::zeros(Shape<2>{N, N});
      for (index_t i = 0; i < N; ++i) e.data()[i * N + i] = 2.0;
      std::vector<V2> views;
      for (index_t v = 0; v < V; ++v) views.emplace_back(e.narrow(0, v * B, B).contiguous());
      for (double temp : {0.5, 0.07}) {
        CAPTURE(temp);
        CHECK(obj::multi_view_nt_xent(views, temp).item() ==
              doctest::Approx(std::log(static_cast<double>(N - 1))).epsilon(1e-14));
      }
    }
  // One sample seen V times alike: an anchor's V - 1 others are all positives with equal
  // logits, each with probability 1 / (V - 1), whatever the temperature.
  const auto one = leaf({1, 5});
  for (index_t V : {2, 3, 5}) {
    CAPTURE(V);
    const std::vector<V2> same_views(static_cast<std::size_t>(V), one);
    CHECK(obj::multi_view_nt_xent(same_views, 0.3).item() ==
          doctest::Approx(std::log(static_cast<double>(V - 1))).epsilon(1e-12));
  }
}

TEST_CASE("multi-view NT-Xent depends on neither the order of the views nor that of the batch") {
  const auto a = leaf({5, 4}), b = leaf({5, 4}), c = leaf({5, 4});
  const double l = obj::multi_view_nt_xent(std::vector{a, b, c}, 0.3).item();
  CHECK(obj::multi_view_nt_xent(std::vector{c, a, b}, 0.3).item() ==
        doctest::Approx(l).epsilon(1e-13));
  const std::vector<index_t> perm = {3, 0, 4, 1, 2};
  CHECK(obj::multi_view_nt_xent(
            std::vector{permute_rows(a, perm), permute_rows(b, perm), permute_rows(c, perm)}, 0.3)
            .item() == doctest::Approx(l).epsilon(1e-13));
  // Reordering one view alone pairs other samples: a different loss.
  CHECK(obj::multi_view_nt_xent(std::vector{permute_rows(a, perm), b, c}, 0.3).item() !=
        doctest::Approx(l).epsilon(1e-6));
}

TEST_CASE("InfoNCE with a queue: log(1 + K e^(-1/t)) for a unit positive and orthogonal queue") {
  const auto q = constant(1, 3, {2, 0, 0});
  const auto k = constant(1, 3, {0.5, 0, 0});
  const auto queue = constant(2, 3, {0, 1, 0, 0, 0, 4});
  for (double temp : {1.0, 0.2}) {
    CAPTURE(temp);
    CHECK(obj::info_nce(q, k, &queue, temp).item() ==
          doctest::Approx(std::log1p(2 * std::exp(-1 / temp))).epsilon(1e-14));
  }
}

TEST_CASE("CLIP loss is the mean of InfoNCE both ways at temperature exp(-log_scale)") {
  const auto a = leaf({5, 6}), b = leaf({5, 6});
  const double temp = 0.07;
  const double both =
      0.5 * (obj::info_nce(a, b, nullptr, temp).item() + obj::info_nce(b, a, nullptr, temp).item());
  const auto log_scale = scalar_leaf(std::log(1 / temp));
  CHECK(obj::clip_loss(a, b, log_scale).item() == doctest::Approx(both).epsilon(1e-12));
}

TEST_CASE("BYOL is 0 for p == z and 4 for p == -z; SimSiam -1 and 1; no gradient reaches z") {
  const auto p = leaf({4, 5});
  const V2 minus(pretext::neg(p.data()));
  const V2 scaled(pretext::mul(p.data(), 2.5));  // the length does not matter
  CHECK(obj::byol_loss(p, scaled).item() == doctest::Approx(0.0).epsilon(1e-14));
  CHECK(std::abs(obj::byol_loss(p, scaled).item()) < 1e-14);
  CHECK(obj::byol_loss(p, minus).item() == doctest::Approx(4.0).epsilon(1e-14));
  CHECK(obj::simsiam_loss(p, scaled).item() == doctest::Approx(-1.0).epsilon(1e-14));
  CHECK(obj::simsiam_loss(p, minus).item() == doctest::Approx(1.0).epsilon(1e-14));

  const auto x = leaf({4, 5}), z = leaf({4, 5});
  obj::byol_loss(x, z).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(z.grad().defined());
  x.zero_grad();
  obj::simsiam_loss(x, z).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(z.grad().defined());
  // Through a shared graph: z computed from a leaf w still sends nothing back to w.
  const auto w = leaf({4, 5});
  obj::byol_loss(x, tanh(w)).backward();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("Barlow Twins is D (eps / (1 + eps))^2 for identical uncorrelated +-1 columns") {
  // Columns 1..7 of the order-8 Hadamard matrix: mean 0, biased variance 1, mutually orthogonal,
  // so the standardised cross-correlation is I / (1 + 1e-5).
  const auto h = hadamard(8);
  std::vector<double> cols;
  for (index_t i = 0; i < 8; ++i)
    for (index_t j = 1; j < 8; ++j) cols.push_back(h[static_cast<std::size_t>(i * 8 + j)]);
  const auto z = constant(8, 7, cols);
  const double expected = 7 * std::pow(1e-5 / (1 + 1e-5), 2);  // 7.0e-10
  for (double lambda : {5e-3, 1.0}) {
    CAPTURE(lambda);
    const double l = obj::barlow_twins_loss(z, z, lambda).item();
    CHECK(l == doctest::Approx(expected).epsilon(1e-8));
    CHECK(l < 1e-9);
  }
  // A column flipped in one branch puts -1 on the diagonal: (1 + 1 / (1 + eps))^2 ~ 4 more.
  std::vector<double> flipped = cols;
  for (index_t i = 0; i < 8; ++i) flipped[static_cast<std::size_t>(i * 7)] *= -1;
  CHECK(obj::barlow_twins_loss(z, constant(8, 7, flipped)).item() ==
        doctest::Approx(6 * std::pow(1e-5 / (1 + 1e-5), 2) + std::pow(1 + 1 / (1 + 1e-5), 2))
            .epsilon(1e-12));
}

TEST_CASE("VICReg: the variance term of constant embeddings is 1 - sqrt(eps)") {
  const auto c = constant(4, 3, {1, -2, 3, 1, -2, 3, 1, -2, 3, 1, -2, 3});
  for (double eps : {1e-4, 1e-8, 0.0}) {
    CAPTURE(eps);
    const auto terms = obj::vicreg_terms(c, c, eps);
    CHECK(terms.variance.item() == doctest::Approx(1 - std::sqrt(eps)).epsilon(1e-15));
    CHECK(terms.invariance.item() == 0.0);
    CHECK(terms.covariance.item() == 0.0);
  }
  CHECK(obj::vicreg_terms(c, c).variance.item() == doctest::Approx(0.99).epsilon(1e-15));
  CHECK(obj::vicreg_loss(c, c).item() == doctest::Approx(25 * 0.99).epsilon(1e-15));
  // Hadamard columns scaled to unbiased std 2 have no hinge and no covariance left.
  const auto h = hadamard(4);
  std::vector<double> cols;
  const double s = 2 * std::sqrt(3.0 / 4.0);  // biased std 1 -> unbiased std sqrt(4/3)
  for (index_t i = 0; i < 4; ++i)
    for (index_t j = 1; j < 4; ++j) cols.push_back(s * h[static_cast<std::size_t>(i * 4 + j)]);
  const auto z = constant(4, 3, cols);
  const auto terms = obj::vicreg_terms(z, z);
  CHECK(terms.variance.item() == 0.0);
  CHECK(std::abs(terms.covariance.item()) < 1e-28);
  // The loss is the weighted sum of its terms.
  const auto a = leaf({6, 5}), b = leaf({6, 5});
  const auto tr = obj::vicreg_terms(a, b, 1e-3);
  CHECK(obj::vicreg_loss(a, b, 2.0, 3.0, 0.5, 1e-3).item() ==
        doctest::Approx(2 * tr.invariance.item() + 3 * tr.variance.item() +
                        0.5 * tr.covariance.item())
            .epsilon(1e-14));
}

// ---- properties ---------------------------------------------------------------------------------

TEST_CASE("contrastive losses are invariant to a consistent permutation of the batch") {
  const auto z1 = leaf({6, 5}), z2 = leaf({6, 5});
  const std::vector<index_t> perm = {3, 0, 5, 1, 4, 2};
  const auto p1 = permute_rows(z1, perm), p2 = permute_rows(z2, perm);
  const auto log_scale = scalar_leaf(2.0);
  const auto same = [](double a, double b) { CHECK(a == doctest::Approx(b).epsilon(1e-13)); };
  same(obj::nt_xent(p1, p2, 0.3).item(), obj::nt_xent(z1, z2, 0.3).item());
  same(obj::info_nce(p1, p2, nullptr, 0.3).item(), obj::info_nce(z1, z2, nullptr, 0.3).item());
  same(obj::clip_loss(p1, p2, log_scale).item(), obj::clip_loss(z1, z2, log_scale).item());
  same(obj::barlow_twins_loss(p1, p2).item(), obj::barlow_twins_loss(z1, z2).item());
  same(obj::vicreg_loss(p1, p2).item(), obj::vicreg_loss(z1, z2).item());
  same(obj::byol_loss(p1, p2).item(), obj::byol_loss(z1, z2).item());
  same(obj::simsiam_loss(p1, p2).item(), obj::simsiam_loss(z1, z2).item());
  // A queue's order does not matter either.
  const auto queue = leaf({4, 5});
  const auto pq = permute_rows(queue, {2, 3, 1, 0});
  same(obj::info_nce(p1, p2, &pq, 0.3).item(), obj::info_nce(z1, z2, &queue, 0.3).item());
  // Permuting one side only breaks the pairs (and changes NT-Xent).
  CHECK(obj::nt_xent(p1, z2, 0.3).item() != doctest::Approx(obj::nt_xent(z1, z2, 0.3).item()));
}

TEST_CASE_TEMPLATE("contrastive losses in float agree with double", T, float, double) {
  const auto z1 = leaf({6, 5}), z2 = leaf({6, 5}), queue = leaf({4, 5});
  const auto as = [](const V2& v) {
    Tensor<T, 2> out(v.shape());
    for (index_t i = 0; i < v.numel(); ++i) out.data()[i] = static_cast<T>(test::elem(v.data(), i));
    return Var<T, 2>(out, true);
  };
  const auto f1 = as(z1), f2 = as(z2), fq = as(queue);
  const Var<T, 0> ls(scalar_tensor<T>(T(2)), true);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-14;
  const auto same = [tol](T a, double b) {
    CHECK(static_cast<double>(a) == doctest::Approx(b).epsilon(tol));
  };
  same(obj::nt_xent(f1, f2, 0.3).item(), obj::nt_xent(z1, z2, 0.3).item());
  same(obj::info_nce(f1, f2, &fq, 0.3).item(), obj::info_nce(z1, z2, &queue, 0.3).item());
  same(obj::clip_loss(f1, f2, ls).item(), obj::clip_loss(z1, z2, scalar_leaf(2.0)).item());
  same(obj::byol_loss(f1, f2).item(), obj::byol_loss(z1, z2).item());
  same(obj::simsiam_loss(f1, f2).item(), obj::simsiam_loss(z1, z2).item());
  same(obj::barlow_twins_loss(f1, f2).item(), obj::barlow_twins_loss(z1, z2).item());
  same(obj::vicreg_loss(f1, f2).item(), obj::vicreg_loss(z1, z2).item());
  const auto loss = obj::vicreg_loss(f1, f2);
  loss.backward();
  CHECK(f1.grad().defined());
  CHECK(f2.grad().defined());
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("contrastive losses name the function and shapes in their errors") {
  const auto a = leaf({4, 5}), b = leaf({3, 5}), c = leaf({4, 6}), one = leaf({1, 5});
  const auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    CHECK(msg.find(part) != std::string::npos);
  };
  has(test::error_message<shape_error>([&] { obj::nt_xent(a, b); }), "nt_xent: z1 is [4, 5]");
  has(test::error_message<shape_error>([&] { obj::nt_xent(a, b); }), "[3, 5]");
  has(test::error_message<shape_error>([&] { obj::similarity_logits(a, c, 1.0); }),
      "similarity_logits: a is [4, 5] but b is [4, 6]");
  has(test::error_message<shape_error>([&] { obj::info_nce(a, c, nullptr, 0.2); }), "info_nce");
  has(test::error_message<shape_error>([&] { obj::info_nce(a, a, &c, 0.2); }),
      "the negatives are [4, 6]");
  has(test::error_message<shape_error>([&] { obj::clip_loss(a, b, scalar_leaf(1.0)); }),
      "clip_loss");
  has(test::error_message<shape_error>([&] { obj::byol_loss(a, c); }), "byol_loss: p is [4, 5]");
  has(test::error_message<shape_error>([&] { obj::simsiam_loss(a, c); }), "simsiam_loss");
  has(test::error_message<shape_error>([&] { obj::barlow_twins_loss(a, c); }), "barlow_twins_loss");
  has(test::error_message<shape_error>([&] { obj::barlow_twins_loss(one, one); }), "B >= 2");
  has(test::error_message<shape_error>([&] { obj::vicreg_loss(one, one); }), "B >= 2");
  has(test::error_message<shape_error>([&] { obj::vicreg_terms(a, c); }), "vicreg_terms");

  has(test::error_message<config_error>([&] { obj::nt_xent(a, a, 0.0); }),
      "nt_xent: temperature 0");
  has(test::error_message<config_error>([&] { obj::nt_xent(a, a, -0.5); }), "temperature");
  has(test::error_message<config_error>([&] { obj::similarity_logits(a, a, INFINITY); }),
      "similarity_logits");
  has(test::error_message<config_error>([&] { obj::info_nce(a, a, nullptr, 0.0); }), "info_nce");
  has(test::error_message<config_error>([&] { obj::clip_loss(a, a, scalar_leaf(NAN)); }),
      "log_scale");
  has(test::error_message<config_error>([&] { obj::barlow_twins_loss(a, a, -1.0); }), "lambda");
  has(test::error_message<config_error>([&] { obj::vicreg_loss(a, a, 25, 25, 1, -1e-4); }), "eps");
  has(test::error_message<config_error>([&] { obj::vicreg_loss(a, a, -1.0); }), "sim_coeff");
  has(test::error_message<shape_error>([&] { obj::multi_view_nt_xent(std::vector{a}); }),
      "multi_view_nt_xent: 1 view(s)");
  has(test::error_message<shape_error>([&] {
        obj::multi_view_nt_xent(std::vector{a, a, b});
      }),
      "view 0 is [4, 5] but view 2 is [3, 5]");
  has(test::error_message<config_error>([&] {
        obj::multi_view_nt_xent(std::vector{a, a}, 0.0);
      }),
      "multi_view_nt_xent: temperature 0");
  // One pair is a valid (if trivial) NT-Xent batch: no negatives, loss 0.
  CHECK(obj::nt_xent(one, one).item() == doctest::Approx(0.0));
}
