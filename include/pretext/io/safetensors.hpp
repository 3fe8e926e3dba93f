// SPDX-License-Identifier: Apache-2.0
// The safetensors format: read (memory map or buffered) and write (atomically).
//
// File layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the data block; offsets are relative to its start. The reader validates everything before
// it hands out a byte: a malformed file raises io_error naming the file and the fault, and never
// reads outside the file. Needs nlohmann-json (link pretext::io).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/io/atomic_write.hpp"

namespace pretext::io {

/// Element types of safetensors.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

inline const char* dtype_name(DType d) {
  constexpr const char* names[] = {"F64", "F32", "F16", "BF16", "I64",
                                   "I32", "I16", "I8",  "U8",   "BOOL"};
  return names[static_cast<int>(d)];
}
inline std::size_t dtype_size(DType d) {
  constexpr std::size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
  return sizes[static_cast<int>(d)];
}

/// The safetensors dtype that stores T exactly.
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, double>)
    return DType::F64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::I64;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::I32;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return DType::I16;
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return DType::I8;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::U8;
  else if constexpr (std::is_same_v<T, bool>)
    return DType::BOOL;
  else
    static_assert(sizeof(T) == 0,
                  "pretext::io::safetensors: no safetensors dtype stores this type");
}

/// One tensor's entry in the header.
struct SafetensorsEntry {
  DType dtype{};
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  ///< byte range within the data block
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto e : shape) n *= e;
    return n;
  }
};

namespace detail {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      std::uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3FFu) << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float bf16_to_float(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
/// Round to nearest even; NaN stays NaN.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu))
    return std::uint16_t((bits >> 16) | 0x40u);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return std::uint16_t(bits >> 16);
}

/// Round to nearest even, with overflow to infinity, subnormals, and NaN kept NaN.
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return sign | (abs > 0x7F800000u ? 0x7E00u : 0x7C00u);  // NaN, inf
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds to a value above 65504: inf
  if (abs < 0x38800000u) {                        // below 2^-14: subnormal half or zero
    if (abs < 0x33000000u) return sign;           // below half the smallest subnormal
    const std::uint32_t man = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    const std::uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    return sign | static_cast<std::uint16_t>(q + (rem > half || (rem == half && (q & 1u))));
  }
  const std::uint32_t r = abs - 0x38000000u;  // rebias the exponent 127 -> 15
  const std::uint32_t q = r >> 13, rem = r & 0x1FFFu;
  return sign | static_cast<std::uint16_t>(q + (rem > 0x1000u || (rem == 0x1000u && (q & 1u))));
}

inline bool parse_dtype(const std::string& s, DType* out) {
  for (int i = 0; i <= static_cast<int>(DType::BOOL); ++i)
    if (s == dtype_name(static_cast<DType>(i))) {
      *out = static_cast<DType>(i);
      return true;
    }
  return false;
}

}  // namespace detail

/// A safetensors file opened for reading. The bytes stay mapped (or buffered) while it lives.
class SafetensorsFile {
 public:
  /// Opens and validates `path`; with use_mmap the data is memory-mapped, else read into memory.
  static SafetensorsFile open(const std::string& path, bool use_mmap = true) {
    SafetensorsFile f;
    f.path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    PRETEXT_CHECK(fd >= 0, io_error, "pretext::io::safetensors: cannot open '", path,
                  "': ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      pretext::detail::fail<io_error>("pretext::io::safetensors: cannot stat '", path, "'");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (use_mmap && size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      ::close(fd);
      PRETEXT_CHECK(p != MAP_FAILED, io_error, "pretext::io::safetensors: cannot map '", path, "'");
      f.map_ = std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size); });
      f.bytes_ = static_cast<const unsigned char*>(p);
    } else {
      auto buf = std::make_shared<std::vector<unsigned char>>(size);
      std::size_t got = 0;
      while (got < size) {
        const ssize_t r = ::read(fd, buf->data() + got, size - got);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
      }
      ::close(fd);
      PRETEXT_CHECK(got == size, io_error, "pretext::io::safetensors: could not read all of '",
                    path, "'");
      f.bytes_ = buf->data();
      f.map_ = std::shared_ptr<void>(buf, buf.get());
    }
    f.size_ = size;
    f.parse();
    return f;
  }

  /// Parses a file held in memory (tests, fuzzing); `name` stands for the path in messages.
  static SafetensorsFile from_bytes(std::vector<unsigned char> data,
                                    std::string name = "<memory>") {
    SafetensorsFile f;
    f.path_ = std::move(name);
    auto buf = std::make_shared<std::vector<unsigned char>>(std::move(data));
    f.bytes_ = buf->data();
    f.size_ = buf->size();
    f.map_ = std::shared_ptr<void>(buf, buf.get());
    f.parse();
    return f;
  }

  const std::string& path() const noexcept { return path_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const std::map<std::string, SafetensorsEntry>& entries() const noexcept { return entries_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  const SafetensorsEntry& entry(const std::string& name) const {
    const auto it = entries_.find(name);
    PRETEXT_CHECK(it != entries_.end(), io_error, "pretext::io::safetensors: '", path_,
                  "' has no tensor named '", name, "'");
    return it->second;
  }
  /// The stored bytes of a tensor (little-endian, row-major).
  const unsigned char* bytes(const std::string& name) const {
    return bytes_ + data_start_ + entry(name).begin;
  }

  /// The tensor `name` as Tensor<T, R>. Floats convert from F64/F32/F16/BF16, integers from
  /// any integer dtype and BOOL; the rank must match.
  template <class T, int R>
  Tensor<T, R> get(const std::string& name) const {
    const auto& e = entry(name);
    PRETEXT_CHECK(static_cast<int>(e.shape.size()) == R, shape_error, "pretext::io::safetensors: '",
                  name, "' in '", path_, "' has rank ", e.shape.size(), ", expected ", R);
    Shape<R> shape{};
    for (int i = 0; i < R; ++i)
      shape[static_cast<std::size_t>(i)] = e.shape[static_cast<std::size_t>(i)];
    Tensor<T, R> t(shape);
    const unsigned char* src = bytes_ + data_start_ + e.begin;
    const auto n = static_cast<std::size_t>(e.numel());
    T* dst = t.data();
    auto convert = [&](auto tag) {
      using S = decltype(tag);
      for (std::size_t i = 0; i < n; ++i) {
        S v;
        std::memcpy(&v, src + i * sizeof(S), sizeof(S));
        dst[i] = static_cast<T>(v);
      }
    };
    constexpr bool is_float = std::is_floating_point_v<T>;
    switch (e.dtype) {
      case DType::F64:
        if constexpr (is_float) {
          convert(double{});
          return t;
        }
        break;
      case DType::F32:
        if constexpr (is_float) {
          convert(float{});
          return t;
        }
        break;
      case DType::F16:
      case DType::BF16:
        if constexpr (is_float) {
          for (std::size_t i = 0; i < n; ++i) {
            std::uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = static_cast<T>(e.dtype == DType::F16 ? detail::half_to_float(h)
                                                          : detail::bf16_to_float(h));
          }
          return t;
        }
        break;
      case DType::I64:
        if constexpr (!is_float) {
          convert(std::int64_t{});
          return t;
        }
        break;
      case DType::I32:
        if constexpr (!is_float) {
          convert(std::int32_t{});
          return t;
        }
        break;
      case DType::I16:
        if constexpr (!is_float) {
          convert(std::int16_t{});
          return t;
        }
        break;
      case DType::I8:
        if constexpr (!is_float) {
          convert(std::int8_t{});
          return t;
        }
        break;
      case DType::U8:
      case DType::BOOL:
        if constexpr (!is_float) {
          convert(std::uint8_t{});
          return t;
        }
        break;
    }
    pretext::detail::fail<io_error>("pretext::io::safetensors: '", name, "' in '", path_, "' is ",
                                    dtype_name(e.dtype), ", which does not convert to ",
                                    is_float ? "a floating" : "an integer", " tensor");
  }

 private:
  SafetensorsFile() = default;

  template <class... A>
  [[noreturn]] void bad(const A&... a) const {
    pretext::detail::fail<io_error>("pretext::io::safetensors: '", path_, "' is malformed: ", a...);
  }

  void parse() {
    if (size_ < 8) bad("it has ", size_, " bytes, fewer than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes_[i];
    if (n > size_ - 8)
      bad("the header length ", n, " runs past the end of the file (", size_, " bytes)");
    data_start_ = 8 + static_cast<std::size_t>(n);
    const char* h = reinterpret_cast<const char*>(bytes_ + 8);

    // Duplicate names are an error; nlohmann::json would keep the last one silently.
    std::string duplicate;
    std::set<std::string> seen;
    nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev,
                                               nlohmann::json& parsed) {
      if (depth == 1 && ev == nlohmann::json::parse_event_t::key && parsed.is_string()) {
        if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty())
          duplicate = parsed.get<std::string>();
      }
      return true;
    };
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(h, h + n, cb);
    } catch (const nlohmann::json::exception& e) {
      bad("the header is not valid JSON (", e.what(), ")");
    }
    if (!duplicate.empty()) bad("the header names '", duplicate, "' twice");
    if (!j.is_object()) bad("the header is not a JSON object");

    const std::size_t data_size = size_ - data_start_;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const auto& v = it.value();
      if (key == "__metadata__") {
        if (!v.is_object()) bad("__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) bad("__metadata__ value of '", m.key(), "' is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) bad("the entry of '", key, "' is not an object");
      SafetensorsEntry e;
      const auto dt = v.find("dtype");
      if (dt == v.end() || !dt->is_string()) bad("'", key, "' has no dtype string");
      if (!detail::parse_dtype(dt->get<std::string>(), &e.dtype))
        bad("'", key, "' has unknown dtype '", dt->get<std::string>(), "'");
      const auto sh = v.find("shape");
      if (sh == v.end() || !sh->is_array()) bad("'", key, "' has no shape array");
      if (sh->size() > 8) bad("'", key, "' has rank ", sh->size(), "; at most 8 is supported");
      std::uint64_t count = 1;
      for (const auto& d : *sh) {
        if (!d.is_number_unsigned())
          bad("'", key, "' has a shape entry that is not a non-negative integer");
        const auto x = d.get<std::uint64_t>();
        if (x != 0 && count > (std::uint64_t(1) << 62) / x)
          bad("'", key, "' has an implausibly large shape");
        count *= x;
        e.shape.push_back(static_cast<std::int64_t>(x));
      }
      const auto off = v.find("data_offsets");
      if (off == v.end() || !off->is_array() || off->size() != 2 ||
          !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
        bad("'", key, "' has no data_offsets pair of non-negative integers");
      const auto b = (*off)[0].get<std::uint64_t>(), en = (*off)[1].get<std::uint64_t>();
      if (b > en || en > data_size)
        bad("'", key, "' has data_offsets [", b, ", ", en, "] outside the data block of ",
            data_size, " bytes");
      const std::uint64_t need = count * dtype_size(e.dtype);
      if (en - b != need)
        bad("'", key, "' has ", en - b, " bytes but its shape and dtype ", dtype_name(e.dtype),
            " need ", need);
      e.begin = static_cast<std::size_t>(b);
      e.end = static_cast<std::size_t>(en);
      ranges.emplace_back(e.begin, e.end);
      entries_.emplace(key, std::move(e));
    }
    // The tensors must tile the data block exactly: no overlap, no gap, nothing after.
    std::sort(ranges.begin(), ranges.end());
    std::size_t pos = 0;
    for (const auto& [b, en] : ranges) {
      if (b < pos) bad("two tensors overlap at byte ", b, " of the data block");
      if (b > pos) bad("bytes ", pos, " to ", b, " of the data block belong to no tensor");
      pos = en;
    }
    if (pos != data_size)
      bad("the data block has ", data_size - pos, " bytes after the last tensor");
  }

  std::string path_;
  std::shared_ptr<void> map_;  // keeps the mapping or buffer alive
  const unsigned char* bytes_ = nullptr;
  std::size_t size_ = 0, data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// Collects tensors and writes them as one safetensors file.
class SafetensorsWriter {
 public:
  /// Adds a tensor stored exactly (F64, F32, integers, BOOL). Names must be unique.
  template <class T, int R>
  SafetensorsWriter& add(const std::string& name, const Tensor<T, R>& t) {
    const auto c = t.contiguous();
    std::vector<unsigned char> bytes(static_cast<std::size_t>(c.numel()) * sizeof(T));
    if (!bytes.empty()) std::memcpy(bytes.data(), c.data(), bytes.size());
    return add_raw(name, dtype_of<T>(), shape_of(c), std::move(bytes));
  }
  /// Adds a float tensor stored as BF16 (rounded to nearest even).
  template <int R>
  SafetensorsWriter& add_bf16(const std::string& name, const Tensor<float, R>& t) {
    const auto c = t.contiguous();
    std::vector<unsigned char> bytes(static_cast<std::size_t>(c.numel()) * 2);
    for (index_t i = 0; i < c.numel(); ++i) {
      const std::uint16_t h = detail::float_to_bf16(c.data()[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
    return add_raw(name, DType::BF16, shape_of(c), std::move(bytes));
  }
  /// Adds a float tensor stored as F16 (rounded to nearest even; beyond 65504 becomes inf).
  template <int R>
  SafetensorsWriter& add_f16(const std::string& name, const Tensor<float, R>& t) {
    const auto c = t.contiguous();
    std::vector<unsigned char> bytes(static_cast<std::size_t>(c.numel()) * 2);
    for (index_t i = 0; i < c.numel(); ++i) {
      const std::uint16_t h = detail::float_to_half(c.data()[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
    return add_raw(name, DType::F16, shape_of(c), std::move(bytes));
  }
  /// Adds already-encoded little-endian bytes of any dtype (I16, I8, BOOL, ... have no Tensor
  /// element type); their count must match the shape.
  SafetensorsWriter& add_bytes(const std::string& name, DType d, std::vector<std::int64_t> shape,
                               std::vector<unsigned char> bytes) {
    std::uint64_t count = 1;
    for (auto e : shape) {
      PRETEXT_CHECK(e >= 0, shape_error, "pretext::io::safetensors: '", name,
                    "' has a negative extent");
      count *= static_cast<std::uint64_t>(e);
    }
    PRETEXT_CHECK(count * dtype_size(d) == bytes.size(), shape_error, "pretext::io::safetensors: '",
                  name, "' has ", bytes.size(), " bytes but ", count, " elements of ",
                  dtype_name(d), " need ", count * dtype_size(d));
    return add_raw(name, d, std::move(shape), std::move(bytes));
  }
  SafetensorsWriter& metadata(const std::string& key, const std::string& value) {
    metadata_[key] = value;
    return *this;
  }

  /// Writes the file atomically: to a temporary file beside it, flushed to disk, then renamed
  /// over `path`, so a crash leaves either the old file or the new one, never half of one.
  void write(const std::string& path) const {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::size_t offset = 0;
    for (const auto& item : items_) {
      header[item.name] = {{"dtype", dtype_name(item.dtype)},
                           {"shape", item.shape},
                           {"data_offsets", {offset, offset + item.bytes.size()}}};
      offset += item.bytes.size();
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8) text.push_back(' ');  // align the data block to 8 bytes
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = static_cast<unsigned char>(std::uint64_t(text.size()) >> (8 * i));

    std::vector<detail::ByteChunk> chunks{{len, 8}, {text.data(), text.size()}};
    for (const auto& item : items_) chunks.push_back({item.bytes.data(), item.bytes.size()});
    detail::write_file_atomic(path, chunks, "pretext::io::safetensors");
  }

 private:
  struct Item {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> bytes;
  };
  template <class T, int R>
  static std::vector<std::int64_t> shape_of(const Tensor<T, R>& t) {
    return std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
  }
  SafetensorsWriter& add_raw(const std::string& name, DType d, std::vector<std::int64_t> shape,
                             std::vector<unsigned char> bytes) {
    PRETEXT_CHECK(name != "__metadata__", config_error,
                  "pretext::io::safetensors: '__metadata__' is reserved; pick another tensor name");
    for (const auto& it : items_)
      PRETEXT_CHECK(it.name != name, config_error, "pretext::io::safetensors: tensor '", name,
                    "' was added twice");
    items_.push_back({name, d, std::move(shape), std::move(bytes)});
    return *this;
  }
  std::vector<Item> items_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace pretext::io
