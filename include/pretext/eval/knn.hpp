// SPDX-License-Identifier: Apache-2.0
// Weighted k-nearest-neighbour classification of features, as InstDisc (Wu et al. 2018) and
// lightly's kNN monitor evaluate an encoder without training anything: cosine similarity to
// every training feature, the k most similar vote with weight exp(sim / T), the class with the
// largest summed weight wins.
//
//   train x (N, D), train y (N), test x (M, D); similarities of a test chunk (B, N) from one
//   GEMM; scores (M, C) per class. Memory beyond the inputs: a normalised copy of both sets
//   and one (B, N) block, B = options.chunk.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/eval/labels.hpp"
#include "pretext/ops/matmul.hpp"
#include "pretext/ops/reduce.hpp"

namespace pretext::eval {

struct KnnOptions {
  index_t k = 200;           ///< neighbours; clamped to the number of training examples
  double temperature = 0.1;  ///< T in exp(sim / T): smaller T trusts the nearest more
  index_t num_classes = 0;   ///< C; 0: 1 + the largest training label
  index_t chunk = 256;       ///< test rows per similarity block (B)
};

/// Rows of x (N, D) scaled to unit L2 norm (as torch.nn.functional.normalize: a zero row stays
/// zero, dividing by max(norm, 1e-12)).
template <floating T>
Tensor<T, 2> l2_normalize_rows(const Tensor<T, 2>& x) {
  const auto xc = x.contiguous();
  const index_t N = x.size(0), D = x.size(1);
  Tensor<T, 2> out(x.shape());
  parallel_for(0, N, std::max<index_t>(1, 4096 / std::max<index_t>(D, 1)),
               [&](index_t lo, index_t hi) {
                 for (index_t i = lo; i < hi; ++i) {
                   const T* r = xc.data() + i * D;
                   double s = 0;
                   for (index_t j = 0; j < D; ++j) s += static_cast<double>(r[j]) * r[j];
                   const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
                   T* o = out.data() + i * D;
                   for (index_t j = 0; j < D; ++j) o[j] = static_cast<T>(r[j] * inv);
                 }
               });
  return out;
}

namespace detail {

template <floating T>
void check_knn(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
               const Tensor<T, 2>& test_x, const KnnOptions& o, const char* op) {
  check_rows_match(train_x, train_y, op, "train");
  check_widths_match(train_x, test_x, op);
  PRETEXT_CHECK(train_x.size(0) >= 1, config_error, "pretext::eval::", op,
                ": no training examples (train features are ",
                pretext::detail::shape_string(train_x.shape()), ")");
  PRETEXT_CHECK(o.k >= 1, config_error, "pretext::eval::", op, ": k ", o.k, " must be >= 1");
  PRETEXT_CHECK(o.temperature > 0 && std::isfinite(o.temperature), config_error,
                "pretext::eval::", op, ": temperature ", o.temperature,
                " must be positive and finite (0.1 as InstDisc; large T approaches a plain "
                "majority vote)");
  PRETEXT_CHECK(o.chunk >= 1, config_error, "pretext::eval::", op, ": chunk ", o.chunk,
                " must be >= 1");
}

template <floating T>
Tensor<double, 2> knn_scores(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                             const Tensor<T, 2>& test_x, const KnnOptions& options,
                             const char* op) {
  check_knn(train_x, train_y, test_x, options, op);
  const index_t C = options.num_classes > 0 ? options.num_classes : count_classes(train_y, op);
  check_labels(train_y, C, op, "train");
  const index_t N = train_x.size(0), M = test_x.size(0);
  const index_t k = std::min(options.k, N);
  const auto train_n = l2_normalize_rows(train_x);
  const auto yc = train_y.contiguous();
  const std::int64_t* labels = yc.data();
  Tensor<double, 2> scores = Tensor<double, 2>::zeros(Shape<2>{M, C});
  const double inv_t = 1.0 / options.temperature;
  struct Hit {
    T sim;
    std::int64_t row;
  };
  // "a ranks before b": more similar, or as similar with a lower row number. As the heap
  // comparator it keeps the worst of the k kept neighbours at the front.
  auto before = [](const Hit& a, const Hit& b) {
    return a.sim > b.sim || (a.sim == b.sim && a.row < b.row);
  };
  for (index_t c0 = 0; c0 < M; c0 += options.chunk) {
    const index_t B = std::min(options.chunk, M - c0);
    const auto q = l2_normalize_rows(test_x.narrow(0, c0, B));
    const auto sim = matmul(q, train_n.t());  // (B, N)
    parallel_for(0, B, 1, [&](index_t lo, index_t hi) {
      std::vector<Hit> heap;
      heap.reserve(static_cast<std::size_t>(k));
      for (index_t i = lo; i < hi; ++i) {
        const T* s = sim.data() + i * N;
        heap.clear();
        // A bounded heap rather than a sort: after the first k, most rows are rejected by one
        // comparison with the current k-th best.
        for (index_t j = 0; j < N; ++j) {
          const Hit h{s[j], j};
          if (static_cast<index_t>(heap.size()) < k) {
            heap.push_back(h);
            std::push_heap(heap.begin(), heap.end(), before);
          } else if (before(h, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), before);
            heap.back() = h;
            std::push_heap(heap.begin(), heap.end(), before);
          }
        }
        double top = -1e300;
        for (const Hit& h : heap) top = std::max(top, static_cast<double>(h.sim));
        double* out = scores.data() + (c0 + i) * C;
        double total = 0;
        for (const Hit& h : heap) {
          const double w = std::exp((static_cast<double>(h.sim) - top) * inv_t);
          out[labels[h.row]] += w;
          total += w;
        }
        if (total > 0)
          for (index_t c = 0; c < C; ++c) out[c] /= total;
      }
    });
  }
  return scores;
}

template <floating T>
Tensor<std::int64_t, 1> knn_predict(const Tensor<T, 2>& train_x,
                                    const Tensor<std::int64_t, 1>& train_y,
                                    const Tensor<T, 2>& test_x, const KnnOptions& options,
                                    const char* op) {
  const auto scores = knn_scores(train_x, train_y, test_x, options, op);
  const index_t M = scores.size(0), C = scores.size(1);
  Tensor<std::int64_t, 1> pred(Shape<1>{M});
  for (index_t i = 0; i < M; ++i) {
    const double* s = scores.data() + i * C;
    pred(i) = std::max_element(s, s + C) - s;
  }
  return pred;
}

}  // namespace detail

/// Class scores (M, C) of the test rows: for test row i, with s_j the cosine similarity to
/// training row j and K_i the k most similar training rows (ties: the lower row number),
///   score(i, c) = sum_{j in K_i, y_j = c} exp(s_j / T) / sum_{j in K_i} exp(s_j / T).
/// Normalising (and computing with s_j - max s) changes no ranking and keeps small T finite.
/// Similarities come from one GEMM in T per chunk; the votes are summed in double.
///
/// Throws shape_error when train features and labels disagree in count or train and test in
/// width (both shapes named), config_error for k < 1, T <= 0, chunk < 1 or a bad label.
template <floating T>
Tensor<double, 2> knn_scores(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                             const Tensor<T, 2>& test_x, const KnnOptions& options = {}) {
  return detail::knn_scores(train_x, train_y, test_x, options, "knn_scores");
}

/// The predicted class of each test row (M): the argmax of knn_scores (ties: the lower class).
template <floating T>
Tensor<std::int64_t, 1> knn_predict(const Tensor<T, 2>& train_x,
                                    const Tensor<std::int64_t, 1>& train_y,
                                    const Tensor<T, 2>& test_x, const KnnOptions& options = {}) {
  return detail::knn_predict(train_x, train_y, test_x, options, "knn_predict");
}

/// Accuracy of knn_predict on the test rows against test_y (M).
template <floating T>
double knn_accuracy(const Tensor<T, 2>& train_x, const Tensor<std::int64_t, 1>& train_y,
                    const Tensor<T, 2>& test_x, const Tensor<std::int64_t, 1>& test_y,
                    const KnnOptions& options = {}) {
  check_rows_match(test_x, test_y, "knn_accuracy", "test");
  return accuracy(detail::knn_predict(train_x, train_y, test_x, options, "knn_accuracy"), test_y);
}

}  // namespace pretext::eval
