// SPDX-License-Identifier: Apache-2.0
// Convolution and pooling kernels on NCHW batches (1-D is 2-D with H = 1): im2col / col2im over
// one image, the three batched convolution products built on them (forward, input gradient,
// weight gradient), and max / average pooling.
//
// Letters: B batch, C image channels, (H, W) image, (kH, kW) kernel, (Ho, Wo) output grid,
// L = Ho Wo, G groups, M channels on the matrix side of the product (Cout for a convolution),
// Kg = C / G kH kW the reduction length of one group.
// col is (C kH kW, n) with rows ordered (c, kh, kw), the flattening of a conv weight
// (Cout, C, kH, kW), and columns the output positions of rows [oh0, oh1) of the grid, so a
// convolution is W (Cout, C kH kW) x col (C kH kW, L). Working on a band of output rows keeps a
// band's col inside L2 for large images; the whole image is one band for small ones.
// Positions outside the image (padding) read as zero and receive nothing.
#pragma once

#include <algorithm>
#include <bit>  // std::bit_cast
#include <cstdint>
#include <cstring>  // std::memcpy
#include <limits>
#include <type_traits>
#include <vector>

#include "pretext/backend/cpu/gemm.hpp"
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/config.hpp"
#include "pretext/core/allocator.hpp"
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

/// Per-thread scratch of the conv kernels: a() holds a band of col, b() a zero-padded band of
/// one image channel. Kept between calls, so steady state does not allocate.
template <class T>
GemmBuffers<T>& conv_buffers() {
  thread_local GemmBuffers<T> buffers;
  return buffers;
}

/// The zero-padded rows of one channel that output rows [oh0, oh1) read: rows
/// oh0 sH - pH + [0, rows) of the image, each padded to `width` columns with the image at
/// column pW. Padding the band once turns every col row into plain copies without bounds tests.
struct PaddedBand {
  index_t rows, width;
  PaddedBand(const ConvGeometry& g, index_t oh0, index_t oh1)
      : rows((oh1 - 1 - oh0) * g.sH + (g.kH - 1) * g.dH + 1),
        // (Wo - 1) sW + (kW - 1) dW + 1 <= W + 2 pW, except on a transposed convolution's grid
        // widened by output_padding; columns past the image read as zero either way.
        width(std::max(g.W + 2 * g.pW, (g.Wo - 1) * g.sW + (g.kW - 1) * g.dW + 1)) {}
  index_t size() const noexcept { return rows * width; }
};

/// d[0, n) += s[0, n). Rows here are short (an output row, 14 for Fashion-MNIST's second conv),
/// too short for a full SIMD register and for the loop vectoriser at -O2; blocks of 8 with a
/// fixed trip count and restrict pointers vectorise at -O2.
template <class T>
PRETEXT_ALWAYS_INLINE void add_row(T* PRETEXT_RESTRICT d, const T* PRETEXT_RESTRICT s, index_t n) {
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (index_t k = 0; k < 8; ++k) d[i + k] += s[i + k];
  for (; i < n; ++i) d[i] += s[i];
}

}  // namespace detail

/// col (C kH kW, (oh1 - oh0) Wo) = the patches of img (C, H, W) for output rows [oh0, oh1).
template <class T>
void im2col(const T* img, const ConvGeometry& g, index_t oh0, index_t oh1, T* col) {
  const index_t n = (oh1 - oh0) * g.Wo;
  const detail::PaddedBand band(g, oh0, oh1);
  T* pad = detail::conv_buffers<T>().b(static_cast<std::size_t>(band.size()));
  const index_t ih0 = oh0 * g.sH - g.pH;  // image row of the band's row 0
  for (index_t c = 0; c < g.C; ++c) {
    const T* plane = img + c * g.H * g.W;
    for (index_t r = 0; r < band.rows; ++r) {
      T* d = pad + r * band.width;
      const index_t ih = ih0 + r;
      if (ih < 0 || ih >= g.H) {
        std::fill_n(d, band.width, T(0));
      } else {
        std::fill_n(d, g.pW, T(0));
        std::memcpy(d + g.pW, plane + ih * g.W, static_cast<std::size_t>(g.W) * sizeof(T));
        std::fill_n(d + g.pW + g.W, band.width - g.pW - g.W, T(0));
      }
    }
    for (index_t kh = 0; kh < g.kH; ++kh) {
      for (index_t kw = 0; kw < g.kW; ++kw) {
        T* dst = col + ((c * g.kH + kh) * g.kW + kw) * n;
        const T* src = pad + kh * g.dH * band.width + kw * g.dW;
        for (index_t oh = oh0; oh < oh1; ++oh, dst += g.Wo, src += g.sH * band.width) {
          if (g.sW == 1)
            std::memcpy(dst, src, static_cast<std::size_t>(g.Wo) * sizeof(T));
          else
            for (index_t ow = 0; ow < g.Wo; ++ow) dst[ow] = src[ow * g.sW];
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
  const detail::PaddedBand band(g, oh0, oh1);
  T* pad = detail::conv_buffers<T>().b(static_cast<std::size_t>(band.size()));
  const index_t ih0 = oh0 * g.sH - g.pH;
  for (index_t c = 0; c < g.C; ++c) {
    std::fill_n(pad, band.size(), T(0));
    for (index_t kh = 0; kh < g.kH; ++kh) {
      for (index_t kw = 0; kw < g.kW; ++kw) {
        const T* src = col + ((c * g.kH + kh) * g.kW + kw) * n;
        T* dst = pad + kh * g.dH * band.width + kw * g.dW;
        for (index_t oh = oh0; oh < oh1; ++oh, src += g.Wo, dst += g.sH * band.width) {
          if (g.sW == 1)
            detail::add_row(dst, src, g.Wo);
          else
            for (index_t ow = 0; ow < g.Wo; ++ow) dst[ow * g.sW] += src[ow];
        }
      }
    }
    // The band's image rows back into the image; padding is dropped.
    T* plane = img + c * g.H * g.W;
    for (index_t r = std::max<index_t>(0, -ih0); r < band.rows && ih0 + r < g.H; ++r) {
      const T* s = pad + r * band.width + g.pW;
      detail::add_row(plane + (ih0 + r) * g.W, s, g.W);
    }
  }
}

// ---- batched convolution products ------------------------------------------------------------
//
// Threads take whole images (a contiguous chunk each), so every GEMM is single-threaded and its
// col band stays in the thread's L2; with fewer images than threads the one chunk runs on the
// caller and the GEMMs split across threads instead.

namespace detail {

/// col band scratch of the calling thread.
template <class T>
T* conv_scratch(std::size_t n) {
  return conv_buffers<T>().a(n);
}

/// Output rows per band: the band's col (C kH kW, rows Wo) stays within about 1 MiB. A pointwise
/// convolution reads the image in place, as one band.
inline index_t band_rows(const ConvGeometry& g, std::size_t elem_bytes) {
  if (g.is_pointwise()) return std::max<index_t>(g.Ho, 1);
  const index_t budget = static_cast<index_t>((std::size_t{1} << 20) / elem_bytes);
  const index_t per_row = std::max<index_t>(1, g.rows() * g.Wo);
  return std::clamp<index_t>(budget / per_row, 1, std::max<index_t>(g.Ho, 1));
}

/// Calls f(chunk, b0, b1) for at most num_threads() contiguous chunks of [0, B), in parallel.
template <class F>
void for_batch_chunks(index_t B, index_t chunks, F&& f) {
  if (chunks <= 1) {
    f(index_t{0}, index_t{0}, B);
    return;
  }
  parallel_for(0, chunks, 1, [&](index_t lo, index_t hi) {
    for (index_t c = lo; c < hi; ++c) f(c, B * c / chunks, B * (c + 1) / chunks);
  });
}

/// n elements from the caching host allocator, for the length of a call.
template <class T>
class HostBuffer {
 public:
  explicit HostBuffer(index_t n) : n_(static_cast<std::size_t>(std::max<index_t>(n, 0))) {
    if (n_) p_ = static_cast<T*>(host_allocate(n_ * sizeof(T)));
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer() {
    if (p_) host_deallocate(p_, n_ * sizeof(T));
  }
  T* data() const noexcept { return p_; }

 private:
  std::size_t n_;
  T* p_ = nullptr;
};

inline index_t batch_chunks(index_t B) {
  return std::min<index_t>(B, pretext::detail::in_parallel_region ? 1 : num_threads());
}

}  // namespace detail

/// out (B, M, L) = per group q: wm_q (M / G, Kg) x im2col(img_b)_q (Kg, L), plus bias (M) when
/// given. img is (B, C, H, W); wm is (M, Kg) row-major, i.e. a weight (M, C / G, kH, kW).
/// A convolution's forward pass, and a transposed convolution's input gradient.
template <class T>
void conv_im2col_gemm(const T* img, index_t B, const ConvGeometry& g, index_t groups, const T* wm,
                      index_t M, const T* bias, T* out) {
  const index_t L = g.cols(), Kg = g.rows() / groups, Mg = M / groups;
  const index_t img_size = g.C * g.H * g.W, band = detail::band_rows(g, sizeof(T));
  const bool pointwise = g.is_pointwise();
  detail::for_batch_chunks(B, detail::batch_chunks(B), [&](index_t, index_t b0, index_t b1) {
    T* col = pointwise ? nullptr
                       : detail::conv_scratch<T>(static_cast<std::size_t>(g.rows() * band * g.Wo));
    for (index_t b = b0; b < b1; ++b) {
      T* y = out + b * M * L;
      if (bias)
        for (index_t m = 0; m < M; ++m) std::fill_n(y + m * L, L, bias[m]);
      for (index_t oh0 = 0; oh0 < g.Ho; oh0 += band) {
        const index_t oh1 = std::min(g.Ho, oh0 + band), n = (oh1 - oh0) * g.Wo;
        const T* c = img + b * img_size;  // pointwise: the image is its own col (C, L)
        if (!pointwise) {
          im2col(c, g, oh0, oh1, col);
          c = col;
        }
        for (index_t q = 0; q < groups; ++q)
          gemm<T>(Trans::no, Trans::no, Mg, n, Kg, T(1), wm + q * Mg * Kg, Kg, c + q * Kg * n, n,
                  bias ? T(1) : T(0), y + q * Mg * L + oh0 * g.Wo, L);
      }
    }
  });
}

/// dst (cols, rows) = src (rows, cols)^T, with row strides lds and ldd. Blocked so that both
/// sides move through cache lines.
template <class T>
void transpose(const T* src, index_t rows, index_t cols, index_t lds, T* dst, index_t ldd) {
  constexpr index_t tile = 16;
  for (index_t r0 = 0; r0 < rows; r0 += tile)
    for (index_t c0 = 0; c0 < cols; c0 += tile) {
      const index_t r1 = std::min(rows, r0 + tile), c1 = std::min(cols, c0 + tile);
      for (index_t c = c0; c < c1; ++c)
        for (index_t r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c];
    }
}

/// img (B, C, H, W) = bias (C, or zero when null) + col2im of, per group q,
/// wm_q^T (Kg, M / G) x src_bq (M / G, L), where src is (B, M, L). A convolution's input
/// gradient (src = output gradient), and a transposed convolution's forward pass (src = input).
template <class T>
void conv_gemm_col2im(const T* src, index_t B, const ConvGeometry& g, index_t groups, const T* wm,
                      index_t M, const T* bias, T* img) {
  const index_t L = g.cols(), Kg = g.rows() / groups, Mg = M / groups;
  const index_t plane = g.H * g.W, img_size = g.C * plane, band = detail::band_rows(g, sizeof(T));
  const bool pointwise = g.is_pointwise();
  // wt (G, Kg, M / G): each group's weight transposed once, so the GEMMs read both operands
  // row-major (packing a transposed operand costs more than this copy).
  detail::HostBuffer<T> wt_buf(M * Kg);
  T* wt = wt_buf.data();
  for (index_t q = 0; q < groups; ++q)
    transpose(wm + q * Mg * Kg, Mg, Kg, Kg, wt + q * Kg * Mg, Mg);
  detail::for_batch_chunks(B, detail::batch_chunks(B), [&](index_t, index_t b0, index_t b1) {
    T* col = pointwise ? nullptr
                       : detail::conv_scratch<T>(static_cast<std::size_t>(g.rows() * band * g.Wo));
    for (index_t b = b0; b < b1; ++b) {
      T* x = img + b * img_size;
      const T* s = src + b * M * L;
      if (bias)
        for (index_t c = 0; c < g.C; ++c) std::fill_n(x + c * plane, plane, bias[c]);
      else if (!pointwise)
        std::fill_n(x, img_size, T(0));
      for (index_t oh0 = 0; oh0 < g.Ho; oh0 += band) {
        const index_t oh1 = std::min(g.Ho, oh0 + band), n = (oh1 - oh0) * g.Wo;
        T* c = pointwise ? x : col;
        const T beta = pointwise && bias ? T(1) : T(0);
        for (index_t q = 0; q < groups; ++q)
          gemm<T>(Trans::no, Trans::no, Kg, n, Mg, T(1), wt + q * Kg * Mg, Mg,
                  s + q * Mg * L + oh0 * g.Wo, L, beta, c + q * Kg * n, n);
        if (!pointwise) col2im_add(col, g, oh0, oh1, x);
      }
    }
  });
}

/// dw (M, Kg) = sum over the batch of, per group q, a_bq (M / G, L) x im2col(img_b)_q^T (L, Kg),
/// where a is (B, M, L) and img (B, C, H, W). A convolution's weight gradient (a = output
/// gradient, img = input), and a transposed convolution's (a = input, img = output gradient).
template <class T>
void conv_weight_grad(const T* a, index_t B, const T* img, const ConvGeometry& g, index_t groups,
                      index_t M, T* dw) {
  const index_t L = g.cols(), Kg = g.rows() / groups, Mg = M / groups;
  const index_t img_size = g.C * g.H * g.W, band = detail::band_rows(g, sizeof(T));
  const bool pointwise = g.is_pointwise();
  const index_t chunks = std::max<index_t>(detail::batch_chunks(B), 1), size = M * Kg;
  // Each chunk sums dw^T (G, Kg, M / G) = col (Kg, n) x a^T (n, M / G) over its images, so that
  // both GEMM operands are row-major: col as im2col makes it, a^T transposed per image (it is
  // kH kW times smaller than col). The chunks' sums are added and transposed at the end.
  detail::HostBuffer<T> acc_buf(chunks * size), at_buf(chunks * M * L);
  detail::for_batch_chunks(B, chunks, [&](index_t chunk, index_t b0, index_t b1) {
    T* acc = acc_buf.data() + chunk * size;
    T* at = at_buf.data() + chunk * M * L;  // (L, M)
    std::fill_n(acc, size, T(0));
    T* col = pointwise ? nullptr
                       : detail::conv_scratch<T>(static_cast<std::size_t>(g.rows() * band * g.Wo));
    for (index_t b = b0; b < b1; ++b) {
      transpose(a + b * M * L, M, L, L, at, M);
      for (index_t oh0 = 0; oh0 < g.Ho; oh0 += band) {
        const index_t oh1 = std::min(g.Ho, oh0 + band), n = (oh1 - oh0) * g.Wo;
        const T* c = img + b * img_size;
        if (!pointwise) {
          im2col(c, g, oh0, oh1, col);
          c = col;
        }
        for (index_t q = 0; q < groups; ++q)
          gemm<T>(Trans::no, Trans::no, Kg, Mg, n, T(1), c + q * Kg * n, n,
                  at + oh0 * g.Wo * M + q * Mg, M, T(1), acc + q * Kg * Mg, Mg);
      }
    }
  });
  for (index_t c = 1; c < chunks; ++c) {
    const T* p = acc_buf.data() + c * size;
    T* acc = acc_buf.data();
    for (index_t i = 0; i < size; ++i) acc[i] += p[i];
  }
  for (index_t q = 0; q < groups; ++q)
    transpose(acc_buf.data() + q * Kg * Mg, Kg, Mg, Mg, dw + q * Mg * Kg, Kg);
}

/// db (C) = sum of g (B, C, L) over B and L: the bias gradient of a convolution.
template <class T>
void channel_sums(const T* g, index_t B, index_t C, index_t L, T* db) {
  using V = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(simd::width<T>);
  parallel_for(0, C, std::max<index_t>(1, 65536 / std::max<index_t>(B * L, 1)),
               [&](index_t lo, index_t hi) {
                 for (index_t c = lo; c < hi; ++c) {
                   V acc(T(0));
                   T tail = 0;
                   for (index_t b = 0; b < B; ++b) {
                     const T* p = g + (b * C + c) * L;
                     index_t l = 0;
                     for (; l + W <= L; l += W) acc += V::load_unaligned(p + l);
                     for (; l < L; ++l) tail += p[l];
                   }
                   db[c] = simd::reduce_add(acc) + tail;
                 }
               });
}

// ---- pooling ---------------------------------------------------------------------------------
//
// One plane (H, W) -> (Ho, Wo) per (b, c); planes are spread over threads. A window starts at
// (oh sH - pH, ow sW - pW) and is clipped to the image.

/// Window geometry of a pooling: kernel, stride and padding per axis, input and output grids.
struct PoolGeometry {
  index_t H = 0, W = 0, kH = 1, kW = 1, sH = 1, sW = 1, pH = 0, pW = 0, Ho = 0, Wo = 0;
};

namespace detail {
template <class F>
void for_planes(index_t planes, index_t plane_work, F&& f) {
  parallel_for(0, planes, std::max<index_t>(1, 32768 / std::max<index_t>(plane_work, 1)),
               [&](index_t lo, index_t hi) {
                 for (index_t p = lo; p < hi; ++p) f(p);
               });
}
}  // namespace detail

/// The usual 2x2 window with stride 2 and no padding, in SIMD over whole rows: for every
/// column j of a pair of input rows, the winner of (j, j + 1) in each row, then of the two
/// rows; the even columns are the windows. The same order as the general
/// scan: the first maximum in row-major window order, and the last NaN if there is one.
/// Indices ride along as T in the same lanes as the values (one mask selects both), exact
/// while the plane has fewer than 2^24 (float) elements; larger planes take the general loop.
template <class T>
void max_pool2x2_forward(const T* x, index_t planes, const PoolGeometry& g, T* y,
                         std::int64_t* argmax) {
  using V = simd::batch<T>;
  constexpr index_t Wd = static_cast<index_t>(V::size);
  const index_t in = g.H * g.W, out = g.Ho * g.Wo, n = 2 * g.Wo - 1, W = g.W;
  if (out == 0) return;
  alignas(64) T lanes[Wd];
  for (index_t l = 0; l < Wd; ++l) lanes[l] = static_cast<T>(l);
  const V lane = V::load_aligned(lanes), one(T(1));
  // Whole vectors over each row pair (n rounded up to nv); a row pair whose reads would
  // leave the plane (the last one, or any in narrow planes) is read from a padded copy.
  const index_t nv = (n + Wd - 1) / Wd * Wd;
  detail::for_planes(planes, in, [&](index_t p) {
    thread_local std::vector<T> best, at, pad;
    best.resize(static_cast<std::size_t>(nv));
    at.resize(static_cast<std::size_t>(nv));
    pad.assign(static_cast<std::size_t>(2 * (nv + 1)), T(0));
    T* PRETEXT_RESTRICT vb = best.data();
    T* PRETEXT_RESTRICT ib = at.data();
    for (index_t oh = 0; oh < g.Ho; ++oh) {
      const index_t row0 = 2 * oh * W;
      const T* r0 = x + p * in + row0;
      const T* r1 = r0 + W;
      if (row0 + W + nv >= in) {
        const index_t k = std::min(W, nv + 1);
        std::copy(r0, r0 + k, pad.data());
        std::copy(r1, r1 + k, pad.data() + nv + 1);
        r0 = pad.data();
        r1 = pad.data() + nv + 1;
      }
      // Data-dependent ?: compiles to branches that mispredict on real data: SIMD selects.
      for (index_t j = 0; j < nv; j += Wd) {
        const V a0 = V::load_unaligned(r0 + j), b0 = V::load_unaligned(r0 + j + 1);
        const V a1 = V::load_unaligned(r1 + j), b1 = V::load_unaligned(r1 + j + 1);
        const auto t0 = (b0 > a0) | xsimd::isnan(b0), t1 = (b1 > a1) | xsimd::isnan(b1);
        const V v0 = xsimd::select(t0, b0, a0), v1 = xsimd::select(t1, b1, a1);
        const auto t = (v1 > v0) | xsimd::isnan(v1);  // (!= is ordered: false for NaN)
        xsimd::select(t, v1, v0).store_unaligned(vb + j);
        const V jj = lane + static_cast<T>(row0 + j);
        const V i0 = xsimd::select(t0, jj + one, jj);
        const V i1 = xsimd::select(t1, jj + one, jj) + static_cast<T>(W);
        xsimd::select(t, i1, i0).store_unaligned(ib + j);
      }
      T* yo = y + p * out + oh * g.Wo;
      std::int64_t* ao = argmax + p * out + oh * g.Wo;
      for (index_t ow = 0; ow < g.Wo; ++ow) {
        yo[ow] = vb[2 * ow];
        ao[ow] = static_cast<std::int64_t>(ib[2 * ow]);
      }
    }
  });
}

/// y (P, Ho, Wo) = window maxima of x (P, H, W), argmax (P, Ho, Wo) = their flat index in the
/// plane. Ties keep the first maximum in row-major window order and NaN wins, as PyTorch.
template <class T>
void max_pool2d_forward(const T* x, index_t planes, const PoolGeometry& g, T* y,
                        std::int64_t* argmax) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const index_t in = g.H * g.W, out = g.Ho * g.Wo;
  if (g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.pH == 0 && g.pW == 0 &&
      in < (index_t{1} << std::numeric_limits<T>::digits)) {
    max_pool2x2_forward(x, planes, g, y, argmax);
    return;
  }
  detail::for_planes(planes, in, [&](index_t p) {
    const T* xp = x + p * in;
    for (index_t oh = 0; oh < g.Ho; ++oh) {
      const index_t h0 = std::max<index_t>(oh * g.sH - g.pH, 0),
                    h1 = std::min(oh * g.sH - g.pH + g.kH, g.H);
      T* best = y + p * out + oh * g.Wo;
      std::int64_t* at = argmax + p * out + oh * g.Wo;
      for (index_t ow = 0; ow < g.Wo; ++ow) {
        best[ow] = -std::numeric_limits<T>::infinity();
        at[ow] = h0 * g.W + std::max<index_t>(ow * g.sW - g.pW, 0);  // first element
      }
      // The whole output row advances one window element at a time, in each window's row-major
      // order, so outputs do not wait on each other's comparisons. Bit masks rather than ?:
      // (which GCC turns into a branch that mispredicts on data).
      for (index_t ih = h0; ih < h1; ++ih) {
        for (index_t kw = 0; kw < g.kW; ++kw) {
          const index_t first = g.pW - kw, limit = g.W + g.pW - kw;  // ow sW in [first, limit)
          const index_t lo = first <= 0 ? 0 : (first + g.sW - 1) / g.sW;
          const index_t hi = limit <= 0 ? 0 : std::min(g.Wo, (limit + g.sW - 1) / g.sW);
          // Locals: the stores below could alias g as far as the compiler knows.
          const index_t base = ih * g.W - g.pW + kw, step = g.sW;
          for (index_t ow = lo; ow < hi; ++ow) {
            const index_t i = base + ow * step;
            const T v = xp[i];
            const bool take = (v > best[ow]) | (v != v);  // v != v: NaN wins, as PyTorch
            const auto m = static_cast<Bits>(0) - static_cast<Bits>(take);
            best[ow] = std::bit_cast<T>((std::bit_cast<Bits>(v) & m) |
                                        (std::bit_cast<Bits>(best[ow]) & ~m));
            at[ow] = (i & static_cast<index_t>(m)) | (at[ow] & ~static_cast<index_t>(m));
          }
        }
      }
    }
  });
}

/// dx (P, H, W) = dy (P, Ho, Wo) routed to the argmax of each window (dx is overwritten).
template <class T>
void max_pool2d_backward(const T* dy, const std::int64_t* argmax, index_t planes,
                         const PoolGeometry& g, T* dx) {
  const index_t in = g.H * g.W, out = g.Ho * g.Wo;
  detail::for_planes(planes, in, [&](index_t p) {
    T* d = dx + p * in;
    std::fill_n(d, in, T(0));
    for (index_t o = 0; o < out; ++o) d[argmax[p * out + o]] += dy[p * out + o];
  });
}

/// The divisor of window (oh, ow): kH kW clipped to the padded image when count_include_pad,
/// else the number of image elements in it.
inline index_t avg_pool_divisor(const PoolGeometry& g, index_t oh, index_t ow,
                                bool count_include_pad) {
  const index_t hs = oh * g.sH - g.pH, ws = ow * g.sW - g.pW;
  if (count_include_pad)
    return (std::min(hs + g.kH, g.H + g.pH) - hs) * (std::min(ws + g.kW, g.W + g.pW) - ws);
  return (std::min(hs + g.kH, g.H) - std::max<index_t>(hs, 0)) *
         (std::min(ws + g.kW, g.W) - std::max<index_t>(ws, 0));
}

/// y (P, Ho, Wo) = window means of x (P, H, W).
template <class T>
void avg_pool2d_forward(const T* x, index_t planes, const PoolGeometry& g, bool count_include_pad,
                        T* y) {
  const index_t in = g.H * g.W, out = g.Ho * g.Wo;
  detail::for_planes(planes, in, [&](index_t p) {
    const T* xp = x + p * in;
    for (index_t oh = 0; oh < g.Ho; ++oh) {
      const index_t h0 = std::max<index_t>(oh * g.sH - g.pH, 0),
                    h1 = std::min(oh * g.sH - g.pH + g.kH, g.H);
      for (index_t ow = 0; ow < g.Wo; ++ow) {
        const index_t w0 = std::max<index_t>(ow * g.sW - g.pW, 0),
                      w1 = std::min(ow * g.sW - g.pW + g.kW, g.W);
        T s = 0;
        for (index_t ih = h0; ih < h1; ++ih)
          for (index_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
        y[p * out + oh * g.Wo + ow] =
            s / static_cast<T>(avg_pool_divisor(g, oh, ow, count_include_pad));
      }
    }
  });
}

/// dx (P, H, W) = dy (P, Ho, Wo) spread evenly over each window (dx is overwritten).
template <class T>
void avg_pool2d_backward(const T* dy, index_t planes, const PoolGeometry& g, bool count_include_pad,
                         T* dx) {
  const index_t in = g.H * g.W, out = g.Ho * g.Wo;
  detail::for_planes(planes, in, [&](index_t p) {
    T* d = dx + p * in;
    std::fill_n(d, in, T(0));
    for (index_t oh = 0; oh < g.Ho; ++oh) {
      const index_t h0 = std::max<index_t>(oh * g.sH - g.pH, 0),
                    h1 = std::min(oh * g.sH - g.pH + g.kH, g.H);
      for (index_t ow = 0; ow < g.Wo; ++ow) {
        const index_t w0 = std::max<index_t>(ow * g.sW - g.pW, 0),
                      w1 = std::min(ow * g.sW - g.pW + g.kW, g.W);
        const T v = dy[p * out + oh * g.Wo + ow] /
                    static_cast<T>(avg_pool_divisor(g, oh, ow, count_include_pad));
        for (index_t ih = h0; ih < h1; ++ih)
          for (index_t iw = w0; iw < w1; ++iw) d[ih * g.W + iw] += v;
      }
    }
  });
}

}  // namespace pretext::cpu
