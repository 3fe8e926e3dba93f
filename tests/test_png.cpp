// SPDX-License-Identifier: Apache-2.0
// PNG output: byte scaling, grid layout and a write that reads back pixel for pixel (stb).
#include <pretext/io/png.hpp>

#include <doctest/doctest.h>

#include <filesystem>

#include <stb/stb_image.h>

using namespace pretext;

TEST_CASE("to_bytes maps [lo, hi] to 0..255, clamping and rounding") {
  const auto x = Tensor<float, 2>::from({1, 5}, {-1.0f, 0.0f, 0.5f, 1.0f, 2.0f});
  CHECK(io::to_bytes(x).to_vector() == std::vector<std::uint8_t>{0, 0, 128, 255, 255});
  CHECK(io::to_bytes(x, -1.0, 1.0).to_vector() == std::vector<std::uint8_t>{0, 128, 191, 255, 255});
  CHECK_THROWS_AS(io::to_bytes(x, 1.0, 1.0), config_error);
}

TEST_CASE("image_grid places enlarged cells row by row with gaps") {
  const auto a = Tensor<std::uint8_t, 2>::from({1, 2}, {10, 20});
  const auto b = Tensor<std::uint8_t, 2>::from({1, 2}, {30, 40});
  const auto c = Tensor<std::uint8_t, 2>::from({1, 2}, {50, 60});
  // 3 cells in 2 columns, scale 2, gap 1: (2 rows * 2 + 3) x (2 cols * 4 + 3) = 7 x 11.
  const auto g = io::image_grid({a, b, c}, 2, 2, 1, 255);
  REQUIRE(g.size(0) == 7);
  REQUIRE(g.size(1) == 11);
  CHECK(g(0, 0) == 255);  // frame
  CHECK(g(1, 1) == 10);   // cell 0, top-left
  CHECK(g(2, 2) == 10);   // enlarged 2x
  CHECK(g(1, 3) == 20);   // second source column
  CHECK(g(1, 6) == 30);   // cell 1 starts after 1 + 4 + 1 columns
  CHECK(g(4, 1) == 50);   // cell 2 on the second row
  CHECK(g(4, 6) == 255);  // the empty fourth cell stays background
  CHECK_THROWS_AS(io::image_grid({a, Tensor<std::uint8_t, 2>(Shape<2>{2, 2})}, 2), shape_error);
  CHECK_THROWS_AS(io::image_grid({}, 2), config_error);
}

TEST_CASE("write_png writes a file stb reads back unchanged; bad shapes and paths throw") {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / "pretext_test.png").string();
  Tensor<std::uint8_t, 2> img(Shape<2>{5, 7});
  for (index_t i = 0; i < 35; ++i) img.data()[i] = static_cast<std::uint8_t>(i * 7);
  io::write_png(path, img);
  int w = 0, h = 0, c = 0;
  unsigned char* back = stbi_load(path.c_str(), &w, &h, &c, 1);
  REQUIRE(back != nullptr);
  CHECK(w == 7);
  CHECK(h == 5);
  CHECK(c == 1);
  CHECK(std::vector<std::uint8_t>(back, back + 35) == img.to_vector());
  stbi_image_free(back);
  std::filesystem::remove(path);

  CHECK_THROWS_AS(io::write_png(path, Tensor<std::uint8_t, 3>(Shape<3>{2, 2, 2})), shape_error);
  CHECK_THROWS_WITH_AS(io::write_png((dir / "no_such_dir" / "x.png").string(), img),
                       doctest::Contains("x.png"), io_error);
}
