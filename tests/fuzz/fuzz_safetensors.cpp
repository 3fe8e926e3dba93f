// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the safetensors reader: any input either parses, after which every
// tensor's bytes are read in full (ASan catches a read outside the buffer), or raises io_error.
#include <pretext/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto f = pretext::io::SafetensorsFile::from_bytes(
        std::vector<unsigned char>(data, data + size), "fuzz-input");
    unsigned sum = 0;
    for (const auto& [name, e] : f.entries()) {
      const unsigned char* p = f.bytes(name);
      for (std::size_t i = 0; i < e.end - e.begin; ++i) sum += p[i];
      if (e.shape.size() == 1 && e.dtype == pretext::io::DType::F32)
        sum += static_cast<unsigned>(f.get<float, 1>(name).numel());
    }
    return static_cast<int>(sum & 0u);
  } catch (const pretext::io_error&) {
    return 0;
  }
}
