// SPDX-License-Identifier: Apache-2.0
// A PerView with two augmentations cannot make three views of each sample.
// expect-error: a PerView needs one augmentation per view
#include <pretext/data.hpp>
#include <pretext/modality/augment.hpp>

int main() {
  using namespace pretext;
  const data::UnlabeledTensorDataset<float, 2> ds(zeros<float>({4, 8}));
  const modality::SignalJitter jitter{.std = 0.1};
  const modality::SignalScaling scaling{.std = 0.2};
#ifdef PRETEXT_CONTROL
  const auto views = modality::multi_view<3>(ds, modality::per_view(jitter, scaling, jitter));
#else
  const auto views = modality::multi_view<3>(ds, modality::per_view(jitter, scaling));
#endif
  return static_cast<int>(views.size());
}
