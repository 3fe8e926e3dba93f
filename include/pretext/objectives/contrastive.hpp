// SPDX-License-Identifier: Apache-2.0
// Joint-embedding losses as differentiable functions of embeddings: cosine similarity logits,
// SimCLR's NT-Xent, MoCo's InfoNCE (with a queue of negatives or in-batch), CLIP's symmetric
// InfoNCE with a learnable temperature, BYOL's and SimSiam's regression to a detached target,
// Barlow Twins' redundancy reduction and VICReg's variance-invariance-covariance terms.
//
// Letters: B samples (rows of each view), D embedding width, K queued negatives, V views.
//   similarity_logits  a (B_a, D), b (B_b, D)                  -> (B_a, B_b)
//   nt_xent            z1 (B, D), z2 (B, D)                    -> scalar, mean over 2B anchors
//   multi_view_nt_xent V >= 2 views (B, D) each                -> scalar, mean over VB anchors
//   info_nce           query (B, D), key (B, D), queue (K, D)  -> scalar, mean over B queries
//   clip_loss          a (B, D), b (B, D), log_scale ()        -> scalar
//   byol_loss          p (B, D), z (B, D)                      -> scalar, mean over B
//   simsiam_loss       p (B, D), z (B, D)                      -> scalar, mean over B
//   barlow_twins_loss  z1 (B, D), z2 (B, D)                    -> scalar, sum over D x D
//   vicreg_loss        z1 (B, D), z2 (B, D)                    -> scalar
//
// Everything is composed from the autograd ops (matmul, log_softmax via cross_entropy, norm,
// mean, sum, concat, sqrt, relu), so there is no new backward to trust: the gradients are those
// of the composition, checked against finite differences and PyTorch in the tests. A batch is
// the whole batch: with data parallelism the caller gathers embeddings from every rank first.
#pragma once

#include "pretext/autograd/losses.hpp"
#include "pretext/autograd/ops_index.hpp"
#include "pretext/autograd/ops_linalg.hpp"
#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/core/error.hpp"

#include <cmath>    // std::isfinite
#include <cstdint>  // int64 class-index targets
#include <string>
#include <type_traits>  // std::type_identity_t: a null queue does not take part in deduction
#include <vector>

namespace pretext::objectives {

namespace contrastive_detail {

/// "[3, 4]" for the messages.
template <class T, int R>
std::string shape_of(const Var<T, R>& v) {
  return pretext::detail::shape_string(v.shape());
}

/// Rows scaled to unit L2 norm, x / max(||x||, eps) with eps 1e-12 (torch.nn.functional.normalize).
/// A zero row stays zero.
template <floating T>
Var<T, 2> normalize_rows(const Var<T, 2>& x) {
  return div(x, maximum(norm(x, 1, keepdim), T(1e-12)));
}

/// (B_a, D) x (B_b, D) -> (B_a, B_b): an_i . bn_j / temperature for unit rows an, bn.
template <floating T>
Var<T, 2> scaled_dots(const Var<T, 2>& an, const Var<T, 2>& bn, double temperature) {
  return mul(matmul(an, t(bn)), static_cast<T>(1.0 / temperature));
}

/// Cosine logits of every row of z with every other, z (N, D) -> (N, N): zn_i . zn_j / t with
/// 1e9 subtracted on the diagonal, so that the log-softmax gives a row's own entry no weight and
/// no gradient without slicing it out.
template <floating T>
Var<T, 2> self_masked_logits(const Var<T, 2>& z, double temperature) {
  const index_t N = z.size(0);
  const auto zn = normalize_rows(z);
  auto self_mask = Tensor<T, 2>::zeros(Shape<2>{N, N});
  for (index_t i = 0; i < N; ++i) self_mask.data()[i * N + i] = T(-1e9);
  return add(scaled_dots(zn, zn, temperature), self_mask);
}

/// The identity matrix (D, D) as a constant.
template <floating T>
Tensor<T, 2> identity(index_t d) {
  auto e = Tensor<T, 2>::zeros(Shape<2>{d, d});
  for (index_t i = 0; i < d; ++i) e.data()[i * d + i] = T(1);
  return e;
}

/// diag_weight on the diagonal, off_weight elsewhere (D, D): weights of a sum of squares that
/// treats the diagonal and the off-diagonal differently (Barlow Twins, VICReg).
template <floating T>
Tensor<T, 2> diagonal_weights(index_t d, T diag_weight, T off_weight) {
  auto w = Tensor<T, 2>::full(Shape<2>{d, d}, off_weight);
  for (index_t i = 0; i < d; ++i) w.data()[i * d + i] = diag_weight;
  return w;
}

/// Class-index targets 0, 1, ..., n-1 (positives on the diagonal).
inline Tensor<std::int64_t, 1> diagonal_targets(index_t n) {
  return arange<std::int64_t>(n);
}

inline void check_temperature(const char* fn, double temperature) {
  PRETEXT_CHECK(temperature > 0 && std::isfinite(temperature), config_error,
                "pretext::objectives::", fn, ": temperature ", temperature,
                " must be positive and finite (SimCLR uses 0.1 to 0.5, MoCo v2 0.2, CLIP learns "
                "it)");
}

inline void check_coefficient(const char* fn, const char* name, double value) {
  PRETEXT_CHECK(value >= 0 && std::isfinite(value), config_error, "pretext::objectives::", fn, ": ",
                name, " ", value, " must be finite and not negative");
}

/// Two views of one batch: both (B, D) with B >= min_batch and D >= 1.
template <floating T>
void check_pair(const char* fn, const char* name_a, const Var<T, 2>& a, const char* name_b,
                const Var<T, 2>& b, index_t min_batch = 1) {
  PRETEXT_CHECK(a.shape() == b.shape(), shape_error, "pretext::objectives::", fn, ": ", name_a,
                " is ", shape_of(a), " but ", name_b, " is ", shape_of(b),
                "; give the two sides of the same batch, (B, D) each");
  PRETEXT_CHECK(a.size(0) >= min_batch && a.size(1) >= 1, shape_error, "pretext::objectives::", fn,
                ": ", name_a, " and ", name_b, " are ", shape_of(a),
                "; the loss needs B >= ", min_batch, " rows and D >= 1 columns");
}

}  // namespace contrastive_detail

/// Cosine similarity of every row of a with every row of b, divided by the temperature:
/// out(i, j) = <a_i, b_j> / (max(||a_i||, 1e-12) max(||b_j||, 1e-12) temperature).
/// a (B_a, D), b (B_b, D) -> (B_a, B_b). Throws shape_error when the widths differ and
/// config_error unless temperature > 0.
template <floating T>
Var<T, 2> similarity_logits(const Var<T, 2>& a, const Var<T, 2>& b, double temperature) {
  namespace cd = contrastive_detail;
  cd::check_temperature("similarity_logits", temperature);
  PRETEXT_CHECK(a.size(1) == b.size(1), shape_error,
                "pretext::objectives::similarity_logits: a is ", cd::shape_of(a), " but b is ",
                cd::shape_of(b), "; rows must have the same width D");
  return cd::scaled_dots(cd::normalize_rows(a), cd::normalize_rows(b), temperature);
}

/// SimCLR's NT-Xent (normalised temperature-scaled cross-entropy). The 2B embeddings
/// [z1; z2] are the anchors; anchor i's positive is its other view (i + B or i - B) and the
/// other 2B - 2 embeddings are its negatives:
///   l_i = -log( exp(s(i, pos(i)) / t) / sum_{k != i} exp(s(i, k) / t) ),  loss = mean_i l_i
/// with s the cosine similarity. Self-similarity is removed by subtracting 1e9 from the diagonal
/// of the logits before the log-softmax (SimCLR's reference code does the same), so no entry is
/// sliced out and the diagonal gets no gradient. SimCLR's TensorFlow code reports the sum of the
/// two halves' means, which is twice this value.
/// z1, z2 (B, D) -> scalar. Lowest value 0 (for t -> 0 and separable views); log(2B - 1) when all
/// 2B embeddings are mutually orthogonal.
template <floating T>
Var<T, 0> nt_xent(const Var<T, 2>& z1, const Var<T, 2>& z2, double temperature = 0.5) {
  namespace cd = contrastive_detail;
  cd::check_temperature("nt_xent", temperature);
  cd::check_pair("nt_xent", "z1", z1, "z2", z2);
  const index_t B = z1.size(0), N = 2 * B;
  const auto logits = cd::self_masked_logits(concat(z1, z2, 0), temperature);  // (2B, 2B)
  Tensor<std::int64_t, 1> positive(Shape<1>{N});
  for (index_t i = 0; i < N; ++i) positive.data()[i] = i < B ? i + B : i - B;
  return cross_entropy(logits, positive);
}

/// NT-Xent over V >= 2 views of the same B samples (SimCLR with more than two views, as in
/// multi-crop training). The VB embeddings are the anchors; anchor (v, i) has the other V - 1
/// views of sample i as positives and the remaining VB - V embeddings as negatives, and its loss
/// is the mean over its positives p of
///   -log( exp(s(a, p) / t) / sum_{k != a} exp(s(a, k) / t) ),
/// the cross-entropy against targets 1 / (V - 1) on the positives. loss = mean over the anchors.
/// For V = 2 it equals nt_xent(views[0], views[1]); for VB mutually orthogonal embeddings it is
/// log(VB - 1). views: V tensors (B, D), in any order -> scalar.
template <floating T>
Var<T, 0> multi_view_nt_xent(const std::vector<Var<T, 2>>& views, double temperature = 0.5) {
  namespace cd = contrastive_detail;
  cd::check_temperature("multi_view_nt_xent", temperature);
  PRETEXT_CHECK(views.size() >= 2, shape_error,
                "pretext::objectives::multi_view_nt_xent: ", views.size(),
                " view(s); give at least two views (B, D) of the same samples");
  for (std::size_t v = 1; v < views.size(); ++v)
    PRETEXT_CHECK(views[v].shape() == views[0].shape(), shape_error,
                  "pretext::objectives::multi_view_nt_xent: view 0 is ", cd::shape_of(views[0]),
                  " but view ", v, " is ", cd::shape_of(views[v]),
                  "; give every view of the same batch, (B, D) each");
  PRETEXT_CHECK(views[0].size(0) >= 1 && views[0].size(1) >= 1, shape_error,
                "pretext::objectives::multi_view_nt_xent: the views are ", cd::shape_of(views[0]),
                "; the loss needs B >= 1 rows and D >= 1 columns");
  const auto V = static_cast<index_t>(views.size());
  const index_t B = views[0].size(0), N = V * B;
  const auto logits = cd::self_masked_logits(concat(views, 0), temperature);  // (VB, VB)
  auto target = Tensor<T, 2>::zeros(Shape<2>{N, N});  // row (v, i): 1 / (V - 1) at (w, i), w != v
  const T share = T(1) / static_cast<T>(V - 1);
  for (index_t a = 0; a < N; ++a)
    for (index_t w = 0; w < V; ++w)
      if (w != a / B) target.data()[a * N + w * B + a % B] = share;
  return cross_entropy(logits, target);
}

/// MoCo's InfoNCE. Query i's positive is key i. With a queue of negatives (MoCo v1/v2) the logits
/// of query i are [q_i . k_i, q_i . n_1, ..., q_i . n_K] / t with target 0; with negatives null
/// they are q_i . k_j / t over the batch's keys (MoCo v3, target j = i). The loss is the mean
/// cross-entropy over the B queries.
/// q, k and the queue rows are L2-normalised here (MoCo normalises them in the encoder already;
/// normalising a unit vector again changes nothing). Gradients flow into every argument that
/// requires them: in MoCo the keys and the queue come from the momentum encoder and should be
/// detached (or computed under NoGrad) by the caller.
/// query, key (B, D), negatives (K, D) or null (nullptr works: T is deduced from query) -> scalar.
template <floating T>
Var<T, 0> info_nce(const Var<T, 2>& query, const Var<T, 2>& key,
                   const std::type_identity_t<Var<T, 2>>* negatives, double temperature) {
  namespace cd = contrastive_detail;
  cd::check_temperature("info_nce", temperature);
  cd::check_pair("info_nce", "query", query, "key", key);
  const index_t B = query.size(0);
  const auto qn = cd::normalize_rows(query);
  const auto kn = cd::normalize_rows(key);
  if (negatives == nullptr)
    return cross_entropy(cd::scaled_dots(qn, kn, temperature), cd::diagonal_targets(B));
  PRETEXT_CHECK(negatives->size(1) == query.size(1) && negatives->size(0) >= 1, shape_error,
                "pretext::objectives::info_nce: query is ", cd::shape_of(query),
                " but the negatives are ", cd::shape_of(*negatives),
                "; give (K, D) with K >= 1 and the queries' width D, or null for in-batch "
                "negatives");
  const auto positive = sum(mul(qn, kn), 1, keepdim);                   // (B, 1)
  const auto negative = matmul(qn, t(cd::normalize_rows(*negatives)));  // (B, K)
  const auto logits = mul(concat(positive, negative, 1), static_cast<T>(1.0 / temperature));
  return cross_entropy(logits, Tensor<std::int64_t, 1>::zeros(Shape<1>{B}));  // (B, 1 + K)
}

/// CLIP's symmetric InfoNCE with a learnable temperature: logits(i, j) = exp(log_scale)
/// cos(a_i, b_j); the loss is the mean of the cross-entropy over rows (a_i picks its b) and over
/// columns (b_j picks its a), targets on the diagonal. CLIP initialises log_scale = log(1 / 0.07)
/// and clamps exp(log_scale) at 100 in training; that clamp is the caller's (clamp log_scale's
/// data after each step), the loss takes the value as given.
/// a, b (B, D), log_scale () -> scalar. Equals the mean of info_nce(a, b) and info_nce(b, a)
/// without queues at temperature exp(-log_scale).
template <floating T>
Var<T, 0> clip_loss(const Var<T, 2>& a, const Var<T, 2>& b, const Var<T, 0>& log_scale) {
  namespace cd = contrastive_detail;
  cd::check_pair("clip_loss", "a", a, "b", b);
  PRETEXT_CHECK(std::isfinite(static_cast<double>(log_scale.item())), config_error,
                "pretext::objectives::clip_loss: log_scale ", log_scale.item(),
                " is not finite; CLIP starts from log(1 / 0.07)");
  const auto targets = cd::diagonal_targets(a.size(0));
  const auto logits = mul(exp(log_scale), matmul(cd::normalize_rows(a), t(cd::normalize_rows(b))));
  return mul(add(cross_entropy(logits, targets), cross_entropy(t(logits), targets)), T(0.5));
}

/// BYOL's regression loss: || p_i/|p_i| - z_i/|z_i| ||^2 = 2 - 2 cos(p_i, z_i), mean over the
/// batch. p is the online network's prediction, z the target network's projection of the other
/// view. z is a constant target: pass the teacher's output detached (it is detached here as well,
/// so no gradient ever reaches z). BYOL symmetrises by adding the loss with the views swapped.
/// p, z (B, D) -> scalar in [0, 4]: 0 for p = z, 4 for p = -z.
template <floating T>
Var<T, 0> byol_loss(const Var<T, 2>& p, const Var<T, 2>& z) {
  namespace cd = contrastive_detail;
  cd::check_pair("byol_loss", "p", p, "z", z);
  const auto cosine = sum(mul(cd::normalize_rows(p), cd::normalize_rows(z.detach())), 1);  // (B)
  return sub(T(2), mul(mean(cosine), T(2)));
}

/// SimSiam's negative cosine similarity -cos(p_i, stopgrad(z_i)), mean over the batch (the
/// stop-gradient is applied here). SimSiam's symmetric loss is the average of this with the
/// views swapped. p, z (B, D) -> scalar in [-1, 1].
template <floating T>
Var<T, 0> simsiam_loss(const Var<T, 2>& p, const Var<T, 2>& z) {
  namespace cd = contrastive_detail;
  cd::check_pair("simsiam_loss", "p", p, "z", z);
  return neg(mean(sum(mul(cd::normalize_rows(p), cd::normalize_rows(z.detach())), 1)));
}

/// Barlow Twins: each column of z1 and z2 is standardised over the batch as BatchNorm without
/// affine parameters in training mode does (mean 0, biased variance, eps 1e-5):
///   zn = (z - mean_b z) / sqrt(var_b z + 1e-5),
/// then C = z1n^T z2n / B (D, D) and
///   loss = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2.
/// z1, z2 (B, D) with B >= 2 -> scalar. The paper uses lambda = 5e-3 (its code 0.0051).
/// Identical, standardised and mutually uncorrelated columns give C = I / (1 + 1e-5), so a loss
/// of D (1e-5 / (1 + 1e-5))^2.
template <floating T>
Var<T, 0> barlow_twins_loss(const Var<T, 2>& z1, const Var<T, 2>& z2, double lambda = 5e-3) {
  namespace cd = contrastive_detail;
  cd::check_pair("barlow_twins_loss", "z1", z1, "z2", z2, 2);
  cd::check_coefficient("barlow_twins_loss", "lambda", lambda);
  const index_t B = z1.size(0), D = z1.size(1);
  const auto standardise = [](const Var<T, 2>& z) {
    const auto centred = sub(z, mean(z, 0, keepdim));
    return div(centred, sqrt(add(var(z, 0, keepdim, /*correction=*/0), T(1e-5))));
  };
  const auto c = mul(matmul(t(standardise(z1)), standardise(z2)), T(1) / static_cast<T>(B));
  // (C - I)^2 weighted by 1 on the diagonal and lambda off it.
  const auto w = cd::diagonal_weights<T>(D, T(1), static_cast<T>(lambda));
  return sum(mul(square(sub(c, cd::identity<T>(D))), w));
}

/// VICReg's three terms, each a scalar (see vicreg_terms).
template <floating T>
struct VICRegTerms {
  Var<T, 0> invariance;  ///< mean squared error between the branches
  Var<T, 0> variance;    ///< hinge on each column's standard deviation, averaged over branches
  Var<T, 0> covariance;  ///< off-diagonal covariance energy, summed over branches
};

/// VICReg's terms as its reference code defines them, for z1, z2 (B, D) with B >= 2:
///   invariance = mean over B x D of (z1 - z2)^2
///   variance   = (v(z1) + v(z2)) / 2,  v(z) = mean_d relu(1 - sqrt(var_b(z_d) + eps))
///   covariance = c(z1) + c(z2),        c(z) = sum_{i != j} Cov(z)_ij^2 / D
/// with the unbiased variance and covariance (divided by B - 1, torch.var's default). Constant
/// embeddings have variance exactly 1 - sqrt(eps) (0.99 for eps = 1e-4; 1 for eps = 0, but
/// eps = 0 gives an infinite gradient there). eps must not be negative.
template <floating T>
VICRegTerms<T> vicreg_terms(const Var<T, 2>& z1, const Var<T, 2>& z2, double eps = 1e-4) {
  namespace cd = contrastive_detail;
  cd::check_pair("vicreg_terms", "z1", z1, "z2", z2, 2);
  cd::check_coefficient("vicreg_terms", "eps", eps);
  const index_t B = z1.size(0), D = z1.size(1);
  const auto off_diagonal = cd::diagonal_weights<T>(D, T(0), T(1));
  const T unbiased = T(1) / static_cast<T>(B - 1);
  struct Branch {
    Var<T, 0> variance, covariance;
  };
  const auto branch = [&](const Var<T, 2>& z) {
    const auto centred = sub(z, mean(z, 0, keepdim));  // (B, D)
    const auto std_dev = sqrt(add(mul(sum(square(centred), 0), unbiased), static_cast<T>(eps)));
    const auto cov = mul(matmul(t(centred), centred), unbiased);  // (D, D)
    return Branch{mean(relu(sub(T(1), std_dev))),
                  mul(sum(square(mul(cov, off_diagonal))), T(1) / static_cast<T>(D))};
  };
  const Branch b1 = branch(z1), b2 = branch(z2);
  return VICRegTerms<T>{mse_loss(z1, z2), mul(add(b1.variance, b2.variance), T(0.5)),
                        add(b1.covariance, b2.covariance)};
}

/// VICReg: sim_coeff invariance + std_coeff variance + cov_coeff covariance (the terms of
/// vicreg_terms; the paper's defaults 25, 25, 1). z1, z2 (B, D) with B >= 2 -> scalar.
template <floating T>
Var<T, 0> vicreg_loss(const Var<T, 2>& z1, const Var<T, 2>& z2, double sim_coeff = 25,
                      double std_coeff = 25, double cov_coeff = 1, double eps = 1e-4) {
  namespace cd = contrastive_detail;
  cd::check_coefficient("vicreg_loss", "sim_coeff", sim_coeff);
  cd::check_coefficient("vicreg_loss", "std_coeff", std_coeff);
  cd::check_coefficient("vicreg_loss", "cov_coeff", cov_coeff);
  const auto terms = vicreg_terms(z1, z2, eps);
  return add(add(mul(terms.invariance, static_cast<T>(sim_coeff)),
                 mul(terms.variance, static_cast<T>(std_coeff))),
             mul(terms.covariance, static_cast<T>(cov_coeff)));
}

}  // namespace pretext::objectives
