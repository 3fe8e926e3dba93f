// SPDX-License-Identifier: Apache-2.0
// im2col / col2im for 2-D convolution over one NCHW image (1-D is 2-D with H = 1).
//
// Letters: C image channels, (H, W) image, (kH, kW) kernel, (Ho, Wo) output grid, L = Ho Wo.
// col is (C kH kW, n) with rows ordered (c, kh, kw), the flattening of a conv weight
// (Cout, C, kH, kW), and columns the output positions of rows [oh0, oh1) of the grid, so a
// convolution is W (Cout, C kH kW) x col (C kH kW, L). Working on a band of output rows keeps a
// band's col inside L2 for large images; the whole image is one band for small ones.
// Positions outside the image (padding) read as zero and receive nothing.
#pragma once

#include <algorithm>
#include <cstring>  // std::memcpy, std::memset

#include "pretext/core/shape.hpp"

namespace pretext::cpu {

/// Output extent along one axis: floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1, which
/// is <= 0 when the dilated kernel is larger than the padded input (stride must be positive).
constexpr index_t conv_out_size(index_t in, index_t k, index_t stride, index_t pad,
                                index_t dilation) {
  const index_t span = in + 2 * pad - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

/// The geometry of a 2-D convolution over one image (C, H, W) with an output grid (Ho, Wo).
/// Ho and Wo are given, not derived: a transposed convolution with output_padding uses a grid
/// that conv_out_size would not produce.
struct ConvGeometry {
  index_t C = 0, H = 0, W = 0;  ///< image
  index_t kH = 1, kW = 1;       ///< kernel
  index_t sH = 1, sW = 1;       ///< stride
  index_t pH = 0, pW = 0;       ///< zero padding on each side
  index_t dH = 1, dW = 1;       ///< dilation
  index_t Ho = 0, Wo = 0;       ///< output grid

  index_t rows() const noexcept { return C * kH * kW; }
  index_t cols() const noexcept { return Ho * Wo; }
  /// A 1x1 kernel with unit stride and no padding: col is the image itself (C, H W).
  bool is_pointwise() const noexcept {
    return kH == 1 && kW == 1 && sH == 1 && sW == 1 && pH == 0 && pW == 0 && Ho == H && Wo == W;
  }
};

namespace detail {

/// [lo, hi) of output columns ow whose input column ow sW - pW + off lies in [0, W).
inline void valid_cols(const ConvGeometry& g, index_t off, index_t* lo, index_t* hi) {
  const index_t first = g.pW - off;      // ow sW >= first
  const index_t limit = g.W + g.pW - off;  // ow sW < limit
  const index_t l = first <= 0 ? 0 : (first + g.sW - 1) / g.sW;
  const index_t h = limit <= 0 ? 0 : std::min(g.Wo, (limit + g.sW - 1) / g.sW);
  *lo = std::min(l, h);
  *hi = h;
}

}  // namespace detail

/// col (C kH kW, (oh1 - oh0) Wo) = the patches of img (C, H, W) for output rows [oh0, oh1).
template <class T>
void im2col(const T* img, const ConvGeometry& g, index_t oh0, index_t oh1, T* col) {
  const index_t n = (oh1 - oh0) * g.Wo;
  for (index_t c = 0; c < g.C; ++c) {
    const T* plane = img + c * g.H * g.W;
    for (index_t kh = 0; kh < g.kH; ++kh) {
      for (index_t kw = 0; kw < g.kW; ++kw) {
        T* dst = col + ((c * g.kH + kh) * g.kW + kw) * n;
        const index_t off = kw * g.dW;
        index_t lo = 0, hi = 0;
        detail::valid_cols(g, off, &lo, &hi);
        for (index_t oh = oh0; oh < oh1; ++oh, dst += g.Wo) {
          const index_t ih = oh * g.sH - g.pH + kh * g.dH;
          if (ih < 0 || ih >= g.H || lo == hi) {
            std::memset(dst, 0, static_cast<std::size_t>(g.Wo) * sizeof(T));
            continue;
          }
          const T* src = plane + ih * g.W;
          const index_t base = off - g.pW;  // input column of ow = 0
          for (index_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (g.sW == 1) {
            std::memcpy(dst + lo, src + (lo + base), static_cast<std::size_t>(hi - lo) * sizeof(T));
          } else {
            for (index_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sW + base];
          }
          for (index_t ow = hi; ow < g.Wo; ++ow) dst[ow] = T(0);
        }
      }
    }
  }
}

/// img (C, H, W) += the columns of col (C kH kW, (oh1 - oh0) Wo) scattered back to the input
/// positions they were read from: the adjoint of im2col.
template <class T>
void col2im_add(const T* col, const ConvGeometry& g, index_t oh0, index_t oh1, T* img) {
  const index_t n = (oh1 - oh0) * g.Wo;
  for (index_t c = 0; c < g.C; ++c) {
    T* plane = img + c * g.H * g.W;
    for (index_t kh = 0; kh < g.kH; ++kh) {
      for (index_t kw = 0; kw < g.kW; ++kw) {
        const T* src = col + ((c * g.kH + kh) * g.kW + kw) * n;
        const index_t off = kw * g.dW;
        index_t lo = 0, hi = 0;
        detail::valid_cols(g, off, &lo, &hi);
        if (lo == hi) continue;
        const index_t base = off - g.pW;
        for (index_t oh = oh0; oh < oh1; ++oh, src += g.Wo) {
          const index_t ih = oh * g.sH - g.pH + kh * g.dH;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = plane + ih * g.W;
          if (g.sW == 1) {
            T* d = dst + base;
            for (index_t ow = lo; ow < hi; ++ow) d[ow] += src[ow];
          } else {
            for (index_t ow = lo; ow < hi; ++ow) dst[ow * g.sW + base] += src[ow];
          }
        }
      }
    }
  }
}

}  // namespace pretext::cpu
