// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the .npy reader: any input either parses, after which every element is
// read (ASan catches a read outside the buffer), or raises a pretext::error (io_error).
#include <pretext/io/npy.hpp>

#include <cstddef>
#include <cstdint>

namespace {

// Reads the input as Tensor<T, R> for the rank the header declares (0 to 3), so that the element
// decoding, the range checks and the Fortran-order transpose all run.
template <class T>
unsigned read_as(const std::uint8_t* data, std::size_t size, std::size_t rank) {
  auto sum = [](const auto& t) {
    unsigned s = 0;
    for (pretext::index_t i = 0; i < t.numel(); ++i) s += static_cast<unsigned>(t.data()[i] != 0);
    return s;
  };
  switch (rank) {
    case 0:
      return sum(pretext::io::read_npy_bytes<T, 0>(data, size, "fuzz-input"));
    case 1:
      return sum(pretext::io::read_npy_bytes<T, 1>(data, size, "fuzz-input"));
    case 2:
      return sum(pretext::io::read_npy_bytes<T, 2>(data, size, "fuzz-input"));
    case 3:
      return sum(pretext::io::read_npy_bytes<T, 3>(data, size, "fuzz-input"));
    default:
      return sum(pretext::io::read_npy_bytes<T, 4>(data, size, "fuzz-input"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto h = pretext::io::read_npy_header_bytes(data, size, "fuzz-input");
    const bool floating = h.kind == pretext::io::NpyKind::f4 || h.kind == pretext::io::NpyKind::f8;
    unsigned sum = 0;
    if (floating) {
      sum += read_as<float>(data, size, h.shape.size());
      sum += read_as<double>(data, size, h.shape.size());
    } else {
      sum += read_as<std::int64_t>(data, size, h.shape.size());
      sum += read_as<std::uint8_t>(data, size, h.shape.size());  // range checks reject most
    }
    return static_cast<int>(sum & 0u);
  } catch (const pretext::error&) {
    return 0;
  }
}
