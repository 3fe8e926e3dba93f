// SPDX-License-Identifier: Apache-2.0
// Chaining Linear<784, 512> into Linear<256, 10> does not compile; the first error names the
// layer and both widths.
// expect-error: sequential_width_mismatch.*Layer = 2.*PreviousOutput = 512.*Input = 256
#include <pretext/nn.hpp>

int main() {
#ifdef PRETEXT_CONTROL
  using Net = pretext::nn::Sequential<pretext::nn::Linear<784, 512>, pretext::nn::ReLU,
                                      pretext::nn::Linear<512, 10>>;
#else
  using Net = pretext::nn::Sequential<pretext::nn::Linear<784, 512>, pretext::nn::ReLU,
                                      pretext::nn::Linear<256, 10>>;
#endif
  Net net;
  return static_cast<int>(net.num_parameters() % 2);
}
