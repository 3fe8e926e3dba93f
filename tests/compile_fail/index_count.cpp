// SPDX-License-Identifier: Apache-2.0
// Indexing a rank-3 tensor with two indices does not compile.
// expect-error: number of indices differs from the rank
#include <pretext/pretext.hpp>

int main() {
  auto t = pretext::zeros<float>({2, 3, 4});
#ifdef PRETEXT_CONTROL
  return static_cast<int>(t(1, 2, 3));
#else
  return static_cast<int>(t(1, 2));
#endif
}
