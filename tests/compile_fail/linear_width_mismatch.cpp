// SPDX-License-Identifier: Apache-2.0
// A dynamic layer between two static ones does not hide a mismatch of the static ones around a
// width-keeping layer: LayerNorm<512> after Linear<784, 256> names 256 and 512.
// expect-error: sequential_width_mismatch.*Layer = 1.*PreviousOutput = 256.*Input = 512
#include <pretext/nn.hpp>

int main() {
#ifdef PRETEXT_CONTROL
  using Net = pretext::nn::Sequential<pretext::nn::Linear<784, 256>, pretext::nn::LayerNorm<256>,
                                      pretext::nn::GELU, pretext::nn::Linear<256, 10>>;
#else
  using Net = pretext::nn::Sequential<pretext::nn::Linear<784, 256>, pretext::nn::LayerNorm<512>,
                                      pretext::nn::GELU, pretext::nn::Linear<256, 10>>;
#endif
  Net net;
  return static_cast<int>(net.num_parameters() % 2);
}
