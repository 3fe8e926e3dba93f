// SPDX-License-Identifier: Apache-2.0
// Adding a float tensor to a double tensor does not compile.
// expect-error: pretext::add: operands must have the same element type
#include <pretext/pretext.hpp>

int main() {
  auto a = pretext::zeros<float>({2, 3});
#ifdef PRETEXT_CONTROL
  auto b = pretext::zeros<float>({2, 3});
#else
  auto b = pretext::zeros<double>({2, 3});
#endif
  return static_cast<int>((a + b).numel());
}
