// SPDX-License-Identifier: Apache-2.0
// t() is the matrix transpose; on a rank-3 tensor it does not compile.
// expect-error: pretext::Tensor::t: needs a rank-2 tensor
#include <pretext/pretext.hpp>

int main() {
#ifdef PRETEXT_CONTROL
  auto t = pretext::zeros<float>({2, 3});
#else
  auto t = pretext::zeros<float>({2, 3, 4});
#endif
  return static_cast<int>(t.t().numel());
}
