// SPDX-License-Identifier: Apache-2.0
// Matrix products on tensors: matmul (M, K) x (K, N) -> (M, N) and batched (B, M, K) x (B, K, N)
// -> (B, M, N); matmul_out into an existing (M, N) view; linear (M, K) x weight (N, K)^T + bias
// (N) with a fused activation, as torch.nn.functional.linear.
//
// Operands go to cpu::gemm without copying when each matrix has a unit stride along one axis
// (row-major, or a transposed view such as w.t()); any other layout is copied to contiguous first.
#pragma once

#include <algorithm>
#include <optional>
#include <type_traits>

#include "pretext/backend/cpu/activation.hpp"
#include "pretext/backend/cpu/gemm.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/ops/checks.hpp"

namespace pretext {
namespace detail {

/// A matrix (rows, cols) as gemm reads it: row-major with row stride ld, or (trans == yes) the
/// transpose of a row-major (cols, rows) matrix with row stride ld. `keep` owns a copy when the
/// view's layout needed one.
template <class T>
struct GemmOperand {
  const T* data;
  index_t ld;
  cpu::Trans trans;
  Tensor<T, 2> keep;
};

/// Whether extents (rows, cols) with strides (s_row, s_col) are row-major with a valid ld.
inline bool row_major_layout(index_t rows, index_t cols, index_t s_row, index_t s_col,
                             index_t* ld) {
  if (cols > 1 && s_col != 1) return false;
  *ld = rows > 1 ? s_row : std::max<index_t>(cols, 1);
  return *ld >= std::max<index_t>(cols, 1);
}

template <class T>
GemmOperand<T> gemm_operand(const Tensor<T, 2>& x) {
  const index_t rows = x.size(0), cols = x.size(1);
  index_t ld = 0;
  if (row_major_layout(rows, cols, x.stride(0), x.stride(1), &ld))
    return {x.data(), ld, cpu::Trans::no, {}};
  if (row_major_layout(cols, rows, x.stride(1), x.stride(0), &ld))
    return {x.data(), ld, cpu::Trans::yes, {}};
  Tensor<T, 2> c = x.clone();
  return {c.data(), std::max<index_t>(cols, 1), cpu::Trans::no, c};
}

/// Batch stride of axis 0 of a rank-3 operand as gemm_batched reads it (0 broadcasts).
template <class T>
index_t batch_stride(const Tensor<T, 3>& x) {
  return x.size(0) == 1 ? 0 : x.stride(0);
}

}  // namespace detail

/// Matrix product. Rank 2: a (M, K) x b (K, N) -> (M, N). Rank 3: a (B, M, K) x b (B, K, N) ->
/// (B, M, N), where one batch extent may be 1 and broadcasts. Transposed views (x.t(),
/// x.transpose(1, 2)) are read in place; throws shape_error when the extents do not fit.
template <tensor_like A, tensor_like B>
auto matmul(const A& a, const B& b) {
  using TA = std::remove_cvref_t<A>;
  using TB = std::remove_cvref_t<B>;
  PRETEXT_STATIC_CHECK_SAME_KIND("matmul", TA, TB);
  PRETEXT_STATIC_CHECK_FLOATING("matmul", TA);
  PRETEXT_STATIC_CHECK_CPU("matmul", TA);
  static_assert((TA::rank == 2 && TB::rank == 2) || (TA::rank == 3 && TB::rank == 3),
                "pretext::matmul: operands must both have rank 2 or both rank 3");
  using T = typename TA::value_type;
  constexpr int R = TA::rank;
  const index_t M = a.size(R - 2), K = a.size(R - 1), N = b.size(R - 1);
  PRETEXT_CHECK(b.size(R - 2) == K, shape_error, "pretext::matmul: inner extents differ: a is ",
                detail::shape_string(a.shape()), ", b is ", detail::shape_string(b.shape()),
                R == 2 ? "; a's last extent must equal b's first"
                       : "; a's last extent must equal b's second");
  if constexpr (R == 2) {
    Tensor<T, 2> out(Shape<2>{M, N});
    const auto pa = detail::gemm_operand(a), pb = detail::gemm_operand(b);
    cpu::gemm<T>(pa.trans, pb.trans, M, N, K, T(1), pa.data, pa.ld, pb.data, pb.ld, T(0),
                 out.data(), std::max<index_t>(N, 1));
    return out;
  } else {
    const index_t ba = a.size(0), bb = b.size(0);
    PRETEXT_CHECK(ba == bb || ba == 1 || bb == 1, shape_error,
                  "pretext::matmul: batch extents differ: a is ", detail::shape_string(a.shape()),
                  ", b is ", detail::shape_string(b.shape()),
                  "; they must be equal, or one of them 1 to broadcast");
    const index_t batch = std::max(ba, bb);
    Tensor<T, 3> out(Shape<3>{batch, M, N});
    if (batch == 0) return out;
    // Every item of a rank-3 view has item 0's layout, so item 0 decides; a copy (when its
    // layout needs one) is made of the whole operand.
    auto operand = [](const Tensor<T, 3>& x, Tensor<T, 3>& keep, index_t& stride) {
      auto p = detail::gemm_operand(x.select(0, 0));
      if (p.keep.defined()) {
        keep = x.clone();
        p = detail::gemm_operand(keep.select(0, 0));
        stride = detail::batch_stride(keep);
      } else {
        stride = detail::batch_stride(x);
      }
      return p;
    };
    Tensor<T, 3> keep_a, keep_b;
    index_t sa = 0, sb = 0;
    const auto pa = operand(a, keep_a, sa), pb = operand(b, keep_b, sb);
    cpu::gemm_batched<T>(pa.trans, pb.trans, batch, M, N, K, T(1), pa.data, pa.ld, sa, pb.data,
                         pb.ld, sb, T(0), out.data(), std::max<index_t>(N, 1), M * N);
    return out;
  }
}

/// out (M, N) = alpha * a (M, K) b (K, N) + beta * out. out may be a strided view whose columns
/// are adjacent (unit stride along axis 1); it must not overlap a or b. beta == 0 ignores out's
/// old values (even NaN).
template <floating T>
const Tensor<T, 2>& matmul_out(const Tensor<T, 2>& out, const Tensor<T, 2>& a,
                               const Tensor<T, 2>& b, T alpha = T(1), T beta = T(0)) {
  const index_t M = a.size(0), K = a.size(1), N = b.size(1);
  PRETEXT_CHECK(b.size(0) == K, shape_error, "pretext::matmul_out: inner extents differ: a is ",
                detail::shape_string(a.shape()), ", b is ", detail::shape_string(b.shape()),
                "; a's last extent must equal b's first");
  PRETEXT_CHECK(out.size(0) == M && out.size(1) == N, shape_error, "pretext::matmul_out: out is ",
                detail::shape_string(out.shape()), " but a ", detail::shape_string(a.shape()),
                " times b ", detail::shape_string(b.shape()), " is ",
                detail::shape_string(Shape<2>{M, N}));
  index_t ldc = 0;
  PRETEXT_CHECK(detail::row_major_layout(M, N, out.stride(0), out.stride(1), &ldc), shape_error,
                "pretext::matmul_out: out of shape ", detail::shape_string(out.shape()),
                " has strides ", detail::shape_string(out.strides()),
                "; it needs unit stride along axis 1 and rows that do not overlap");
  const auto pa = detail::gemm_operand(a), pb = detail::gemm_operand(b);
  cpu::gemm<T>(pa.trans, pb.trans, M, N, K, alpha, pa.data, pa.ld, pb.data, pb.ld, beta, out.data(),
               ldc);
  out.bump_version();
  return out;
}

/// y (M, N) = act(x (M, K) weight (N, K)^T + bias (N)): torch.nn.functional.linear with the
/// bias and activation fused into the GEMM's store. bias may be nullptr.
template <floating T>
Tensor<T, 2> linear(const Tensor<T, 2>& x, const Tensor<T, 2>& weight,
                    const Tensor<T, 1>* bias = nullptr,
                    cpu::Activation act = cpu::Activation::none) {
  const index_t M = x.size(0), K = x.size(1), N = weight.size(0);
  PRETEXT_CHECK(weight.size(1) == K, shape_error, "pretext::linear: x is ",
                detail::shape_string(x.shape()), ", weight is ",
                detail::shape_string(weight.shape()),
                "; weight must be (out_features, in_features) with in_features = x's last extent");
  Tensor<T, 1> b;
  if (bias) {
    PRETEXT_CHECK(bias->size(0) == N, shape_error, "pretext::linear: bias is ",
                  detail::shape_string(bias->shape()), " but weight is ",
                  detail::shape_string(weight.shape()), "; bias must have out_features (", N,
                  ") elements");
    b = bias->contiguous();
  }
  Tensor<T, 2> out(Shape<2>{M, N});
  const auto px = detail::gemm_operand(x), pw = detail::gemm_operand(weight.t());
  cpu::gemm<T>(px.trans, pw.trans, M, N, K, T(1), px.data, px.ld, pw.data, pw.ld, T(0), out.data(),
               std::max<index_t>(N, 1), cpu::Epilogue<T>{b.data(), act});
  return out;
}

/// linear() with the bias as an optional tensor.
template <floating T>
Tensor<T, 2> linear(const Tensor<T, 2>& x, const Tensor<T, 2>& weight,
                    const std::optional<Tensor<T, 1>>& bias,
                    cpu::Activation act = cpu::Activation::none) {
  return linear(x, weight, bias ? &*bias : nullptr, act);
}

}  // namespace pretext
