// SPDX-License-Identifier: Apache-2.0
// Collapse monitoring for joint-embedding objectives: when every input maps to (nearly) the same
// embedding, the loss can look fine while the encoder has learned nothing.
//   embedding_std: the standard deviation over the batch of each dimension of the L2-normalised
//     embeddings, averaged over dimensions; about 1/sqrt(D) for spread-out embeddings, 0 for a
//     collapsed encoder (SimSiam's diagnostic).
//   effective_rank: exp of the entropy of the normalised singular values of the centred batch
//     (Roy & Vetterli 2007); between 1 (everything on a line) and min(B, D).
//
//   z (B, D) -> CollapseStats
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>

namespace pretext::objectives {

struct CollapseStats {
  double embedding_std = 0;
  double effective_rank = 0;
};

template <floating T>
CollapseStats collapse_stats(const Tensor<T, 2>& z) {
  const index_t B = z.size(0), D = z.size(1);
  PRETEXT_CHECK(B >= 2 && D >= 1, shape_error, "pretext::objectives::collapse_stats: embeddings ",
                pretext::detail::shape_string(z.shape()),
                " need at least 2 rows and 1 column to have a spread");
  const auto c = z.contiguous();
  Eigen::MatrixXd m(B, D);
  for (index_t i = 0; i < B; ++i)
    for (index_t j = 0; j < D; ++j) m(i, j) = static_cast<double>(c(i, j));
  CollapseStats s;
  // Per-dimension std of the row-normalised embeddings (unbiased, as torch.std).
  Eigen::MatrixXd n = m;
  for (index_t i = 0; i < B; ++i) n.row(i) /= std::max(n.row(i).norm(), 1e-12);
  const Eigen::RowVectorXd mean_n = n.colwise().mean();
  const Eigen::MatrixXd cn = n.rowwise() - mean_n;
  const Eigen::RowVectorXd var = cn.colwise().squaredNorm() / static_cast<double>(B - 1);
  s.embedding_std = var.array().sqrt().mean();
  // Singular values of the centred batch from the eigenvalues of its Gram matrix (D x D).
  const Eigen::MatrixXd cm = m.rowwise() - m.colwise().mean();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cm.transpose() * cm,
                                                           Eigen::EigenvaluesOnly);
  const Eigen::VectorXd sv = eig.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const double total = sv.sum();
  if (total <= 0) {
    s.effective_rank = 1;  // every row equal: fully collapsed
    return s;
  }
  double entropy = 0;
  for (Eigen::Index i = 0; i < sv.size(); ++i) {
    const double p = sv(i) / total;
    if (p > 0) entropy -= p * std::log(p);
  }
  s.effective_rank = std::exp(entropy);
  return s;
}

}  // namespace pretext::objectives
