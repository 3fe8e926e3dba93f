// SPDX-License-Identifier: Apache-2.0
// NumPy .npy files: read any rank into Tensor<T, R>, write Tensor<T, R> (format 1.0, atomically).
//
// Layout: the magic "\x93NUMPY", a major and a minor version byte (1.0, 2.0 or 3.0), the header
// length as little-endian uint16 (1.0) or uint32 (2.0, 3.0), then the header: a Python dict
// literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
// and ended by '\n'. The elements follow, row-major (or column-major when fortran_order is True),
// and fill the rest of the file exactly.
//
// The reader validates all of it before it reads an element; a malformed file raises io_error
// naming the reader, the file and the fault, and never reads outside the buffer. Bytes are
// decoded explicitly as little-endian, so the code does not depend on the host's byte order.
#pragma once

#include <array>
#include <bit>  // std::bit_cast: float from its little-endian bits
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>  // std::in_range: range checks of integer conversions
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/io/text.hpp"

namespace pretext::io {

/// Element types an .npy file may hold for read_npy (the descr without its byte-order character).
enum class NpyKind { b1, i1, u1, i2, u2, i4, u4, i8, u8, f4, f8 };

/// What an .npy header declares, after validation against the size of the file.
struct NpyHeader {
  int major_version = 0;            ///< 1, 2 or 3
  std::string descr;                ///< as written, e.g. "<f4"
  NpyKind kind = NpyKind::u1;       ///< descr decoded
  std::size_t itemsize = 0;         ///< bytes per element
  bool fortran_order = false;       ///< column-major element order
  std::vector<std::int64_t> shape;  ///< () for a scalar
  std::size_t data_offset = 0;      ///< where the elements start in the file
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto e : shape) n *= e;
    return n;
  }
};

namespace detail {

inline constexpr const char* kNpyWho = "pretext::io::read_npy";

/// "(2, 3)" as numpy prints a shape.
inline std::string npy_shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// Reads an unsigned little-endian integer of sizeof(U) bytes.
template <class U>
U load_le(const unsigned char* p) {
  U v = 0;
  for (std::size_t i = sizeof(U); i-- > 0;) v = static_cast<U>((v << 8) | U(p[i]));
  return v;
}
template <class U>
void store_le(unsigned char* p, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

/// Decodes one element of source type S stored little-endian at p.
template <class S>
S decode_le(const unsigned char* p) {
  if constexpr (std::is_same_v<S, float>)
    return std::bit_cast<float>(load_le<std::uint32_t>(p));
  else if constexpr (std::is_same_v<S, double>)
    return std::bit_cast<double>(load_le<std::uint64_t>(p));
  else  // two's complement: the unsigned pattern converts to the signed value (C++20)
    return static_cast<S>(load_le<std::make_unsigned_t<S>>(p));
}

/// Cursor over the header dict; every fault throws io_error naming the file.
class NpyDictParser {
 public:
  NpyDictParser(std::string_view s, const std::string& name) : s_(s), name_(name) {}

  void parse(NpyHeader& h) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{', "the header dict does not start with '{'");
    for (;;) {
      skip_ws();
      if (eat('}')) break;
      const std::string key = string_literal("a key");
      skip_ws();
      expect(':', "a ':' is missing after a key");
      skip_ws();
      if (key == "descr") {
        if (have_descr) bad("the header names 'descr' twice");
        have_descr = true;
        if (peek() == '[')
          bad("'descr' is a structured dtype (a list of fields), which read_npy does not "
              "support; save one plain array per field");
        h.descr = string_literal("the 'descr' value");
      } else if (key == "fortran_order") {
        if (have_order) bad("the header names 'fortran_order' twice");
        have_order = true;
        if (word("True"))
          h.fortran_order = true;
        else if (word("False"))
          h.fortran_order = false;
        else
          bad("'fortran_order' is neither True nor False");
      } else if (key == "shape") {
        if (have_shape) bad("the header names 'shape' twice");
        have_shape = true;
        shape_tuple(h.shape);
      } else {
        bad("the header has the unknown key '", key,
            "'; only 'descr', 'fortran_order' and 'shape' are allowed");
      }
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      expect('}', "the header dict has no ',' or '}' after a value");
      break;
    }
    skip_ws();
    if (i_ != s_.size()) bad("the header has text after its closing '}'");
    if (!have_descr || !have_order || !have_shape)
      bad("the header lacks '",
          !have_descr   ? "descr"
          : !have_order ? "fortran_order"
                        : "shape",
          "'");
  }

 private:
  template <class... A>
  [[noreturn]] void bad(const A&... a) const {
    pretext::detail::fail<io_error>(kNpyWho, ": '", name_, "' is malformed: ", a...,
                                    "; is it a NumPy .npy file written by np.save?");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  void expect(char c, const char* msg) {
    if (!eat(c)) bad(msg);
  }
  // numpy pads with spaces and ends with '\n'; Python literals may hold any whitespace.
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  // A Python string literal in single or double quotes; a backslash takes the next character.
  std::string string_literal(const char* what) {
    const char q = peek();
    if (q != '\'' && q != '"') bad(what, " is not a quoted string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out.push_back(s_[i_++]);
    }
    if (i_ >= s_.size()) bad(what, " has no closing quote");
    ++i_;
    return out;
  }
  // "()", "(3,)", "(2, 3)", "(2, 3,)"; Python 2 files may write "3L".
  void shape_tuple(std::vector<std::int64_t>& shape) {
    expect('(', "'shape' is not a tuple");
    for (;;) {
      skip_ws();
      if (eat(')')) return;
      if (peek() < '0' || peek() > '9') bad("'shape' holds something other than an integer >= 0");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        // Extents above 2^62 are refused here so that products stay checkable in int64.
        if (v > ((std::int64_t(1) << 62) - 9) / 10)
          bad("'shape' holds an implausibly large extent");
        v = v * 10 + (s_[i_++] - '0');
      }
      eat('L');
      shape.push_back(v);
      if (shape.size() > 32) bad("'shape' has more than 32 dimensions");
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      expect(')', "'shape' has no ',' or ')' after an extent");
      return;
    }
  }

  std::string_view s_;
  const std::string& name_;
  std::size_t i_ = 0;
};

/// Decodes a descr such as "<f4" into kind and itemsize, or throws io_error saying why not.
inline void parse_npy_descr(NpyHeader& h, const std::string& name) {
  struct Known {
    const char* code;
    NpyKind kind;
    std::size_t size;
  };
  constexpr Known known[] = {{"b1", NpyKind::b1, 1}, {"i1", NpyKind::i1, 1}, {"u1", NpyKind::u1, 1},
                             {"i2", NpyKind::i2, 2}, {"u2", NpyKind::u2, 2}, {"i4", NpyKind::i4, 4},
                             {"u4", NpyKind::u4, 4}, {"i8", NpyKind::i8, 8}, {"u8", NpyKind::u8, 8},
                             {"f4", NpyKind::f4, 4}, {"f8", NpyKind::f8, 8}};
  const std::string& d = h.descr;
  const Known* k = nullptr;
  if (d.size() == 3)
    for (const auto& c : known)
      if (d.compare(1, 2, c.code) == 0) k = &c;
  if (d.empty() || !k || (d[0] != '<' && d[0] != '|' && d[0] != '>' && d[0] != '='))
    pretext::detail::fail<io_error>(
        kNpyWho, ": '", name, "' holds dtype '", d,
        "', which is not supported; convert it to one of <f4 <f8 <i8 <i4 <i2 |i1 |u1 |b1 "
        "(<u2 <u4 <u8 too), e.g. np.save(path, a.astype('<f4'))");
  // '=' is native order, which np.save never writes but which means little-endian on every
  // platform pretext runs on; byte order does not matter for one-byte elements.
  if (d[0] == '>' && k->size > 1)
    pretext::detail::fail<io_error>(kNpyWho, ": '", name, "' is big-endian (dtype '", d,
                                    "'); only little-endian files are supported: save it with "
                                    "a.astype('<",
                                    k->code, "')");
  h.kind = k->kind;
  h.itemsize = k->size;
}

}  // namespace detail

/// Parses and validates the header of an .npy file held in memory: magic, version, dict, dtype,
/// and that the elements fill the rest of the buffer exactly. `name` stands for the path in
/// messages. Useful to learn the dtype and rank of a file before calling read_npy_bytes.
inline NpyHeader read_npy_header_bytes(const unsigned char* data, std::size_t size,
                                       const std::string& name = "<memory>") {
  using detail::kNpyWho;
  auto bad = [&](const auto&... a) {
    pretext::detail::fail<io_error>(kNpyWho, ": '", name, "' is malformed: ", a...);
  };
  static constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(data, magic, 6) != 0)
    bad("it does not start with the .npy magic \"\\x93NUMPY\"; is it a NumPy .npy file (an .npz "
        "is a zip of them: unzip it first)?");
  NpyHeader h;
  h.major_version = data[6];
  if ((data[6] < 1 || data[6] > 3) || data[7] != 0)
    bad("it has format version ", int(data[6]), ".", int(data[7]),
        "; only 1.0, 2.0 and 3.0 exist (np.save writes them)");
  std::size_t start, hlen;
  if (data[6] == 1) {
    start = 10;
    hlen = detail::load_le<std::uint16_t>(data + 8);
  } else {
    if (size < 12) bad("it has ", size, " bytes, too few for a version ", int(data[6]), " header");
    start = 12;
    hlen = detail::load_le<std::uint32_t>(data + 8);
  }
  if (hlen > size - start)
    bad("the header length ", hlen, " runs past the end of the file (", size, " bytes)");
  detail::NpyDictParser(std::string_view(reinterpret_cast<const char*>(data + start), hlen), name)
      .parse(h);
  detail::parse_npy_descr(h, name);
  h.data_offset = start + hlen;

  // Product of the extents, overflow-checked (a zero extent still needs the others bounded so
  // that row-major strides cannot overflow).
  constexpr std::uint64_t kMaxBytes = std::uint64_t(1) << 62;
  std::uint64_t nonzero = 1;
  bool has_zero = false;
  for (auto e : h.shape) {
    if (e == 0) {
      has_zero = true;
      continue;
    }
    if (nonzero > kMaxBytes / 8 / static_cast<std::uint64_t>(e))
      bad("its shape ", detail::npy_shape_string(h.shape), " is implausibly large");
    nonzero *= static_cast<std::uint64_t>(e);
  }
  const std::uint64_t need = has_zero ? 0 : nonzero * h.itemsize;
  const std::uint64_t have = size - h.data_offset;
  if (need != have)
    bad("its shape and dtype '", h.descr, "' need ", need, " bytes of elements but ", have,
        " follow the header; the file is truncated or corrupt");
  return h;
}

namespace detail {

/// Converts n elements of source type S at src into dst, checking that integers fit T.
template <class S, class T>
void npy_convert(const unsigned char* src, std::size_t n, T* dst, const std::string& name) {
  for (std::size_t i = 0; i < n; ++i) {
    const S v = decode_le<S>(src + i * sizeof(S));
    if constexpr (std::is_integral_v<S>) {
      if (!std::in_range<T>(v))
        pretext::detail::fail<io_error>(kNpyWho, ": '", name, "' element ", i, " is ", +v,
                                        ", which does not fit in ", pretext::dtype_name<T>(),
                                        "; read it as a wider integer type");
    }
    dst[i] = static_cast<T>(v);
  }
}

}  // namespace detail

/// Reads an .npy file held in memory as Tensor<T, R> (R must equal the stored rank). Floating T
/// reads f4 and f8 files; integer T reads integer and bool files, and every value must fit T.
/// A fortran_order file is transposed into row-major order, so the result always has the
/// stored shape with row-major strides. Throws io_error naming the file for anything malformed.
template <class T, int R>
Tensor<T, R> read_npy_bytes(const unsigned char* data, std::size_t size,
                            const std::string& name = "<memory>") {
  using detail::kNpyWho;
  const NpyHeader h = read_npy_header_bytes(data, size, name);
  PRETEXT_CHECK(static_cast<int>(h.shape.size()) == R, io_error, kNpyWho, ": '", name,
                "' has rank ", h.shape.size(), " (shape ", detail::npy_shape_string(h.shape),
                ") but rank ", R, " was requested; read it with rank ", h.shape.size());
  constexpr bool is_float = std::is_floating_point_v<T>;
  const bool file_float = h.kind == NpyKind::f4 || h.kind == NpyKind::f8;
  PRETEXT_CHECK(is_float == file_float, io_error, kNpyWho, ": '", name, "' holds dtype '", h.descr,
                "', which does not convert to ", pretext::dtype_name<T>(), "; read ",
                file_float ? "floating" : "integer", " files into a ",
                file_float ? "float or double" : "integer", " tensor");

  // Column-major data of shape (d0, ..., dR-1) is row-major data of the reversed shape; read it
  // so, then permute the axes back and copy into row-major order.
  Shape<R> shape{};
  for (int i = 0; i < R; ++i) {
    const auto u = static_cast<std::size_t>(i);
    shape[u] = h.fortran_order ? h.shape[static_cast<std::size_t>(R - 1 - i)] : h.shape[u];
  }
  Tensor<T, R> t(shape);
  const unsigned char* src = data + h.data_offset;
  const auto n = static_cast<std::size_t>(h.numel());
  T* dst = t.data();
  switch (h.kind) {
    case NpyKind::f4:
      if constexpr (is_float) detail::npy_convert<float>(src, n, dst, name);
      break;
    case NpyKind::f8:
      if constexpr (is_float) detail::npy_convert<double>(src, n, dst, name);
      break;
    case NpyKind::b1:  // numpy stores bools as bytes 0 and 1; any nonzero byte reads as 1
      if constexpr (!is_float)
        for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0 ? T(1) : T(0);
      break;
    case NpyKind::i1:
      if constexpr (!is_float) detail::npy_convert<std::int8_t>(src, n, dst, name);
      break;
    case NpyKind::u1:
      if constexpr (!is_float) detail::npy_convert<std::uint8_t>(src, n, dst, name);
      break;
    case NpyKind::i2:
      if constexpr (!is_float) detail::npy_convert<std::int16_t>(src, n, dst, name);
      break;
    case NpyKind::u2:
      if constexpr (!is_float) detail::npy_convert<std::uint16_t>(src, n, dst, name);
      break;
    case NpyKind::i4:
      if constexpr (!is_float) detail::npy_convert<std::int32_t>(src, n, dst, name);
      break;
    case NpyKind::u4:
      if constexpr (!is_float) detail::npy_convert<std::uint32_t>(src, n, dst, name);
      break;
    case NpyKind::i8:
      if constexpr (!is_float) detail::npy_convert<std::int64_t>(src, n, dst, name);
      break;
    case NpyKind::u8:
      if constexpr (!is_float) detail::npy_convert<std::uint64_t>(src, n, dst, name);
      break;
  }
  if constexpr (R > 1) {
    if (h.fortran_order) {
      std::array<int, R> reversed{};
      for (int i = 0; i < R; ++i) reversed[static_cast<std::size_t>(i)] = R - 1 - i;
      return t.permute(reversed).clone();
    }
  }
  return t;
}

/// Reads the .npy file at `path` as Tensor<T, R>; see read_npy_bytes for the rules.
template <class T, int R>
Tensor<T, R> read_npy(const std::string& path) {
  const std::string bytes = detail::read_file(path, detail::kNpyWho);
  return read_npy_bytes<T, R>(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                              path);
}

namespace detail {

template <class T>
constexpr const char* npy_descr() {
  if constexpr (std::is_same_v<T, float>)
    return "<f4";
  else if constexpr (std::is_same_v<T, double>)
    return "<f8";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "<i8";
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return "<i4";
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return "|u1";
  else
    static_assert(sizeof(T) == 0, "pretext::io::write_npy: no .npy dtype for this element type");
}

}  // namespace detail

/// The bytes of an .npy file (format 1.0, row-major, little-endian) holding `t`.
template <class T, int R>
std::string encode_npy(const Tensor<T, R>& t) {
  std::string dict =
      std::string("{'descr': '") + detail::npy_descr<T>() + "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < R; ++i) {
    dict += std::to_string(t.shape()[static_cast<std::size_t>(i)]);
    if (R == 1 || i + 1 < R) dict += R == 1 ? "," : ", ";
  }
  dict += "), }";
  // np.save pads the header with spaces and a final '\n' so the elements start 64-byte aligned.
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');

  const auto c = t.contiguous();
  const auto n = static_cast<std::size_t>(c.numel());
  std::string out(10 + dict.size() + n * sizeof(T), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  static constexpr unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::memcpy(p, magic, 8);
  detail::store_le<std::uint16_t>(p + 8, static_cast<std::uint16_t>(dict.size()));
  std::memcpy(p + 10, dict.data(), dict.size());
  p += 10 + dict.size();
  for (std::size_t i = 0; i < n; ++i, p += sizeof(T)) {
    using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint8_t>>;
    detail::store_le<U>(p, std::bit_cast<U>(c.data()[i]));
  }
  return out;
}

/// Writes `t` to `path` as an .npy file (format 1.0) that np.load reads: atomically, through a
/// temporary file beside it and a rename. Throws io_error when the file cannot be written.
template <class T, int R>
void write_npy(const std::string& path, const Tensor<T, R>& t) {
  const std::string bytes = encode_npy(t);
  detail::write_file_atomic(path, bytes.data(), bytes.size(), "pretext::io::write_npy");
}

}  // namespace pretext::io
