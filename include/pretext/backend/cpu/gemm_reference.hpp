// SPDX-License-Identifier: Apache-2.0
// Reference GEMM for tests: C (M, N) = act(alpha * op(A) (M, K) * op(B) (K, N) + beta * C + bias),
// plain loops accumulating in double. Same contract as cpu::gemm; slow on purpose.
#pragma once

#include "pretext/backend/cpu/gemm_types.hpp"

namespace pretext::cpu {

/// The same contract as gemm(): op(A) is (M, K), op(B) is (K, N), C is (M, N) with row stride ldc.
/// beta == 0 never reads C. Each dot product is summed in double, then rounded once to T.
template <floating T>
void gemm_reference(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A,
                    index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc,
                    const Epilogue<T>& ep = {}) {
  auto a = [&](index_t i, index_t k) { return ta == Trans::no ? A[i * lda + k] : A[k * lda + i]; };
  auto b = [&](index_t k, index_t j) { return tb == Trans::no ? B[k * ldb + j] : B[j * ldb + k]; };
  with_activation(ep.act, [&](auto act) {
    for (index_t i = 0; i < M; ++i) {
      for (index_t j = 0; j < N; ++j) {
        double dot = 0;
        if (alpha != T(0))
          for (index_t k = 0; k < K; ++k)
            dot += static_cast<double>(a(i, k)) * static_cast<double>(b(k, j));
        double v = static_cast<double>(alpha) * dot;
        if (beta != T(0)) v += static_cast<double>(beta) * static_cast<double>(C[i * ldc + j]);
        if (ep.bias) v += static_cast<double>(ep.bias[j]);
        C[i * ldc + j] = act(static_cast<T>(v));
      }
    }
  });
}

}  // namespace pretext::cpu
