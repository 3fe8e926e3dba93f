// SPDX-License-Identifier: Apache-2.0
// exp of an integer tensor does not compile: math kernels need float or double.
// expect-error: pretext::exp: needs a float or double tensor
#include <pretext/pretext.hpp>

int main() {
#ifdef PRETEXT_CONTROL
  auto t = pretext::zeros<float>({4});
#else
  auto t = pretext::zeros<std::int64_t>({4});
#endif
  return static_cast<int>(pretext::exp(t).numel());
}
