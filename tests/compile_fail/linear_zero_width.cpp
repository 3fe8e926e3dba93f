// SPDX-License-Identifier: Apache-2.0
// A Linear with a zero input width does not compile.
// expect-error: pretext::nn::Linear: In must be positive or dynamic
#include <pretext/nn.hpp>

int main() {
#ifdef PRETEXT_CONTROL
  pretext::nn::Linear<1, 10> lin;
#else
  pretext::nn::Linear<0, 10> lin;
#endif
  return static_cast<int>(lin.out_features() % 2);
}
