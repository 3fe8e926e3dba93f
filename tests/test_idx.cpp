// SPDX-License-Identifier: Apache-2.0
// The IDX reader: valid files (plain and gzip), and malformed ones that must raise io_error.
#include "reference.hpp"

#include <pretext/io.hpp>

#include <filesystem>
#include <fstream>

using namespace pretext;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pretext_test_" + name)).string();
}
void write_plain(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}
void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
// A valid (2, 3, 2) uint8 IDX file holding 0..11.
std::vector<unsigned char> valid_idx() {
  std::vector<unsigned char> b = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2};
  for (unsigned char i = 0; i < 12; ++i) b.push_back(i);
  return b;
}
}  // namespace

TEST_CASE("read_idx reads plain and gzip files") {
  const auto bytes = valid_idx();
  for (bool gz : {false, true}) {
    const auto path = temp_path(gz ? "valid.gz" : "valid");
    gz ? write_gz(path, bytes) : write_plain(path, bytes);
    const auto t = io::read_idx<3>(path);
    CHECK(t.shape() == Shape<3>{2, 3, 2});
    CHECK(t(1, 2, 1) == 11);
    std::filesystem::remove(path);
  }
}

TEST_CASE("malformed IDX files raise io_error naming the file and the fault") {
  const auto path = temp_path("bad.gz");
  auto expect = [&](std::vector<unsigned char> bytes, const char* fault) {
    write_gz(path, bytes);
    const auto msg = test::error_message<io_error>([&] { io::read_idx<3>(path); });
    CAPTURE(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(fault) != std::string::npos);
  };
  auto b = valid_idx();
  expect({0, 0}, "ends early");
  expect({1, 0, 8, 3}, "not an IDX file");
  expect({0, 0, 0x0D, 3}, "only unsigned bytes");
  expect({0, 0, 8, 1, 0, 0, 0, 2}, "has 1 dimensions, expected 3");
  expect(std::vector<unsigned char>(b.begin(), b.end() - 1), "ends early");
  auto extra = b;
  extra.push_back(7);
  expect(extra, "bytes after");
  expect({0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 9},
         "implausibly large");
  std::filesystem::remove(path);
  CHECK(test::error_message<io_error>([] {
          io::read_idx<1>("/nonexistent/file.gz");
        }).find("cannot open") != std::string::npos);
}
