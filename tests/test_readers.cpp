// SPDX-License-Identifier: Apache-2.0
// The npy, WAV, CSV, text and in-memory IDX readers: round trips through the writers, and
// hand-made malformed inputs that must raise io_error naming the reader, the file and the fault.
#include "reference.hpp"

#include <pretext/io.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace pretext;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pretext_readers_" + name)).string();
}

/// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<unsigned char> b;
  Bytes& str(std::string_view s) {
    // push_back rather than insert: g++ 12 at -O3 reports a false stringop-overflow for insert.
    for (const char c : s) b.push_back(static_cast<unsigned char>(c));
    return *this;
  }
  Bytes& u8(unsigned v) {
    b.push_back(static_cast<unsigned char>(v));
    return *this;
  }
  Bytes& u16(unsigned v) { return u8(v & 0xFF).u8((v >> 8) & 0xFF); }
  Bytes& u32(std::uint32_t v) { return u16(v & 0xFFFF).u16(v >> 16); }
  Bytes& raw(const std::vector<unsigned char>& r) {
    b.insert(b.end(), r.begin(), r.end());
    return *this;
  }
  const unsigned char* data() const { return b.data(); }
  std::size_t size() const { return b.size(); }
};

/// Runs f, which must throw io_error whose message contains both `name` and `fault`.
template <class F>
void check_io_error(F&& f, const std::string& name, const std::string& fault) {
  const std::string msg = test::error_message<io_error>(f);
  CAPTURE(msg);
  CHECK(!msg.empty());
  CHECK(msg.find(name) != std::string::npos);
  CHECK(msg.find(fault) != std::string::npos);
}

// ---- npy ---------------------------------------------------------------------------------

/// An .npy file of the given version with `dict` as header (padded and ended by '\n') and
/// `payload` as elements.
Bytes npy_file(int major, const std::string& dict, const std::vector<unsigned char>& payload) {
  Bytes f;
  f.u8(0x93).str("NUMPY").u8(static_cast<unsigned>(major)).u8(0);
  const std::string h = dict + "   \n";
  if (major == 1)
    f.u16(static_cast<unsigned>(h.size()));
  else
    f.u32(static_cast<std::uint32_t>(h.size()));
  return f.str(h).raw(payload);
}
std::string npy_dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}
template <class S>
std::vector<unsigned char> le_bytes(std::initializer_list<S> values) {
  std::vector<unsigned char> out;
  for (S v : values) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, &v, sizeof(S));  // the test machine is little-endian, like the format
    out.insert(out.end(), b, b + sizeof(S));
  }
  return out;
}
template <class T, int R>
Tensor<T, R> npy(const Bytes& f) {
  return io::read_npy_bytes<T, R>(f.data(), f.size(), "hand.npy");
}

}  // namespace

TEST_CASE("write_npy then read_npy gives back dtype, shape and values") {
  const auto path = temp_path("round.npy");
  {
    auto t = Tensor<float, 2>::from({2, 3}, {0.5f, -1.f, 3.25f, 1e-30f, 7.f, -0.f});
    io::write_npy(path, t);
    const auto r = io::read_npy<float, 2>(path);
    CHECK(r.shape() == t.shape());
    CHECK(r.to_vector() == t.to_vector());
    // Floats widen to double on read.
    CHECK(io::read_npy<double, 2>(path)(1, 0) == doctest::Approx(1e-30));
  }
  {
    auto t = test::randn<double>({2, 3, 4}, 7);
    io::write_npy(path, t);
    CHECK(io::read_npy<double, 3>(path).to_vector() == t.to_vector());
  }
  {
    auto t = Tensor<std::int64_t, 1>::from({4}, {-5, 0, std::int64_t(1) << 40, 9});
    io::write_npy(path, t);
    CHECK(io::read_npy<std::int64_t, 1>(path).to_vector() == t.to_vector());
  }
  {
    auto t = Tensor<std::int32_t, 2>::from({3, 1}, {-2147483647 - 1, 0, 2147483647});
    io::write_npy(path, t);
    CHECK(io::read_npy<std::int32_t, 2>(path).to_vector() == t.to_vector());
    CHECK(io::read_npy<std::int64_t, 2>(path)(0, 0) == -2147483648LL);
  }
  {
    auto t = Tensor<std::uint8_t, 1>::from({3}, {0, 128, 255});
    io::write_npy(path, t);
    CHECK(io::read_npy<std::uint8_t, 1>(path).to_vector() == t.to_vector());
  }
  {
    auto t = Tensor<float, 0>::from({}, {2.5f});
    io::write_npy(path, t);
    CHECK(io::read_npy<float, 0>(path).item() == 2.5f);
  }
  {
    auto t = Tensor<float, 2>(Shape<2>{0, 3});
    io::write_npy(path, t);
    CHECK(io::read_npy<float, 2>(path).shape() == Shape<2>{0, 3});
  }
  {
    // A transposed (strided) tensor is written in its logical row-major order.
    auto t = Tensor<float, 2>::from({2, 3}, {1, 2, 3, 4, 5, 6}).t();
    io::write_npy(path, t);
    CHECK(io::read_npy<float, 2>(path).to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  }
  // The header is padded so the elements start 64-byte aligned, as np.save does.
  const auto bytes = io::encode_npy(Tensor<float, 1>::from({2}, {1, 2}));
  CHECK((bytes.size() - 8) % 64 == 0);
  CHECK(bytes.find("'shape': (2,)") != std::string::npos);
  std::filesystem::remove(path);
  check_io_error([] { io::read_npy<float, 1>("/nonexistent/x.npy"); }, "/nonexistent/x.npy",
                 "cannot open");
}

TEST_CASE("read_npy decodes every supported dtype, versions 2 and 3, and Fortran order") {
  CHECK(npy<std::int64_t, 1>(
            npy_file(1, npy_dict("<i2", "(3,)"), le_bytes<std::int16_t>({-300, 0, 300})))
            .to_vector() == std::vector<std::int64_t>{-300, 0, 300});
  CHECK(npy<std::int32_t, 1>(npy_file(1, npy_dict("|i1", "(2,)"), {0xFF, 0x7F})).to_vector() ==
        std::vector<std::int32_t>{-1, 127});
  CHECK(npy<std::uint8_t, 1>(npy_file(1, npy_dict("|b1", "(3,)"), {1, 0, 1})).to_vector() ==
        std::vector<std::uint8_t>{1, 0, 1});
  CHECK(npy<std::uint8_t, 1>(npy_file(1, npy_dict(">u1", "(1,)"), {9})).item() == 9);
  CHECK(npy<std::int64_t, 1>(npy_file(1, npy_dict("<u4", "(1,)"), le_bytes<std::uint32_t>({7})))
            .item() == 7);
  CHECK(npy<float, 1>(npy_file(2, npy_dict("<f8", "(2,)"), le_bytes<double>({1.5, -2})))
            .to_vector() == std::vector<float>{1.5f, -2.f});
  CHECK(npy<double, 2>(npy_file(3, npy_dict("<f4", "(1, 1)"), le_bytes<float>({3.f}))).item() ==
        3.0);
  // Python 2 wrote long extents as "3L"; keys may come in any order and with double quotes.
  CHECK(npy<std::uint8_t, 1>(
            npy_file(1, "{\"shape\": (2L,), 'fortran_order': False, 'descr': '|u1'}", {4, 5}))
            .to_vector() == std::vector<std::uint8_t>{4, 5});

  // Column-major (2, 3) holding row-major 0..5 is stored as 0 3 1 4 2 5; read back row-major.
  const auto f = npy<std::int64_t, 2>(
      npy_file(1, npy_dict("<i8", "(2, 3)", true), le_bytes<std::int64_t>({0, 3, 1, 4, 2, 5})));
  CHECK(f.shape() == Shape<2>{2, 3});
  CHECK(f.is_contiguous());
  CHECK(f.to_vector() == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});
  // Rank 3 Fortran: element (i, j, k) sits at i + 2 j + 4 k.
  std::vector<unsigned char> col;
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 2; ++i) col.push_back(static_cast<unsigned char>(100 * i + 10 * j + k));
  const auto g = npy<std::uint8_t, 3>(npy_file(1, npy_dict("|u1", "(2, 2, 2)", true), col));
  CHECK(g(1, 0, 1) == 101);
  CHECK(g(0, 1, 1) == 11);
  CHECK(g(1, 1, 0) == 110);

  const auto hdr = npy_file(1, npy_dict("<f4", "(2, 0, 5)"), {});
  const auto h = io::read_npy_header_bytes(hdr.data(), hdr.size(), "hdr.npy");
  CHECK(h.descr == "<f4");
  CHECK(h.shape == std::vector<std::int64_t>{2, 0, 5});
  CHECK(h.numel() == 0);
}

TEST_CASE("malformed npy files raise io_error naming the file and the fault") {
  auto bad = [](const Bytes& f, const std::string& fault) {
    check_io_error([&] { npy<float, 1>(f); }, "hand.npy", fault);
    CHECK_THROWS_AS((npy<float, 1>(f)), io_error);
  };
  const auto four = le_bytes<float>({1, 2, 3, 4});
  Bytes not_npy;
  not_npy.str("PK\x03\x04 this is a zip");
  bad(not_npy, "\\x93NUMPY");
  bad(Bytes{}.u8(0x93).str("NUMP"), "\\x93NUMPY");
  auto v4 = npy_file(1, npy_dict("<f4", "(4,)"), four);
  v4.b[6] = 4;
  bad(v4, "format version 4.0");
  auto long_header = npy_file(1, npy_dict("<f4", "(4,)"), four);
  long_header.b[8] = 0xFF, long_header.b[9] = 0xFF;
  bad(long_header, "runs past the end of the file");
  bad(Bytes{}.u8(0x93).str("NUMPY").u8(2).u8(0).u16(0), "too few for a version 2 header");
  bad(npy_file(1, npy_dict(">f4", "(4,)"), four), "big-endian");
  bad(npy_file(1, npy_dict("<c8", "(2,)"), four), "'<c8', which is not supported");
  bad(npy_file(1, npy_dict("<f2", "(8,)"), four), "not supported");
  bad(npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}", four),
      "structured dtype");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': False}", four), "lacks 'shape'");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", four),
      "unknown key 'x'");
  bad(npy_file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", four),
      "names 'descr' twice");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}", four),
      "neither True nor False");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", four),
      "other than an integer");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk", four),
      "text after its closing");
  // The unclosed quote swallows text up to the next quote, which leaves the dict out of step.
  bad(npy_file(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}", four),
      "no ',' or '}' after a value");
  bad(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,", four), "'shape'");
  bad(npy_file(1, npy_dict("<f4", "(5,)"), four), "need 20 bytes of elements but 16");
  bad(npy_file(1, npy_dict("<f4", "(3,)"), four), "truncated or corrupt");
  bad(npy_file(1, npy_dict("<f4", "(4611686018427387904,)"), four), "implausibly large");
  bad(npy_file(1, npy_dict("<f4", "(4294967296, 4294967296, 0)"), {}), "implausibly large");
  bad(npy_file(1, npy_dict("<f4", "(2, 2)"), four), "has rank 2 (shape (2, 2)) but rank 1");
  bad(npy_file(1, npy_dict("<i4", "(4,)"), four), "does not convert to float32");
  // Integer values must fit the requested type.
  const auto negative = npy_file(1, npy_dict("<i8", "(2,)"), le_bytes<std::int64_t>({3, -1}));
  check_io_error([&] { npy<std::uint8_t, 1>(negative); }, "hand.npy",
                 "element 1 is -1, which does not fit in uint8");
  check_io_error([&] { npy<std::int64_t, 1>(npy_file(1, npy_dict("<f4", "(4,)"), four)); },
                 "hand.npy", "does not convert to int64");
  const auto big = npy_file(1, npy_dict("<u8", "(1,)"), le_bytes<std::uint64_t>({~0ull}));
  CHECK_THROWS_WITH_AS((npy<std::int64_t, 1>(big)), doctest::Contains("does not fit in int64"),
                       io_error);
}

// ---- wav ---------------------------------------------------------------------------------

namespace {

struct Fmt {
  unsigned tag = 1, channels = 1, rate = 8000, block_align = 2, bits = 16;
};
Bytes fmt_chunk(const Fmt& f) {
  Bytes c;
  c.str("fmt ").u32(16).u16(f.tag).u16(f.channels).u32(f.rate);
  c.u32(f.rate * f.block_align).u16(f.block_align).u16(f.bits);
  return c;
}
/// RIFF/WAVE around the given chunks (the RIFF size is computed).
Bytes riff(const std::vector<Bytes>& chunks) {
  std::uint32_t n = 4;
  for (const auto& c : chunks) n += static_cast<std::uint32_t>(c.size());
  Bytes f;
  f.str("RIFF").u32(n).str("WAVE");
  for (const auto& c : chunks) f.raw(c.b);
  return f;
}
Bytes data_chunk(const std::vector<unsigned char>& body, std::uint32_t declared = ~0u) {
  Bytes c;
  c.str("data").u32(declared == ~0u ? static_cast<std::uint32_t>(body.size()) : declared);
  return c.raw(body);
}
io::Wav wav(const Bytes& f) {
  return io::read_wav_bytes(f.data(), f.size(), "hand.wav");
}

}  // namespace

TEST_CASE("write_wav then read_wav gives back the samples for mono and stereo") {
  const auto path = temp_path("round.wav");
  for (index_t channels : {1, 2}) {
    CAPTURE(channels);
    Tensor<float, 2> s(Shape<2>{channels, 5});
    const float values[] = {-1.f, -0.5f, 0.f, 1234.f / 32768, 32767.f / 32768};
    for (index_t c = 0; c < channels; ++c)
      for (index_t i = 0; i < 5; ++i) s(c, i) = values[c ? 4 - i : i];
    io::write_wav(path, s, 16000);
    const auto w = io::read_wav(path);
    CHECK(w.sample_rate == 16000);
    CHECK(w.channels == channels);
    CHECK(w.samples.shape() == s.shape());
    CHECK(w.samples.to_vector() == s.to_vector());  // multiples of 1/32768 come back exactly
  }
  // Out-of-range samples are clamped to [-1, 1].
  io::write_wav(path, Tensor<float, 2>::from({1, 2}, {3.f, -3.f}), 8000);
  CHECK(io::read_wav(path).samples.to_vector() == std::vector<float>{32767.f / 32768, -1.f});
  std::filesystem::remove(path);
  check_io_error([] { io::read_wav("/nonexistent/a.wav"); }, "/nonexistent/a.wav", "cannot open");
  CHECK_THROWS_WITH_AS(io::encode_wav(Tensor<float, 2>::from({1, 1}, {NAN}), 8000),
                       doctest::Contains("is NaN"), io_error);
  CHECK_THROWS_WITH_AS(io::encode_wav(Tensor<float, 2>(Shape<2>{0, 3}), 8000),
                       doctest::Contains("1 to 65535 channels"), io_error);
  CHECK_THROWS_AS(io::encode_wav(Tensor<float, 2>(Shape<2>{1, 3}), 0), io_error);
}

TEST_CASE("read_wav decodes hand-made 8-bit, 16-bit and extensible files, skipping other chunks") {
  // 8-bit stereo: frames (0, 255), (128, 64); unsigned with 128 as zero.
  Fmt f8{1, 2, 11025, 2, 8};
  const auto w8 = wav(riff({fmt_chunk(f8), data_chunk({0, 255, 128, 64})}));
  CHECK(w8.channels == 2);
  CHECK(w8.sample_rate == 11025);
  CHECK(w8.samples.shape() == Shape<2>{2, 2});
  CHECK(w8.samples.to_vector() == std::vector<float>{-1.f, 0.f, 127.f / 128, -0.5f});

  // An odd-sized LIST chunk (with its padding byte) before fmt, a "fact" chunk between, and an
  // odd-sized data chunk at the very end without its padding byte.
  Bytes list;
  list.str("LIST").u32(3).str("abc").u8(0);
  Bytes fact;
  fact.str("fact").u32(4).u32(3);
  Fmt mono8{1, 1, 8000, 1, 8};
  const auto w = wav(riff({list, fmt_chunk(mono8), fact, data_chunk({128, 192, 0})}));
  CHECK(w.samples.to_vector() == std::vector<float>{0.f, 0.5f, -1.f});

  // WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, 16-bit mono.
  Bytes ext;
  ext.str("fmt ").u32(40).u16(0xFFFE).u16(1).u32(22050).u32(44100).u16(2).u16(16);
  ext.u16(22).u16(16).u32(4);  // cbSize, valid bits, channel mask
  ext.u16(1).raw(
      {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71});
  const auto we = wav(riff({ext, data_chunk({0x00, 0x40, 0x00, 0xC0})}));
  CHECK(we.sample_rate == 22050);
  CHECK(we.samples.to_vector() == std::vector<float>{0.5f, -0.5f});

  // No frames at all is a valid, empty recording.
  CHECK(wav(riff({fmt_chunk(Fmt{}), data_chunk({})})).samples.shape() == Shape<2>{1, 0});
}

TEST_CASE("malformed WAV files raise io_error naming the file and the fault") {
  auto bad = [](const Bytes& f, const std::string& fault) {
    check_io_error([&] { wav(f); }, "hand.wav", fault);
    CHECK_THROWS_AS(wav(f), io_error);
  };
  const auto two = data_chunk({1, 0, 2, 0});
  bad(Bytes{}.str("RIFX").u32(4).str("WAVE"), "is not a WAV file");
  bad(Bytes{}.str("RIFF").u32(4).str("AVI "), "is not a WAV file");
  bad(Bytes{}.str("RIFF"), "is not a WAV file");
  bad(riff({two}), "no \"fmt \" chunk");
  bad(riff({fmt_chunk(Fmt{})}), "no \"data\" chunk");
  bad(riff({fmt_chunk(Fmt{3, 1, 8000, 4, 32}), two}), "format tag 3 (IEEE float)");
  bad(riff({fmt_chunk(Fmt{1, 1, 8000, 3, 24}), two}), "24 bits per sample");
  bad(riff({fmt_chunk(Fmt{1, 2, 8000, 2, 16}), two}), "block_align 2, inconsistent");
  bad(riff({fmt_chunk(Fmt{1, 0, 8000, 0, 16}), two}), "0 channels");
  bad(riff({fmt_chunk(Fmt{1, 1, 0, 2, 16}), two}), "sample rate of 0");
  bad(riff({fmt_chunk(Fmt{}), data_chunk({1, 0, 2, 0}, 400)}), "only 4 bytes follow");
  bad(riff({fmt_chunk(Fmt{}), data_chunk({1, 0, 2})}), "not a whole number of 2-byte frames");
  bad(riff({fmt_chunk(Fmt{}), fmt_chunk(Fmt{}), two}), "two \"fmt \" chunks");
  bad(riff({fmt_chunk(Fmt{}), two, two}), "two \"data\" chunks");
  Bytes short_fmt;
  short_fmt.str("fmt ").u32(8).u16(1).u16(1).u32(8000);
  bad(riff({short_fmt, two}), "fewer than 16");
  Bytes cut_fmt;
  cut_fmt.str("fmt ").u32(16).u16(1);
  bad(riff({cut_fmt}), "runs past the end");
  // Extensible with the IEEE-float sub-format (3).
  Bytes ext;
  ext.str("fmt ").u32(40).u16(0xFFFE).u16(1).u32(8000).u32(32000).u16(4).u16(32);
  ext.u16(22).u16(32).u32(4).u16(3).raw(
      {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71});
  bad(riff({ext, two}), "sub-format 3, not PCM");
  Bytes ext_short;
  ext_short.str("fmt ").u32(16).u16(0xFFFE).u16(1).u32(8000).u32(16000).u16(2).u16(16);
  bad(riff({ext_short, two}), "fewer than 40");
}

// ---- csv ---------------------------------------------------------------------------------

TEST_CASE("read_csv splits numeric and categorical columns, with quotes and missing values") {
  const std::string text =
      "\xEF\xBB\xBF"
      "id,name,score,city,note\r\n"
      "1,\"Smith, Jane\",3.5,Oslo,\"said \"\"hi\"\"\"\r\n"
      "2,Bob,,Paris,\"two\nlines\"\r\n"
      "\r\n"
      "3,Ann, -2e3 ,Oslo,NA\r\n"
      "4,Bob,NA,,x\r\n";
  const auto t = io::read_csv_string(text, "people.csv");
  CHECK(t.columns == std::vector<std::string>{"id", "name", "score", "city", "note"});
  CHECK(t.is_numeric == std::vector<bool>{true, false, true, false, false});
  CHECK(t.rows == 4);
  CHECK(t.numbers.shape() == Shape<2>{4, 2});  // (rows, numeric columns): id, score
  CHECK(t.codes.shape() == Shape<2>{4, 3});    // (rows, categorical columns): name, city, note
  CHECK(t.slot[static_cast<std::size_t>(t.column("score"))] == 1);
  CHECK(t.numbers(2, 0) == 3.f);
  CHECK(t.numbers(0, 1) == 3.5f);
  CHECK(std::isnan(t.numbers(1, 1)));
  CHECK(t.numbers(2, 1) == -2000.f);
  CHECK(std::isnan(t.numbers(3, 1)));
  CHECK(t.vocab[0] == std::vector<std::string>{"Smith, Jane", "Bob", "Ann"});
  CHECK(t.codes(3, 0) == 1);
  CHECK(t.vocab[1] == std::vector<std::string>{"Oslo", "Paris"});
  CHECK(t.codes(3, 1) == -1);  // an empty categorical field is missing
  CHECK(t.vocab[2] == std::vector<std::string>{"said \"hi\"", "two\nlines", "x"});
  CHECK(t.codes(2, 2) == -1);  // "NA"
  CHECK_THROWS_WITH_AS(t.column("age"), doctest::Contains("no column named 'age'"), io_error);

  // Another separator, a last line without newline, a trailing empty field, numbers with '+',
  // 'inf' and out-of-range magnitudes.
  io::CsvOptions semi;
  semi.separator = ';';
  const auto u = io::read_csv_string("a;b;c\n+1;inf;\n1e999;-1e-999;\"q\"", "semi.csv", semi);
  CHECK(u.is_numeric == std::vector<bool>{true, true, false});
  CHECK(u.numbers(0, 0) == 1.f);
  CHECK(std::isinf(u.numbers(0, 1)));
  CHECK(std::isinf(u.numbers(1, 0)));
  CHECK(u.numbers(1, 1) == 0.f);
  CHECK(u.codes(0, 0) == -1);
  CHECK(u.codes(1, 0) == 0);

  // A header alone gives zero rows; a file read from disk gives the same table as the string.
  CHECK(io::read_csv_string("x,y\n", "h.csv").numbers.shape() == Shape<2>{0, 2});
  const auto path = temp_path("t.csv");
  io::write_text(path, text);
  const auto d = io::read_csv(path);
  CHECK(d.vocab == t.vocab);
  CHECK(d.codes.to_vector() == t.codes.to_vector());
  std::filesystem::remove(path);
}

TEST_CASE("malformed CSV raises io_error naming the file, the line and the fault") {
  auto bad = [](const std::string& text, const std::string& fault) {
    check_io_error([&] { io::read_csv_string(text, "bad.csv"); }, "bad.csv", fault);
    CHECK_THROWS_AS(io::read_csv_string(text, "bad.csv"), io_error);
  };
  bad("", "is empty; a CSV file needs a header row");
  bad("\n\r\n\n", "is empty");
  bad("a,b,c\n1,2,3\n4,5\n", "line 3: the row has 2 fields but the header has 3");
  bad("a,b\n1,2\n\n3,4,5\n", "line 4: the row has 3 fields");
  bad("a,b\n1,\"open\n2,3\n", "line 2: a quoted field opened here is never closed");
  bad("a,b\n\"x\"y,2\n", "line 2: text follows the closing quote");
  bad("a,b,a\n", "names column 'a' twice (columns 1 and 3)");
  check_io_error([] { io::read_csv("/nonexistent/t.csv"); }, "/nonexistent/t.csv", "cannot open");
  io::CsvOptions same;
  same.separator = '"';
  CHECK_THROWS_AS(io::read_csv_string("a\n", "x", same), config_error);
}

// ---- text --------------------------------------------------------------------------------

TEST_CASE("read_text and read_lines read files, with Windows line ends") {
  const auto path = temp_path("lines.txt");
  io::write_text(path, "first\r\nsecond\n\nlast");
  CHECK(io::read_text(path) == "first\r\nsecond\n\nlast");
  CHECK(io::read_lines(path) == std::vector<std::string>{"first", "second", "", "last"});
  io::write_text(path, "one\n");
  CHECK(io::read_lines(path) == std::vector<std::string>{"one"});
  io::write_text(path, "");
  CHECK(io::read_lines(path).empty());
  std::filesystem::remove(path);
  check_io_error([] { io::read_text("/nonexistent/t.txt"); }, "/nonexistent/t.txt", "cannot open");
  check_io_error([] { io::read_lines(std::filesystem::temp_directory_path().string()); },
                 "read_lines", "it is a directory");
  CHECK_THROWS_AS(io::write_text("/nonexistent/dir/t.txt", "x"), io_error);
}

// ---- idx in memory -----------------------------------------------------------------------

TEST_CASE("read_idx_bytes parses plain and gzip buffers like read_idx") {
  std::vector<unsigned char> idx = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (unsigned char i = 0; i < 6; ++i) idx.push_back(i);
  const auto t = io::read_idx_bytes<2>(idx.data(), idx.size(), "mem.idx");
  CHECK(t.shape() == Shape<2>{2, 3});
  CHECK(t(1, 2) == 5);

  // Compress through zlib's gz file API, then parse the compressed bytes.
  const auto path = temp_path("mem.idx.gz");
  gzFile g = gzopen(path.c_str(), "wb");
  REQUIRE(g != nullptr);
  gzwrite(g, idx.data(), static_cast<unsigned>(idx.size()));
  gzclose(g);
  const std::string gz = io::read_text(path);
  std::filesystem::remove(path);
  const auto* gzp = reinterpret_cast<const unsigned char*>(gz.data());
  CHECK(io::read_idx_bytes<2>(gzp, gz.size(), "mem.gz").to_vector() == t.to_vector());
  // Two concatenated gzip members read as one stream, as gzread does.
  const std::string twice = gz + gz;
  check_io_error(
      [&] {
        io::read_idx_bytes<2>(reinterpret_cast<const unsigned char*>(twice.data()), twice.size(),
                              "twice.gz");
      },
      "twice.gz", "has bytes after");

  check_io_error([&] { io::read_idx_bytes<2>(gzp, gz.size() - 12, "cut.gz"); }, "cut.gz",
                 "not valid gzip data");
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5A);
  CHECK_THROWS_AS(io::read_idx_bytes<2>(reinterpret_cast<const unsigned char*>(corrupt.data()),
                                        corrupt.size(), "corrupt.gz"),
                  io_error);
  check_io_error([&] { io::read_idx_bytes<2>(idx.data(), idx.size() - 1, "short.idx"); },
                 "short.idx", "ends early while reading the elements");
  check_io_error([&] { io::read_idx_bytes<3>(idx.data(), idx.size(), "rank.idx"); }, "rank.idx",
                 "has 2 dimensions, expected 3");
  // A zero extent does not excuse huge other ones (their strides would overflow int64).
  const std::vector<unsigned char> zero = {0,    0,    8,    3,    0,    0,    0,    0,
                                           0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  check_io_error([&] { io::read_idx_bytes<3>(zero.data(), zero.size(), "zero.idx"); }, "zero.idx",
                 "implausibly large shape");
  // A huge declared shape over a few bytes fails before any allocation.
  const std::vector<unsigned char> huge = {0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2};
  check_io_error([&] { io::read_idx_bytes<2>(huge.data(), huge.size(), "huge.idx"); }, "huge.idx",
                 "ends early while reading the elements");
}
