// SPDX-License-Identifier: Apache-2.0
// matmul of a matrix with a vector does not compile (ranks 2 and 1).
// expect-error: pretext::matmul: operands must both have rank 2 or both rank 3
#include <pretext/pretext.hpp>

int main() {
  auto a = pretext::zeros<float>({2, 3});
#ifdef PRETEXT_CONTROL
  auto b = pretext::zeros<float>({3, 1});
#else
  auto b = pretext::zeros<float>({3});
#endif
  return static_cast<int>(pretext::matmul(a, b).numel());
}
