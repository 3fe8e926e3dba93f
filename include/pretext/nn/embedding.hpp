// SPDX-License-Identifier: Apache-2.0
// Embedding<Num, Dim>: a table weight (Num, Dim) looked up by integer ids, as torch.nn.Embedding
// (weight ~ N(0, 1); the padding_idx row starts at zero and gets no gradient). The functional
// form pretext::embedding(weight, ids) is differentiable in weight: its backward adds each output
// row's gradient into the row it came from.
#pragma once

#include "pretext/autograd/variable.hpp"
#include "pretext/core/random.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"

#include <cstdint>
#include <cstring>

namespace pretext {

/// ids (...) in [0, Num) -> (..., Dim), rows of weight (Num, Dim). Rows at padding_idx (when
/// >= 0) pass no gradient back.
template <floating T, int R>
Var<T, R + 1> embedding(const Var<T, 2>& weight, const Tensor<std::int64_t, R>& ids,
                        index_t padding_idx = -1) {
  const index_t num = weight.size(0), dim = weight.size(1);
  const Tensor<std::int64_t, R> idc = ids.contiguous();
  const std::int64_t* id = idc.data();
  const index_t n = idc.numel();
  for (index_t i = 0; i < n; ++i)
    PRETEXT_CHECK(id[i] >= 0 && id[i] < num, index_error, "pretext::embedding: id ", id[i],
                  " at flat position ", i, " of ids ", detail::shape_string(ids.shape()),
                  " is outside the table's ", num, " rows");
  Shape<R + 1> shape{};
  for (int i = 0; i < R; ++i) shape[i] = ids.size(i);
  shape[R] = dim;
  Tensor<T, R + 1> out(shape);
  const Tensor<T, 2> w = weight.data().contiguous();
  for (index_t i = 0; i < n; ++i)
    std::memcpy(out.data() + i * dim, w.data() + id[i] * dim, sizeof(T) * dim);
  return autograd::detail::record(
      "embedding", std::move(out),
      [idc, num, dim, padding_idx](const Tensor<T, R + 1>& g, const auto&) {
        Tensor<T, 2> gw = Tensor<T, 2>::zeros(Shape<2>{num, dim});
        const Tensor<T, R + 1> gc = g.contiguous();
        const std::int64_t* ip = idc.data();
        for (index_t i = 0; i < idc.numel(); ++i) {
          if (ip[i] == padding_idx) continue;
          T* dst = gw.data() + ip[i] * dim;
          const T* src = gc.data() + i * dim;
          for (index_t j = 0; j < dim; ++j) dst[j] += src[j];
        }
        return gw;
      },
      weight);
}

namespace nn {

template <index_t Num, index_t Dim, floating T = float>
class Embedding : public Module<Embedding<Num, Dim, T>> {
 public:
  using value_type = T;
  static constexpr index_t out_width = Dim;

  explicit Embedding(Generator& g,
                     index_t padding_idx = -1) requires(Num != dynamic && Dim != dynamic)
      : Embedding(Num, Dim, g, padding_idx) {}
  Embedding() requires(Num != dynamic && Dim != dynamic)
      : Embedding(Num, Dim, default_generator()) {}
  Embedding(index_t num, index_t dim, Generator& g, index_t padding_idx = -1)
      : padding_idx(padding_idx) {
    const index_t n = detail::resolve_width("Embedding", "num_embeddings", Num, num);
    const index_t d = detail::resolve_width("Embedding", "embedding_dim", Dim, dim);
    PRETEXT_CHECK(padding_idx >= -1 && padding_idx < n, config_error,
                  "pretext::nn::Embedding: padding_idx ", padding_idx, " is outside [0, ", n,
                  ") (use -1 for none)");
    Tensor<T, 2> w(Shape<2>{n, d});
    normal_(w, g);
    if (padding_idx >= 0) w.select(0, padding_idx).fill_(T(0));
    weight = Var<T, 2>(w, true);
  }
  Embedding(index_t num, index_t dim) : Embedding(num, dim, default_generator()) {}

  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
  }

  template <int R>
  Var<T, R + 1> operator()(const Tensor<std::int64_t, R>& ids) const {
    return embedding(weight, ids, padding_idx);
  }

  Var<T, 2> weight;  ///< (Num, Dim)
  index_t padding_idx;
};

}  // namespace nn
}  // namespace pretext
