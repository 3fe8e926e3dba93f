// SPDX-License-Identifier: Apache-2.0
// Reader for IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, one
// big-endian uint32 extent per dimension, then the elements in row-major order. Only unsigned
// bytes are supported (that is all the image sets use). Needs zlib (link pretext::io).
// read_idx reads a path; read_idx_bytes parses a buffer in memory (tests, fuzzing) with the same
// checks and messages.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

/// An IDX file already in memory, plain or gzip-compressed (told apart by the gzip magic 1f 8b,
/// as gzread does). Offers GzFile's read/at_end, plus remaining() so that the element count is
/// checked against the bytes present before the tensor is allocated.
class IdxBytes {
 public:
  IdxBytes(const unsigned char* data, std::size_t size, const std::string& name) : name_(name) {
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
      inflate_all(data, size);
      p_ = buf_.data();
      n_ = buf_.size();
    } else {
      p_ = data;
      n_ = size;
    }
  }
  void read(void* dst, std::size_t n, const char* what) {
    if (n > n_ - pos_) ends_early(what);
    if (n) std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
  }
  bool at_end() const { return pos_ == n_; }
  std::size_t remaining() const { return n_ - pos_; }
  [[noreturn]] void ends_early(const char* what) const {
    pretext::detail::fail<io_error>("pretext::io::read_idx: '", name_,
                                    "' ends early while reading ", what,
                                    "; the file is truncated or corrupt");
  }

 private:
  // Inflates one or more concatenated gzip members into buf_. Like gzread, bytes after the last
  // member that do not start another one are ignored; a member cut short is an error.
  void inflate_all(const unsigned char* data, std::size_t size) {
    z_stream zs{};
    PRETEXT_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, io_error,
                  "pretext::io::read_idx: zlib could not start inflating '", name_, "'");
    std::size_t in_pos = 0;
    unsigned char out[1 << 16];
    int rc = Z_OK;
    for (;;) {
      if (zs.avail_in == 0 && in_pos < size) {
        const std::size_t chunk = std::min<std::size_t>(size - in_pos, 1u << 30);
        zs.next_in = const_cast<unsigned char*>(data + in_pos);  // zlib's API is not const
        zs.avail_in = static_cast<uInt>(chunk);
        in_pos += chunk;
      }
      zs.next_out = out;
      zs.avail_out = sizeof out;
      rc = inflate(&zs, Z_NO_FLUSH);
      buf_.insert(buf_.end(), out, out + (sizeof out - zs.avail_out));
      if (rc == Z_STREAM_END) {
        const std::size_t left = zs.avail_in + (size - in_pos);
        const unsigned char* next = data + (size - left);
        if (left >= 2 && next[0] == 0x1f && next[1] == 0x8b && inflateReset(&zs) == Z_OK) continue;
        break;
      }
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == size) break;  // input ran out
      if (rc != Z_OK) break;
    }
    const std::string msg = zs.msg ? zs.msg : "";
    inflateEnd(&zs);
    if (rc != Z_STREAM_END)
      pretext::detail::fail<io_error>(
          "pretext::io::read_idx: '", name_, "' is not valid gzip data",
          rc == Z_BUF_ERROR ? std::string(" (it ends inside a compressed member)")
                            : " (zlib: " + (msg.empty() ? std::to_string(rc) : msg) + ")",
          "; the file is truncated or corrupt");
  }

  std::string name_;
  std::vector<unsigned char> buf_;  // the inflated bytes, when the input was gzip
  const unsigned char* p_ = nullptr;
  std::size_t n_ = 0, pos_ = 0;
};

/// The IDX parser shared by the path and the memory readers; Source is GzFile or IdxBytes.
template <int Rank, class Source>
Tensor<std::uint8_t, Rank> parse_idx(Source& f, const std::string& path) {
  unsigned char magic[4];
  f.read(magic, 4, "the magic number");
  PRETEXT_CHECK(magic[0] == 0 && magic[1] == 0, io_error, "pretext::io::read_idx: '", path,
                "' is not an IDX file (its first two bytes are not zero)");
  PRETEXT_CHECK(magic[2] == 0x08, io_error, "pretext::io::read_idx: '", path, "' holds type 0x",
                std::hex, int(magic[2]), "; only unsigned bytes (0x08) are supported");
  PRETEXT_CHECK(magic[3] == Rank, io_error, "pretext::io::read_idx: '", path, "' has ",
                int(magic[3]), " dimensions, expected ", Rank);
  Shape<Rank> shape{};
  index_t total = 1, nonzero = 1;
  for (int i = 0; i < Rank; ++i) {
    unsigned char b[4];
    f.read(b, 4, "the dimensions");
    const std::uint32_t e = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) |
                            (std::uint32_t(b[2]) << 8) | std::uint32_t(b[3]);
    shape[static_cast<std::size_t>(i)] = e;
    // Checked before multiplying: two 32-bit extents would overflow a signed 64-bit product.
    // The bound is on the product of the non-zero extents: with a zero extent the element count
    // is 0, but the row-major strides are still products of the others and must not overflow.
    constexpr index_t kMaxElements = index_t(1) << 34;
    PRETEXT_CHECK(e == 0 || nonzero <= kMaxElements / index_t(e), io_error,
                  "pretext::io::read_idx: '", path, "' declares an implausibly large shape ",
                  pretext::detail::shape_string(shape));
    if (e != 0) nonzero *= e;
    total *= e;
  }
  // In memory the bytes present are known: refuse before allocating a tensor they cannot fill.
  if constexpr (requires { f.remaining(); })
    if (static_cast<std::size_t>(total) > f.remaining()) f.ends_early("the elements");
  Tensor<std::uint8_t, Rank> t(shape);
  f.read(t.data(), static_cast<std::size_t>(total), "the elements");
  PRETEXT_CHECK(f.at_end(), io_error, "pretext::io::read_idx: '", path, "' has bytes after the ",
                pretext::detail::shape_string(shape), " elements it declares; the file is corrupt");
  return t;
}

}  // namespace detail

/// Reads an IDX file of unsigned bytes whose rank must be Rank (3 for images (N, H, W), 1 for
/// labels (N)). Throws io_error naming the file and the fault for anything malformed.
template <int Rank>
Tensor<std::uint8_t, Rank> read_idx(const std::string& path) {
  detail::GzFile f(path);
  return detail::parse_idx<Rank>(f, path);
}

/// Parses an IDX file held in memory, plain or gzip-compressed, with read_idx's checks; `name`
/// stands for the path in messages.
template <int Rank>
Tensor<std::uint8_t, Rank> read_idx_bytes(const unsigned char* data, std::size_t size,
                                          const std::string& name = "<memory>") {
  detail::IdxBytes f(data, size, name);
  return detail::parse_idx<Rank>(f, name);
}

/// Reads an IDX image file (N, H, W) of bytes as float rows (N, H * W) scaled to [0, 1]: the
/// form the examples and tests feed to models (Fashion-MNIST, MNIST).
template <floating T = float>
Tensor<T, 2> read_idx_images(const std::string& path) {
  const auto img = read_idx<3>(path);
  const index_t n = img.size(0), p = img.size(1) * img.size(2);
  Tensor<T, 2> x(Shape<2>{n, p});
  for (index_t i = 0; i < n * p; ++i) x.data()[i] = static_cast<T>(img.data()[i]) / T(255);
  return x;
}

}  // namespace pretext::io
