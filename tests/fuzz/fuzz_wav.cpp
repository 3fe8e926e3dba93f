// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the WAV reader: any input either decodes, after which every sample is
// read and must lie in [-1, 1], or raises a pretext::error (io_error).
#include <pretext/io/wav.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto w = pretext::io::read_wav_bytes(data, size, "fuzz-input");
    if (w.samples.shape()[0] != w.channels || w.sample_rate <= 0) std::abort();
    for (pretext::index_t i = 0; i < w.samples.numel(); ++i) {
      const float v = w.samples.data()[i];
      if (!(v >= -1.0f && v <= 1.0f)) std::abort();
    }
    return 0;
  } catch (const pretext::error&) {
    return 0;
  }
}
