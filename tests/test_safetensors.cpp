// SPDX-License-Identifier: Apache-2.0
// safetensors: round trips of every dtype, both read paths, atomic writes, and each kind of
// malformed file raising io_error with the file and the fault in its message.
#include <pretext/io.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "reference.hpp"

using namespace pretext;
using io::SafetensorsFile;
using io::SafetensorsWriter;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pretext_test_" + name)).string();
}
/// A file from a header string and a data block.
std::vector<unsigned char> make_file(const std::string& header, std::size_t data_bytes) {
  std::vector<unsigned char> out(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(n >> (8 * i));
  for (std::size_t i = 0; i < header.size(); ++i)
    out[8 + i] = static_cast<unsigned char>(header[i]);
  return out;
}
std::string fault_of(const std::vector<unsigned char>& bytes) {
  return test::error_message<io_error>(
      [&] { SafetensorsFile::from_bytes(bytes, "case.safetensors"); });
}
}  // namespace

TEST_CASE("safetensors round trip: dtypes, shapes, metadata, mmap and buffered reads") {
  const auto path = temp_path("round.safetensors");
  const auto f64 = test::randn<double>({2, 3}, 1);
  const auto f32 = test::randn<float>({4}, 2).reshape({2, 2});  // rank 2 from rank 1
  auto i64 = Tensor<std::int64_t, 1>::from({3}, {-5, 0, 1LL << 40});
  auto u8 = Tensor<std::uint8_t, 3>::from({1, 2, 2}, {0, 7, 200, 255});
  auto i32 = Tensor<std::int32_t, 1>::from({2}, {-7, 9});
  const auto empty = Tensor<float, 2>::zeros({0, 3});
  const auto strided = test::randn<float>({3, 4}, 3).t();  // non-contiguous source
  SafetensorsWriter()
      .add("f64", f64)
      .add("f32", f32)
      .add("i64", i64)
      .add("u8", u8)
      .add("i32", i32)
      .add("empty", empty)
      .add("strided", strided)
      .add_bf16("bf16", Tensor<float, 1>::from({3}, {1.0f, -2.5f, 3.14159f}))
      .metadata("format", "pt")
      .write(path);
  for (bool mmap : {true, false}) {
    const auto f = SafetensorsFile::open(path, mmap);
    CHECK(f.entries().size() == 8);
    CHECK(f.metadata().at("format") == "pt");
    CHECK(f.get<double, 2>("f64").to_vector() == f64.to_vector());
    CHECK(f.get<float, 2>("f32").to_vector() == f32.to_vector());
    CHECK(f.get<std::int64_t, 1>("i64").to_vector() == i64.to_vector());
    CHECK(f.get<std::uint8_t, 3>("u8").to_vector() == u8.to_vector());
    CHECK(f.get<std::int64_t, 1>("i32").to_vector() == std::vector<std::int64_t>{-7, 9});
    CHECK(f.get<float, 2>("empty").shape() == Shape<2>{0, 3});
    CHECK(f.get<float, 2>("strided").to_vector() == strided.to_vector());
    CHECK(f.get<double, 2>("f32").to_vector()[1] == static_cast<double>(f32.to_vector()[1]));
    const auto bf = f.get<float, 1>("bf16").to_vector();
    CHECK(bf[0] == 1.0f);
    CHECK(bf[1] == -2.5f);
    CHECK(bf[2] == doctest::Approx(3.14159f).epsilon(4e-3));  // 8 bits of mantissa
    CHECK(f.entry("f64").dtype == io::DType::F64);
    CHECK_THROWS_AS((f.get<float, 1>("f64")), shape_error);      // wrong rank
    CHECK_THROWS_AS((f.get<std::int64_t, 2>("f64")), io_error);  // float -> int refused
    CHECK_THROWS_AS((f.get<float, 1>("missing")), io_error);
  }
  std::filesystem::remove(path);
}

TEST_CASE("F16 values decode exactly") {
  // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal), inf.
  const std::uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00};
  auto bytes = make_file(R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}})", 10);
  std::memcpy(bytes.data() + bytes.size() - 10, h, 10);
  const auto v = SafetensorsFile::from_bytes(bytes).get<float, 1>("h").to_vector();
  CHECK(v == std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), INFINITY});
}

TEST_CASE("F16 and raw-byte dtypes round trip through the writer") {
  const auto path = temp_path("f16.safetensors");
  const auto v =
      Tensor<float, 1>::from({6}, {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), 1e6f, 0.333333f});
  SafetensorsWriter()
      .add_f16("h", v)
      .add_bytes("i8", io::DType::I8, {3}, {0xFF, 0x00, 0x7F})
      .add_bytes("flags", io::DType::BOOL, {2}, {1, 0})
      .write(path);
  const auto f = SafetensorsFile::open(path);
  const auto h = f.get<float, 1>("h").to_vector();
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == 65504.0f);
  CHECK(h[3] == std::ldexp(1.0f, -24));  // the smallest subnormal survives
  CHECK(h[4] == INFINITY);               // beyond the half range
  CHECK(h[5] == doctest::Approx(0.333333f).epsilon(1e-3));
  CHECK(f.get<std::int64_t, 1>("i8").to_vector() == std::vector<std::int64_t>{-1, 0, 127});
  CHECK(f.get<std::uint8_t, 1>("flags").to_vector() == std::vector<std::uint8_t>{1, 0});
  CHECK_THROWS_AS(SafetensorsWriter().add_bytes("x", io::DType::I16, {3}, {1, 2}), shape_error);
  std::filesystem::remove(path);
}

TEST_CASE("writes are atomic: a failed write leaves the old file") {
  const auto path = temp_path("atomic.safetensors");
  SafetensorsWriter().add("a", Tensor<float, 1>::ones({4})).write(path);
  // A directory cannot be renamed over by a file: the write fails and the old file stays.
  const auto dir = temp_path("atomic_dir.safetensors");
  std::filesystem::create_directories(dir);
  CHECK_THROWS_AS(SafetensorsWriter().add("a", Tensor<float, 1>::ones({4})).write(dir), io_error);
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    CHECK(e.path().string().find("atomic_dir.safetensors.tmp") == std::string::npos);
  CHECK(SafetensorsFile::open(path).get<float, 1>("a").to_vector() == std::vector<float>(4, 1.0f));
  std::filesystem::remove(dir);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(SafetensorsWriter()
                      .add("x", Tensor<float, 1>::ones({1}))
                      .add("x", Tensor<float, 1>::ones({1})),
                  config_error);
}

TEST_CASE("malformed files raise io_error naming the file and the fault") {
  auto check = [](const std::vector<unsigned char>& bytes, const char* fault) {
    const auto msg = fault_of(bytes);
    CAPTURE(msg);
    CHECK(msg.find("case.safetensors") != std::string::npos);
    CHECK(msg.find(fault) != std::string::npos);
  };
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(fault_of(make_file(ok, 8)).empty());
  check({1, 2, 3}, "fewer than the 8-byte");
  auto long_header = make_file(ok, 8);
  long_header[0] = 0xFF;
  long_header[5] = 0x01;
  check(long_header, "runs past the end");
  check(make_file(R"({"a":{"dtype":"F32",)", 8), "not valid JSON");
  check(make_file(R"([1, 2])", 0), "not a JSON object");
  check(make_file(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
        "unknown dtype 'F8'");
  check(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8),
        "outside the data block");
  check(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "need 12");
  check(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  8),
        "overlap");
  check(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
        "belong to no tensor");
  check(make_file(ok, 12), "after the last tensor");
  check(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  8),
        "names 'a' twice");
  check(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
        "not a non-negative integer");
  check(
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
      "implausibly large");
  check(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  check(make_file(R"({"__metadata__":{"k":1}})", 0), "not a string");
  CHECK(test::error_message<io_error>([] {
          SafetensorsFile::open("/nonexistent/x.safetensors");
        }).find("cannot open") != std::string::npos);
}
