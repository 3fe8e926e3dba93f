// SPDX-License-Identifier: Apache-2.0
// An in-place op cannot broadcast its target to a higher rank.
// expect-error: in-place operation cannot broadcast its target to a higher rank
#include <pretext/pretext.hpp>

int main() {
  auto target = pretext::zeros<float>({3});
#ifdef PRETEXT_CONTROL
  auto other = pretext::zeros<float>({3});
#else
  auto other = pretext::zeros<float>({2, 3});
#endif
  pretext::add_(target, other);
  return 0;
}
