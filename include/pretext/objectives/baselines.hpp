// SPDX-License-Identifier: Apache-2.0
// The floor of masked prediction on continuous tokens: predicting every masked token by the mean
// of its position over a training set (the best constant per position under squared error).
//
//   train tokens (N_train, N, P), test tokens (B, N, P), masked positions (B, M) -> mean squared
//   error over the B * M * P predicted values.
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

#include <cstdint>
#include <vector>

namespace pretext::objectives {

template <floating T>
double mean_token_mse(const Tensor<T, 3>& train_tokens, const Tensor<T, 3>& test_tokens,
                      const Tensor<std::int64_t, 2>& masked) {
  const index_t N = train_tokens.size(1), P = train_tokens.size(2);
  PRETEXT_CHECK(train_tokens.size(0) > 0 && test_tokens.size(1) == N && test_tokens.size(2) == P &&
                    masked.size(0) == test_tokens.size(0),
                shape_error, "pretext::objectives::mean_token_mse: train tokens ",
                pretext::detail::shape_string(train_tokens.shape()), ", test tokens ",
                pretext::detail::shape_string(test_tokens.shape()), " and masked positions ",
                pretext::detail::shape_string(masked.shape()),
                " do not fit; give (N_train, N, P), (B, N, P) and (B, M)");
  const auto tr = train_tokens.contiguous();
  std::vector<double> mean(static_cast<std::size_t>(N * P), 0.0);
  for (index_t i = 0; i < tr.size(0); ++i)
    for (index_t k = 0; k < N * P; ++k)
      mean[static_cast<std::size_t>(k)] += static_cast<double>(tr.data()[i * N * P + k]);
  for (auto& m : mean) m /= static_cast<double>(tr.size(0));
  const index_t B = masked.size(0), M = masked.size(1);
  double sum = 0;
  for (index_t b = 0; b < B; ++b)
    for (index_t m = 0; m < M; ++m) {
      const index_t n = masked(b, m);
      PRETEXT_CHECK(n >= 0 && n < N, index_error, "pretext::objectives::mean_token_mse: position ",
                    n, " is outside the ", N, " tokens");
      for (index_t j = 0; j < P; ++j) {
        const double d =
            static_cast<double>(test_tokens(b, n, j)) - mean[static_cast<std::size_t>(n * P + j)];
        sum += d * d;
      }
    }
  return B * M * P > 0 ? sum / static_cast<double>(B * M * P) : 0.0;
}

}  // namespace pretext::objectives
