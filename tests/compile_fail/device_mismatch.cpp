// SPDX-License-Identifier: Apache-2.0
// Combining a CUDA tensor with a CPU tensor does not compile.
// expect-error: pretext::mul: operands must be on the same device
#include <pretext/pretext.hpp>

int main() {
  pretext::Tensor<float, 2> a = pretext::zeros<float>({2, 2});
#ifdef PRETEXT_CONTROL
  pretext::Tensor<float, 2> b = a;
#else
  pretext::Tensor<float, 2, pretext::Cuda> b;
#endif
  return static_cast<int>(pretext::mul(a, b).numel());
}
