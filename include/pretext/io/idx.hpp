// SPDX-License-Identifier: Apache-2.0
// Reader for IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, one
// big-endian uint32 extent per dimension, then the elements in row-major order. Only unsigned
// bytes are supported (that is all the image sets use). Needs zlib (link pretext::io).
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext::io {

namespace detail {

class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    PRETEXT_CHECK(f_ != nullptr, io_error, "pretext::io::read_idx: cannot open '", path,
                  "'; check the path (Fashion-MNIST installs with scripts/setup.sh demo)");
    gzbuffer(f_, 1 << 17);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  ~GzFile() { gzclose(f_); }

  /// Reads exactly n bytes or throws io_error naming the file and what was being read.
  void read(void* dst, std::size_t n, const char* what) {
    auto* out = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
      const int got = gzread(f_, out, chunk);
      if (got <= 0) {
        int err = 0;
        const char* msg = gzerror(f_, &err);
        pretext::detail::fail<io_error>("pretext::io::read_idx: '", path_,
                                        "' ends early while reading ", what,
                                        err ? std::string(" (zlib: ") + msg + ")" : std::string(),
                                        "; the file is truncated or corrupt");
      }
      out += got;
      n -= static_cast<std::size_t>(got);
    }
  }
  /// True when no byte is left.
  bool at_end() {
    unsigned char c;
    return gzread(f_, &c, 1) == 0;
  }

 private:
  std::string path_;
  gzFile f_;
};

}  // namespace detail

/// Reads an IDX file of unsigned bytes whose rank must be Rank (3 for images (N, H, W), 1 for
/// labels (N)). Throws io_error naming the file and the fault for anything malformed.
template <int Rank>
Tensor<std::uint8_t, Rank> read_idx(const std::string& path) {
  detail::GzFile f(path);
  unsigned char magic[4];
  f.read(magic, 4, "the magic number");
  PRETEXT_CHECK(magic[0] == 0 && magic[1] == 0, io_error, "pretext::io::read_idx: '", path,
                "' is not an IDX file (its first two bytes are not zero)");
  PRETEXT_CHECK(magic[2] == 0x08, io_error, "pretext::io::read_idx: '", path, "' holds type 0x",
                std::hex, int(magic[2]), "; only unsigned bytes (0x08) are supported");
  PRETEXT_CHECK(magic[3] == Rank, io_error, "pretext::io::read_idx: '", path, "' has ",
                int(magic[3]), " dimensions, expected ", Rank);
  Shape<Rank> shape{};
  index_t total = 1;
  for (int i = 0; i < Rank; ++i) {
    unsigned char b[4];
    f.read(b, 4, "the dimensions");
    const std::uint32_t e = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) |
                            (std::uint32_t(b[2]) << 8) | std::uint32_t(b[3]);
    shape[static_cast<std::size_t>(i)] = e;
    // Checked before multiplying: two 32-bit extents would overflow a signed 64-bit product.
    constexpr index_t kMaxElements = index_t(1) << 34;
    PRETEXT_CHECK(e == 0 || total <= kMaxElements / index_t(e), io_error,
                  "pretext::io::read_idx: '", path, "' declares an implausibly large shape ",
                  pretext::detail::shape_string(shape));
    total *= e;
  }
  Tensor<std::uint8_t, Rank> t(shape);
  f.read(t.data(), static_cast<std::size_t>(total), "the elements");
  PRETEXT_CHECK(f.at_end(), io_error, "pretext::io::read_idx: '", path, "' has bytes after the ",
                pretext::detail::shape_string(shape), " elements it declares; the file is corrupt");
  return t;
}

}  // namespace pretext::io
