// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the IDX reader (plain and gzip, in memory): any input either parses,
// after which every element is read, or raises a pretext::error (io_error).
#include <pretext/io/idx.hpp>

#include <cstddef>
#include <cstdint>

namespace {

template <int Rank>
unsigned read_as(const std::uint8_t* data, std::size_t size) {
  const auto t = pretext::io::read_idx_bytes<Rank>(data, size, "fuzz-input");
  unsigned s = 0;
  for (pretext::index_t i = 0; i < t.numel(); ++i) s += t.data()[i];
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The rank is a template argument; try 1 to 4 (labels are 1, images 3) so that the parser sees
  // every declared rank it could be asked for. Each attempt may fail on its own.
  unsigned sum = 0;
  for (int rank = 1; rank <= 4; ++rank) {
    try {
      switch (rank) {
        case 1:
          sum += read_as<1>(data, size);
          break;
        case 2:
          sum += read_as<2>(data, size);
          break;
        case 3:
          sum += read_as<3>(data, size);
          break;
        default:
          sum += read_as<4>(data, size);
          break;
      }
    } catch (const pretext::error&) {
    }
  }
  return static_cast<int>(sum & 0u);
}
