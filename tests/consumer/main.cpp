// SPDX-License-Identifier: Apache-2.0
// A consumer of pretext: includes the umbrella header and checks a small computation.
#include <pretext/pretext.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace pretext;
  Generator g(0);
  auto x = normal<float>({8, 16}, g);
  auto w = normal<float>({16, 4}, g);
  auto p = softmax(matmul(x, w));
  const float total = sum(p).item();  // each of the 8 rows sums to 1
  std::printf("pretext %d.%d.%d consumer: sum of softmax rows = %.5f\n", version_major,
              version_minor, version_patch, total);
  return std::abs(total - 8.0f) < 1e-4f ? 0 : 1;
}
