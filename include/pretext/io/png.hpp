// SPDX-License-Identifier: Apache-2.0
// PNG output for pictures a person looks at (reconstructions, filters): images as float tensors
// scaled to 8 bits, a grid of equally sized images with gaps, and an atomic PNG writer on top
// of Debian's stb (libstb-dev: stb_image_write, compiled into libstb; link pretext::png).
//
//   image (H, W) grey or (H, W, C) with C = 1, 3 or 4, values in [lo, hi] -> 0..255
//   grid: rows x cols cells of (h, w) images, enlarged s times ->
//         (rows s h + (rows + 1) gap, cols s w + (cols + 1) gap)
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/io/atomic_write.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <stb/stb_image_write.h>

namespace pretext::io {

/// Values of x (H, W) mapped from [lo, hi] to 0..255 (clamped, rounded).
template <floating T>
Tensor<std::uint8_t, 2> to_bytes(const Tensor<T, 2>& x, double lo = 0.0, double hi = 1.0) {
  PRETEXT_CHECK(hi > lo, config_error, "pretext::io::to_bytes: the range [", lo, ", ", hi,
                "] is empty; pass lo < hi");
  const auto c = x.contiguous();
  Tensor<std::uint8_t, 2> out(c.shape());
  for (index_t i = 0; i < c.numel(); ++i) {
    const double v = (static_cast<double>(c.data()[i]) - lo) / (hi - lo) * 255.0;
    out.data()[i] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
  }
  return out;
}

/// Grey images (each (h, w), all the same size) laid out in a grid of `cols` columns, row by
/// row, each enlarged `scale` times (nearest neighbour: small images stay sharp), separated and
/// framed by `gap` pixels of value `background`.
inline Tensor<std::uint8_t, 2> image_grid(const std::vector<Tensor<std::uint8_t, 2>>& cells,
                                          index_t cols, index_t scale = 1, index_t gap = 2,
                                          std::uint8_t background = 255) {
  PRETEXT_CHECK(!cells.empty() && cols >= 1 && scale >= 1 && gap >= 0, config_error,
                "pretext::io::image_grid: ", cells.size(), " cells in ", cols, " columns, scale ",
                scale, ", gap ", gap,
                "; give at least one cell, one column, scale >= 1 and gap >= 0");
  const index_t h0 = cells[0].size(0), w0 = cells[0].size(1), h = h0 * scale, w = w0 * scale;
  for (std::size_t i = 0; i < cells.size(); ++i)
    PRETEXT_CHECK(cells[i].size(0) == h0 && cells[i].size(1) == w0, shape_error,
                  "pretext::io::image_grid: cell ", i, " is ",
                  pretext::detail::shape_string(cells[i].shape()), " but cell 0 is ",
                  pretext::detail::shape_string(cells[0].shape()),
                  "; all cells need the same size");
  const auto n = static_cast<index_t>(cells.size());
  const index_t rows = (n + cols - 1) / cols;
  Tensor<std::uint8_t, 2> out(Shape<2>{rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap});
  std::fill(out.data(), out.data() + out.numel(), background);
  for (index_t k = 0; k < n; ++k) {
    const index_t top = gap + (k / cols) * (h + gap), left = gap + (k % cols) * (w + gap);
    const auto c = cells[static_cast<std::size_t>(k)].contiguous();
    for (index_t i = 0; i < h; ++i)
      for (index_t j = 0; j < w; ++j)
        out.data()[(top + i) * out.size(1) + left + j] = c.data()[(i / scale) * w0 + j / scale];
  }
  return out;
}

namespace detail {

inline void append_bytes(void* context, void* data, int size) {
  auto* v = static_cast<std::vector<unsigned char>*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  v->insert(v->end(), p, p + size);
}

inline void write_png_bytes(const std::string& path, const std::uint8_t* pixels, index_t height,
                            index_t width, index_t channels) {
  PRETEXT_CHECK(height >= 1 && width >= 1 && height <= (1 << 24) && width <= (1 << 24) &&
                    (channels == 1 || channels == 3 || channels == 4),
                shape_error, "pretext::io::write_png: ", path, ": an image of ", height, " x ",
                width, " x ", channels,
                " cannot be written; give (H, W) or (H, W, C) with C = 1, 3 or 4");
  std::vector<unsigned char> png;
  const int ok = stbi_write_png_to_func(&append_bytes, &png, static_cast<int>(width),
                                        static_cast<int>(height), static_cast<int>(channels),
                                        pixels, static_cast<int>(width * channels));
  PRETEXT_CHECK(ok != 0, io_error, "pretext::io::write_png: ", path,
                ": stb could not encode the image (out of memory?)");
  write_file_atomic(path, png.data(), png.size(), "pretext::io::write_png");
}

}  // namespace detail

/// Writes a grey image (H, W) as an 8-bit PNG, atomically.
inline void write_png(const std::string& path, const Tensor<std::uint8_t, 2>& image) {
  const auto c = image.contiguous();
  detail::write_png_bytes(path, c.data(), c.size(0), c.size(1), 1);
}

/// Writes an image (H, W, C), C = 1 (grey), 3 (RGB) or 4 (RGBA), as an 8-bit PNG, atomically.
inline void write_png(const std::string& path, const Tensor<std::uint8_t, 3>& image) {
  const auto c = image.contiguous();
  detail::write_png_bytes(path, c.data(), c.size(0), c.size(1), c.size(2));
}

}  // namespace pretext::io
