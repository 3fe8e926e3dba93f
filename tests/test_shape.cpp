// SPDX-License-Identifier: Apache-2.0
// Shapes: strides, broadcasting rules and axis normalisation.
#include "reference.hpp"

using namespace pretext;

TEST_CASE("contiguous strides are row-major") {
  CHECK(contiguous_strides(Shape<3>{2, 3, 4}) == Strides<3>{12, 4, 1});
  CHECK(contiguous_strides(Shape<2>{0, 5}) == Strides<2>{5, 1});
  CHECK(numel(Shape<0>{}) == 1);
  CHECK(numel(Shape<2>{0, 5}) == 0);
}

TEST_CASE("broadcast_shapes follows NumPy") {
  CHECK(broadcast_shapes(Shape<2>{3, 1}, Shape<2>{1, 4}, "t") == Shape<2>{3, 4});
  CHECK(broadcast_shapes(Shape<1>{4}, Shape<3>{2, 3, 4}, "t") == Shape<3>{2, 3, 4});
  CHECK(broadcast_shapes(Shape<0>{}, Shape<2>{2, 3}, "t") == Shape<2>{2, 3});
  CHECK(broadcast_shapes(Shape<2>{0, 1}, Shape<1>{5}, "t") == Shape<2>{0, 5});
  CHECK(broadcast_shapes(Shape<1>{1}, Shape<1>{0}, "t") == Shape<1>{0});
  const auto msg = test::error_message<shape_error>([] {
    broadcast_shapes(Shape<2>{2, 3}, Shape<1>{4}, "pretext::add");
  });
  CHECK(msg.find("pretext::add") != std::string::npos);
  CHECK(msg.find("[2, 3]") != std::string::npos);
  CHECK(msg.find("[4]") != std::string::npos);
}

TEST_CASE("normalize_axis accepts negative axes and rejects out-of-range ones") {
  CHECK(normalize_axis(-1, 3, "t") == 2);
  CHECK(normalize_axis(0, 3, "t") == 0);
  CHECK_THROWS_AS(normalize_axis(3, 3, "t"), index_error);
  CHECK_THROWS_AS(normalize_axis(-4, 3, "t"), index_error);
}
