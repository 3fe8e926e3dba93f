// SPDX-License-Identifier: Apache-2.0
// View augmenters for joint-embedding pre-training (SimCLR, BYOL, SCARF), reproducible from a
// Generator, and MultiView, the dataset adaptor that turns a sample into several views (one
// augmentation for all of them, or one for each with per_view).
//
// Shapes (one sample, no batch axis; plain tensors, no autograd):
//   image    (C H W) channel-major row, or (C, H, W); RandomResizedCrop may change H, W
//   signal   (C L) channel-major row: channel c's L samples, then channel c + 1's
//   tabular  (F) one row, numeric columns first, then categorical codes as floats; the training
//            table ScarfCorruption samples from is (N, F)
//   tokens   (N) int64 ids
//
// Every augmenter is a small struct whose public members are its options (set them with
// designated initializers: `HorizontalFlip{.channels = 3, .height = 32, .width = 32}`) and
// whose `operator()(const Tensor& sample, Generator& g) const` returns a new tensor of the
// same shape (RandomResizedCrop: of its output size) and never writes into the sample. Options
// are checked on each call (config_error naming the augmenter and the value), sample sizes too
// (shape_error).
//
// Reproducibility: each call takes exactly one draw (one stream) from g, whatever the options,
// the sample size or whether the augmentation fires, and reads that stream in a fixed order. So
// the same (seed, offset) gives the same view, two calls in a row give different views, and a
// Compose consumes one draw per step. Inside a DataLoader, g is the sample's own generator
// (seeded from seed, epoch and index), so views do not depend on threads or prefetching.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>  // std::invocable
#include <cstddef>
#include <cstdint>
#include <functional>  // std::invoke
#include <numbers>     // std::numbers::pi
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/data/dataset.hpp"
#include "pretext/modality/masking.hpp"  // detail::RowRandom, detail::choose_front

namespace pretext::modality {

namespace augment_detail {

/// The random numbers of one augmenter call: one fresh stream of g, read from block 0 on.
inline detail::RowRandom draw(Generator& g) noexcept {
  return detail::RowRandom(g.seed(), g.next_stream(), 0);
}

/// Uniform on [lo, hi).
inline double uniform(detail::RowRandom& rng, double lo, double hi) noexcept {
  return lo + (hi - lo) * rng.uniform();
}

/// Two independent standard normals (Box-Muller).
inline std::array<double, 2> normal_pair(detail::RowRandom& rng) noexcept {
  const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 in (0, 1]
  const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * std::numbers::pi * u2;
  return {r * std::cos(a), r * std::sin(a)};
}

/// Fills out[0, n) with standard normals.
inline void standard_normals(detail::RowRandom& rng, double* out, index_t n) noexcept {
  for (index_t i = 0; i < n; i += 2) {
    const auto z = normal_pair(rng);
    out[i] = z[0];
    if (i + 1 < n) out[i + 1] = z[1];
  }
}

/// A standard normal (one Box-Muller pair, the sine half unused).
inline double standard_normal(detail::RowRandom& rng) noexcept {
  return normal_pair(rng)[0];
}

inline void check_range(const char* who, const char* name, const std::array<double, 2>& r,
                        double lo, double hi, bool lo_open) {
  const bool ok = (lo_open ? r[0] > lo : r[0] >= lo) && r[0] <= r[1] && r[1] <= hi;
  PRETEXT_CHECK(ok, config_error, "pretext::modality::", who, ": ", name, " {", r[0], ", ", r[1],
                "} must satisfy ", lo, lo_open ? " < " : " <= ", "min <= max <= ", hi);
}

inline void check_probability(const char* who, const char* name, double p) {
  PRETEXT_CHECK(p >= 0.0 && p <= 1.0, config_error, "pretext::modality::", who, ": ", name, " ", p,
                " must be in [0, 1]");
}

inline void check_nonnegative(const char* who, const char* name, double v) {
  PRETEXT_CHECK(v >= 0.0, config_error, "pretext::modality::", who, ": ", name, " ", v,
                " must be >= 0");
}

inline void check_image_sizes(const char* who, index_t c, index_t h, index_t w) {
  PRETEXT_CHECK(c > 0 && h > 0 && w > 0, config_error, "pretext::modality::", who, ": channels ", c,
                ", height ", h, " and width ", w,
                " must be positive; set them to the images' sizes");
}

template <class T, int R>
void check_defined(const char* who, const Tensor<T, R>& x) {
  PRETEXT_CHECK(x.defined(), shape_error, "pretext::modality::", who,
                ": the sample is an undefined tensor");
}

/// An image sample is (C H W) or (C, H, W) with the configured sizes.
template <class T, int R>
void check_image(const char* who, const Tensor<T, R>& x, index_t c, index_t h, index_t w) {
  check_defined(who, x);
  if constexpr (R == 1) {
    PRETEXT_CHECK(x.numel() == c * h * w, shape_error, "pretext::modality::", who,
                  ": a sample of shape ", pretext::detail::shape_string(x.shape()),
                  " does not hold channels*height*width = ", c, "*", h, "*", w, " = ", c * h * w,
                  " values; set channels, height and width to the images' sizes");
  } else {
    PRETEXT_CHECK(x.size(0) == c && x.size(1) == h && x.size(2) == w, shape_error,
                  "pretext::modality::", who, ": a sample of shape ",
                  pretext::detail::shape_string(x.shape()), " is not (", c, ", ", h, ", ", w,
                  ") = (channels, height, width)");
  }
}

/// A new image of the sample's rank: (C H W) for rank 1, (C, H, W) for rank 3.
template <class T, int R>
Tensor<T, R> new_image(index_t c, index_t h, index_t w) {
  if constexpr (R == 1)
    return Tensor<T, 1>(Shape<1>{c * h * w});
  else
    return Tensor<T, 3>(Shape<3>{c, h, w});
}

/// The channel count C of a (C L) signal row divides its size; returns L.
template <class T>
index_t signal_length(const char* who, const Tensor<T, 1>& x, index_t channels) {
  check_defined(who, x);
  PRETEXT_CHECK(channels > 0, config_error, "pretext::modality::", who, ": channels ", channels,
                " must be positive");
  PRETEXT_CHECK(x.numel() % channels == 0, shape_error, "pretext::modality::", who,
                ": a sample of shape ", pretext::detail::shape_string(x.shape()),
                " does not split ", "into ", channels,
                " channels of equal length; set channels to the signals' count");
  return x.numel() / channels;
}

/// x + N(0, std^2) elementwise: the shared body of GaussianNoise and SignalJitter.
template <class T, int R>
Tensor<T, R> add_noise(const Tensor<T, R>& x, double std, Generator& g) {
  auto rng = draw(g);
  const Tensor<T, R> src = x.contiguous();
  Tensor<T, R> out(x.shape());
  const index_t n = x.numel();
  const T* s = src.data();
  T* o = out.data();
  for (index_t i = 0; i < n; i += 2) {
    const auto z = normal_pair(rng);
    o[i] = static_cast<T>(static_cast<double>(s[i]) + std * z[0]);
    if (i + 1 < n) o[i + 1] = static_cast<T>(static_cast<double>(s[i + 1]) + std * z[1]);
  }
  return out;
}

/// A (h, w) box of an (H, W) image at row i, column j.
struct Box {
  index_t i = 0, j = 0, h = 0, w = 0;
};

/// Bilinear resampling of box b of every channel of src (C, H, W) to (C, oh, ow), with
/// half-pixel centres (align_corners = false, as torch's interpolate): output pixel y samples
/// box row (y + 1/2) h / oh - 1/2, clamped to [0, h - 1]. Output values are convex
/// combinations of input values, so they stay within the input's range.
template <class T>
void resize_bilinear(const T* src, index_t C, index_t H, index_t W, Box b, T* dst, index_t oh,
                     index_t ow) {
  struct Tap {
    index_t i0, i1;
    double f;  // weight of i1
  };
  auto taps = [](index_t in, index_t out) {
    std::vector<Tap> t(static_cast<std::size_t>(out));
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    for (index_t o = 0; o < out; ++o) {
      const double s = std::max((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0);
      const index_t i0 = std::min(static_cast<index_t>(s), in - 1);
      const index_t i1 = std::min(i0 + 1, in - 1);
      t[static_cast<std::size_t>(o)] = {i0, i1, i1 == i0 ? 0.0 : s - static_cast<double>(i0)};
    }
    return t;
  };
  const auto ty = taps(b.h, oh), tx = taps(b.w, ow);
  for (index_t c = 0; c < C; ++c) {
    const T* plane = src + (c * H + b.i) * W + b.j;
    T* out = dst + c * oh * ow;
    for (index_t y = 0; y < oh; ++y) {
      const Tap& a = ty[static_cast<std::size_t>(y)];
      const T* r0 = plane + a.i0 * W;
      const T* r1 = plane + a.i1 * W;
      for (index_t x = 0; x < ow; ++x) {
        const Tap& e = tx[static_cast<std::size_t>(x)];
        const double top = (1.0 - e.f) * r0[e.i0] + e.f * r0[e.i1];
        const double bottom = (1.0 - e.f) * r1[e.i0] + e.f * r1[e.i1];
        out[y * ow + x] = static_cast<T>((1.0 - a.f) * top + a.f * bottom);
      }
    }
  }
}

/// A box of random area fraction in `scale` and random aspect (width / height) log-uniform in
/// `ratio`: torchvision's sampling, ten tries. `fits(h, w)` says whether a box fits; returns
/// false when no try fitted.
template <class Fits>
bool sample_box(detail::RowRandom& rng, index_t H, index_t W, const std::array<double, 2>& scale,
                const std::array<double, 2>& ratio, bool width_over_height, Fits&& fits, Box& box) {
  const double area = static_cast<double>(H) * static_cast<double>(W);
  const double lr0 = std::log(ratio[0]), lr1 = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(rng, scale[0], scale[1]);
    const double aspect = std::exp(uniform(rng, lr0, lr1));
    // torchvision's crop takes the ratio as width / height, its erasing as height / width.
    const double a = width_over_height ? aspect : 1.0 / aspect;
    const auto w = static_cast<index_t>(std::llround(std::sqrt(target * a)));
    const auto h = static_cast<index_t>(std::llround(std::sqrt(target / a)));
    if (!fits(h, w)) continue;
    box = {rng.below(H - h + 1), rng.below(W - w + 1), h, w};
    return true;
  }
  return false;
}

}  // namespace augment_detail

// ---- images ----------------------------------------------------------------------------------

/// SimCLR's main augmentation (torchvision RandomResizedCrop): a box of area fraction drawn from
/// `scale` and aspect ratio width / height log-uniform in `ratio` (ten tries, then the largest
/// central box whose ratio lies in `ratio`), cropped and resized bilinearly to out_height x
/// out_width (0 = the input's size). (C H W) -> (C oh ow), or (C, H, W) -> (C, oh, ow).
///
/// Limitation: no antialiasing when it shrinks (torchvision v2 antialiases by default), so a
/// large crop shrunk a lot aliases; the crop is not clamped either, but bilinear weights are
/// convex, so values stay within the input's range.
struct RandomResizedCrop {
  index_t channels = 0, height = 0, width = 0;           ///< the input images' sizes
  std::array<double, 2> scale = {0.2, 1.0};              ///< area fraction, 0 < min <= max <= 1
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};  ///< width / height, 0 < min <= max
  index_t out_height = 0, out_width = 0;                 ///< output size; 0 = the input's

  index_t output_height() const noexcept { return out_height > 0 ? out_height : height; }
  index_t output_width() const noexcept { return out_width > 0 ? out_width : width; }

  template <floating T, int R>
  requires(R == 1 || R == 3) Tensor<T, R>
  operator()(const Tensor<T, R>& x, Generator& g) const {
    constexpr const char* who = "RandomResizedCrop";
    augment_detail::check_image_sizes(who, channels, height, width);
    augment_detail::check_range(who, "scale", scale, 0.0, 1.0, true);
    augment_detail::check_range(who, "ratio", ratio, 0.0, HUGE_VAL, true);
    PRETEXT_CHECK(out_height >= 0 && out_width >= 0, config_error,
                  "pretext::modality::RandomResizedCrop: out_height ", out_height,
                  " and out_width ", out_width, " must be >= 0 (0 keeps the input's size)");
    augment_detail::check_image(who, x, channels, height, width);
    const index_t H = height, W = width, oh = output_height(), ow = output_width();

    auto rng = augment_detail::draw(g);
    augment_detail::Box box;
    const bool found = augment_detail::sample_box(
        rng, H, W, scale, ratio, true,
        [&](index_t h, index_t w) { return h > 0 && h <= H && w > 0 && w <= W; }, box);
    if (!found) {  // the central box of the input's aspect clamped into `ratio`
      const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
      index_t h = H, w = W;
      if (in_ratio < ratio[0])
        h = std::clamp<index_t>(std::llround(static_cast<double>(W) / ratio[0]), 1, H);
      else if (in_ratio > ratio[1])
        w = std::clamp<index_t>(std::llround(static_cast<double>(H) * ratio[1]), 1, W);
      box = {(H - h) / 2, (W - w) / 2, h, w};
    }
    const Tensor<T, R> src = x.contiguous();
    auto out = augment_detail::new_image<T, R>(channels, oh, ow);
    augment_detail::resize_bilinear(src.data(), channels, H, W, box, out.data(), oh, ow);
    return out;
  }
};

/// Mirrors the image left to right with probability p. (C H W) or (C, H, W), shape kept.
struct HorizontalFlip {
  index_t channels = 0, height = 0, width = 0;
  double p = 0.5;  ///< in [0, 1]

  template <floating T, int R>
  requires(R == 1 || R == 3) Tensor<T, R>
  operator()(const Tensor<T, R>& x, Generator& g) const {
    constexpr const char* who = "HorizontalFlip";
    augment_detail::check_image_sizes(who, channels, height, width);
    augment_detail::check_probability(who, "p", p);
    augment_detail::check_image(who, x, channels, height, width);
    auto rng = augment_detail::draw(g);
    const bool flip = rng.uniform() < p;
    Tensor<T, R> out = x.clone();
    if (!flip) return out;
    T* o = out.data();
    for (index_t r = 0; r < channels * height; ++r)
      std::reverse(o + r * width, o + (r + 1) * width);
    return out;
  }
};

/// Random brightness, then random contrast, of a whole image (any shape; every value is a
/// pixel of one image, all channels together). Brightness multiplies by a factor uniform in
/// [max(0, 1 - brightness), 1 + brightness] (torchvision), or with additive_brightness adds an
/// offset uniform in [-brightness, brightness] (for standardised inputs, where scaling around 0
/// acts like a contrast change). Contrast blends with the image's mean: c x + (1 - c) mean, c
/// uniform in [max(0, 1 - contrast), 1 + contrast]. 0 turns a jitter off.
///
/// Differences from torchvision: the order is fixed (brightness, then contrast), values are not
/// clamped to [0, 1] (inputs may be standardised), and the contrast mean is over all values, not
/// over the grey-scale conversion of an RGB image.
struct ColorJitter {
  double brightness = 0.4;  ///< >= 0
  double contrast = 0.4;    ///< >= 0
  bool additive_brightness = false;

  template <floating T, int R>
  Tensor<T, R> operator()(const Tensor<T, R>& x, Generator& g) const {
    constexpr const char* who = "ColorJitter";
    augment_detail::check_nonnegative(who, "brightness", brightness);
    augment_detail::check_nonnegative(who, "contrast", contrast);
    augment_detail::check_defined(who, x);
    auto rng = augment_detail::draw(g);
    const double ub = rng.uniform(), uc = rng.uniform();  // both drawn always: fixed stream use
    Tensor<T, R> out = x.clone();
    T* o = out.data();
    const index_t n = out.numel();
    if (brightness > 0) {
      if (additive_brightness) {
        const double shift = -brightness + 2.0 * brightness * ub;
        for (index_t i = 0; i < n; ++i) o[i] = static_cast<T>(o[i] + shift);
      } else {
        const double lo = std::max(0.0, 1.0 - brightness), hi = 1.0 + brightness;
        const double f = lo + (hi - lo) * ub;
        for (index_t i = 0; i < n; ++i) o[i] = static_cast<T>(o[i] * f);
      }
    }
    if (contrast > 0 && n > 0) {
      const double lo = std::max(0.0, 1.0 - contrast), hi = 1.0 + contrast;
      const double c = lo + (hi - lo) * uc;
      double mean = 0;
      for (index_t i = 0; i < n; ++i) mean += o[i];
      mean /= static_cast<double>(n);
      for (index_t i = 0; i < n; ++i) o[i] = static_cast<T>(c * o[i] + (1.0 - c) * mean);
    }
    return out;
  }
};

/// Adds N(0, std^2) noise to every value. Any shape, kept.
struct GaussianNoise {
  double std = 0.1;  ///< >= 0

  template <floating T, int R>
  Tensor<T, R> operator()(const Tensor<T, R>& x, Generator& g) const {
    augment_detail::check_nonnegative("GaussianNoise", "std", std);
    augment_detail::check_defined("GaussianNoise", x);
    return augment_detail::add_noise(x, std, g);
  }
};

/// torchvision RandomErasing (Zhong et al. 2020): with probability p, a rectangle of area
/// fraction uniform in `scale` and aspect ratio height / width log-uniform in `ratio` (ten
/// tries; none fitting strictly inside the image leaves it unchanged) is set to `value` in
/// every channel. (C H W) or (C, H, W), shape kept. Unlike torchvision, `value` is one number
/// (no per-channel or random fill).
struct RandomErasing {
  index_t channels = 0, height = 0, width = 0;
  double p = 0.5;                              ///< in [0, 1]
  std::array<double, 2> scale = {0.02, 0.33};  ///< area fraction, 0 < min <= max <= 1
  std::array<double, 2> ratio = {0.3, 3.3};    ///< height / width, 0 < min <= max
  double value = 0;

  template <floating T, int R>
  requires(R == 1 || R == 3) Tensor<T, R>
  operator()(const Tensor<T, R>& x, Generator& g) const {
    constexpr const char* who = "RandomErasing";
    augment_detail::check_image_sizes(who, channels, height, width);
    augment_detail::check_probability(who, "p", p);
    augment_detail::check_range(who, "scale", scale, 0.0, 1.0, true);
    augment_detail::check_range(who, "ratio", ratio, 0.0, HUGE_VAL, true);
    augment_detail::check_image(who, x, channels, height, width);
    const index_t H = height, W = width;
    auto rng = augment_detail::draw(g);
    Tensor<T, R> out = x.clone();
    if (!(rng.uniform() < p)) return out;
    augment_detail::Box b;
    const bool found = augment_detail::sample_box(
        rng, H, W, scale, ratio, false,
        [&](index_t h, index_t w) { return h > 0 && h < H && w > 0 && w < W; }, b);
    if (!found) return out;
    T* o = out.data();
    for (index_t c = 0; c < channels; ++c)
      for (index_t y = b.i; y < b.i + b.h; ++y)
        std::fill_n(o + (c * H + y) * W + b.j, b.w, static_cast<T>(value));
    return out;
  }
};

// ---- 1-D signals (C L) -----------------------------------------------------------------------

/// A random crop of k time steps, k uniform in [ceil(min_fraction L), L] and the start uniform,
/// stretched back to L steps by linear interpolation (end points aligned: output step t reads
/// crop position t (k - 1) / (L - 1)); the same crop in every channel. (C L), shape kept.
struct SignalCrop {
  index_t channels = 1, length = 0;
  double min_fraction = 0.5;  ///< in (0, 1]; 1 keeps the signal unchanged

  template <floating T>
  Tensor<T, 1> operator()(const Tensor<T, 1>& x, Generator& g) const {
    constexpr const char* who = "SignalCrop";
    PRETEXT_CHECK(channels > 0 && length > 0, config_error,
                  "pretext::modality::SignalCrop: ", "channels ", channels, " and length ", length,
                  " must be positive; set them to the signals' sizes");
    PRETEXT_CHECK(min_fraction > 0.0 && min_fraction <= 1.0, config_error,
                  "pretext::modality::SignalCrop: min_fraction ", min_fraction,
                  " must be in (0, 1]");
    augment_detail::check_defined(who, x);
    PRETEXT_CHECK(x.numel() == channels * length, shape_error,
                  "pretext::modality::SignalCrop: a sample of shape ",
                  pretext::detail::shape_string(x.shape()),
                  " does not hold channels*length = ", channels, "*", length, " = ",
                  channels * length, " values");
    const index_t L = length;
    const auto kmin = std::clamp<index_t>(
        static_cast<index_t>(std::ceil(min_fraction * static_cast<double>(L) - 1e-9)), 1, L);
    auto rng = augment_detail::draw(g);
    const index_t k = rng.between(kmin, L);
    const index_t start = rng.between(0, L - k);
    const Tensor<T, 1> src = x.contiguous();
    Tensor<T, 1> out(x.shape());
    const double step = L > 1 ? static_cast<double>(k - 1) / static_cast<double>(L - 1) : 0.0;
    for (index_t c = 0; c < channels; ++c) {
      const T* s = src.data() + c * L + start;
      T* o = out.data() + c * L;
      for (index_t t = 0; t < L; ++t) {
        const double pos = static_cast<double>(t) * step;
        const index_t i0 = std::min(static_cast<index_t>(pos), k - 1);
        const index_t i1 = std::min(i0 + 1, k - 1);
        const double f = pos - static_cast<double>(i0);
        o[t] = i1 == i0 ? s[i0] : static_cast<T>((1.0 - f) * s[i0] + f * s[i1]);
      }
    }
    return out;
  }
};

/// Adds N(0, std^2) noise to every sample of every channel (jitter). Any length, shape kept.
struct SignalJitter {
  double std = 0.03;  ///< >= 0

  template <floating T>
  Tensor<T, 1> operator()(const Tensor<T, 1>& x, Generator& g) const {
    augment_detail::check_nonnegative("SignalJitter", "std", std);
    augment_detail::check_defined("SignalJitter", x);
    return augment_detail::add_noise(x, std, g);
  }
};

/// Multiplies each channel by its own factor drawn from N(1, std^2). (C L), shape kept.
struct SignalScaling {
  index_t channels = 1;
  double std = 0.1;  ///< >= 0

  template <floating T>
  Tensor<T, 1> operator()(const Tensor<T, 1>& x, Generator& g) const {
    augment_detail::check_nonnegative("SignalScaling", "std", std);
    const index_t L = augment_detail::signal_length("SignalScaling", x, channels);
    auto rng = augment_detail::draw(g);
    std::vector<double> z(static_cast<std::size_t>(channels));
    augment_detail::standard_normals(rng, z.data(), channels);
    const Tensor<T, 1> src = x.contiguous();
    Tensor<T, 1> out(x.shape());
    for (index_t c = 0; c < channels; ++c) {
      const double f = 1.0 + std * z[static_cast<std::size_t>(c)];
      for (index_t t = 0; t < L; ++t)
        out.data()[c * L + t] = static_cast<T>(f * src.data()[c * L + t]);
    }
    return out;
  }
};

/// Sets one random contiguous span of round(fraction L) time steps (half away from zero) to
/// `value` in every channel; the start is uniform over the positions where the span fits.
/// (C L), shape kept.
struct SignalMasking {
  index_t channels = 1;
  double fraction = 0.1;  ///< in [0, 1]
  double value = 0;

  template <floating T>
  Tensor<T, 1> operator()(const Tensor<T, 1>& x, Generator& g) const {
    augment_detail::check_probability("SignalMasking", "fraction", fraction);
    const index_t L = augment_detail::signal_length("SignalMasking", x, channels);
    const index_t m = detail::count_for(fraction, L);
    auto rng = augment_detail::draw(g);
    const index_t start = rng.between(0, L - m);
    Tensor<T, 1> out = x.clone();
    for (index_t c = 0; c < channels; ++c)
      std::fill_n(out.data() + c * L + start, m, static_cast<T>(value));
    return out;
  }
};

// ---- tabular rows (F) ------------------------------------------------------------------------

/// SCARF's corruption (Bahri et al. 2022): round(fraction F) features (half away from zero),
/// chosen uniformly without replacement, each take the value of the same feature in a uniformly
/// random row of the training table, i.e. a draw from that feature's empirical marginal.
/// Categorical codes stay valid codes. (F) -> (F).
///
/// The table (N, F) is shared, not copied (a Tensor copy shares storage): keep it unchanged
/// while the augmenter is in use, as with a dataset.
template <floating T>
class ScarfCorruption {
 public:
  /// Throws config_error unless fraction is in [0, 1], shape_error for an empty table.
  explicit ScarfCorruption(Tensor<T, 2> table, double fraction = 0.6)
      : fraction(fraction), table_(std::move(table)) {
    PRETEXT_CHECK(table_.defined() && table_.size(0) > 0 && table_.size(1) > 0, shape_error,
                  "pretext::modality::ScarfCorruption: the training table ",
                  table_.defined() ? pretext::detail::shape_string(table_.shape()) : "(undefined)",
                  " needs at least one row and one feature (N, F)");
    augment_detail::check_probability("ScarfCorruption", "fraction", fraction);
  }

  double fraction = 0.6;  ///< corrupted share of the features, in [0, 1]

  const Tensor<T, 2>& table() const noexcept { return table_; }
  index_t features() const noexcept { return table_.size(1); }
  /// How many features a call corrupts: round(fraction F).
  index_t corrupted() const noexcept { return detail::count_for(fraction, features()); }

  Tensor<T, 1> operator()(const Tensor<T, 1>& x, Generator& g) const {
    augment_detail::check_probability("ScarfCorruption", "fraction", fraction);
    augment_detail::check_defined("ScarfCorruption", x);
    const index_t N = table_.size(0), F = table_.size(1);
    PRETEXT_CHECK(x.numel() == F, shape_error,
                  "pretext::modality::ScarfCorruption: a row of shape ",
                  pretext::detail::shape_string(x.shape()), " for a table of ", F,
                  " features; the row needs (", F, ")");
    auto rng = augment_detail::draw(g);
    std::vector<index_t> features(static_cast<std::size_t>(F));
    for (index_t f = 0; f < F; ++f) features[static_cast<std::size_t>(f)] = f;
    const index_t k = corrupted();
    detail::choose_front(features, k, rng);
    Tensor<T, 1> out = x.clone();
    const index_t s0 = table_.stride(0), s1 = table_.stride(1);
    for (index_t q = 0; q < k; ++q) {
      const index_t f = features[static_cast<std::size_t>(q)];
      out.data()[f] = table_.data()[rng.below(N) * s0 + f * s1];
    }
    return out;
  }

 private:
  Tensor<T, 2> table_;
};

// ---- token sequences (N) int64 ---------------------------------------------------------------

/// Replaces each token by mask_id with probability p, except tokens in special_ids (padding,
/// [CLS], [SEP], [MASK]: never masked). The defaults are Vocabulary's fixed ids. (N) -> (N).
struct TokenMasking {
  double p = 0.15;                                       ///< in [0, 1]
  std::int64_t mask_id = 2;                              ///< Vocabulary::mask
  std::vector<std::int64_t> special_ids = {0, 3, 4, 2};  ///< [PAD], [CLS], [SEP], [MASK]

  Tensor<std::int64_t, 1> operator()(const Tensor<std::int64_t, 1>& x, Generator& g) const {
    augment_detail::check_probability("TokenMasking", "p", p);
    augment_detail::check_defined("TokenMasking", x);
    auto rng = augment_detail::draw(g);
    Tensor<std::int64_t, 1> out = x.clone();
    std::int64_t* o = out.data();
    for (index_t i = 0; i < out.numel(); ++i) {
      const bool hit = rng.uniform() < p;  // drawn for every position: fixed stream use
      if (hit && std::find(special_ids.begin(), special_ids.end(), o[i]) == special_ids.end())
        o[i] = mask_id;
    }
    return out;
  }
};

/// Deletes each token with probability p, except pad_id and special_ids; the kept tokens
/// shift left in their order and pad_id fills the end. (N) -> (N). A sequence may lose every
/// deletable token (then it holds only its special tokens and padding).
struct TokenDeletion {
  double p = 0.1;                              ///< in [0, 1]
  std::int64_t pad_id = 0;                     ///< Vocabulary::pad
  std::vector<std::int64_t> special_ids = {};  ///< also never deleted, e.g. {Vocabulary::cls}

  Tensor<std::int64_t, 1> operator()(const Tensor<std::int64_t, 1>& x, Generator& g) const {
    augment_detail::check_probability("TokenDeletion", "p", p);
    augment_detail::check_defined("TokenDeletion", x);
    auto rng = augment_detail::draw(g);
    const Tensor<std::int64_t, 1> src = x.contiguous();
    Tensor<std::int64_t, 1> out(x.shape());
    const std::int64_t* s = src.data();
    std::int64_t* o = out.data();
    index_t kept = 0;
    for (index_t i = 0; i < src.numel(); ++i) {
      const bool hit = rng.uniform() < p;  // drawn for every position: fixed stream use
      const bool protect = s[i] == pad_id || std::find(special_ids.begin(), special_ids.end(),
                                                       s[i]) != special_ids.end();
      if (protect || !hit) o[kept++] = s[i];
    }
    std::fill(o + kept, o + src.numel(), pad_id);
    return out;
  }
};

// ---- composition -----------------------------------------------------------------------------

/// Applies its augmenters left to right, each with the same generator (so one draw per step):
/// Compose(a, b)(x, g) is b(a(x, g), g). Each step maps a sample of type S to S.
template <class... A>
class Compose {
 public:
  explicit Compose(A... steps) : steps_(std::move(steps)...) {}

  template <class S>
  requires(std::is_convertible_v<std::invoke_result_t<const A&, const S&, Generator&>, S>&&...) S
  operator()(const S& sample, Generator& g) const {
    S x = sample;
    std::apply([&](const A&... step) { ((x = std::invoke(step, std::as_const(x), g)), ...); },
               steps_);
    return x;
  }

  const std::tuple<A...>& steps() const noexcept { return steps_; }

 private:
  std::tuple<A...> steps_;
};

/// Compose(steps...).
template <class... A>
Compose<std::decay_t<A>...> compose(A&&... steps) {
  return Compose<std::decay_t<A>...>(std::forward<A>(steps)...);
}

// ---- several views of each sample -------------------------------------------------------------

/// One augmentation per view, for MultiView: view i of every sample is drawn by the i-th
/// (BYOL's asymmetric recipes, multi-crop's large and small crops). Every augmentation takes
/// (const sample&, Generator&) and must return the same type. Build it with per_view(...).
template <class... A>
struct PerView {
  static_assert(sizeof...(A) >= 2,
                "pretext::modality::PerView: give one augmentation per view, at least two");
  static constexpr std::size_t views = sizeof...(A);
  std::tuple<A...> recipes;

  /// View `View` of x (0 <= View < views), drawn from g by that view's recipe.
  template <std::size_t View, class X>
  auto draw(const X& x, Generator& g) const {
    static_assert(View < views, "pretext::modality::PerView: view index out of range");
    return std::invoke(std::get<View>(recipes), x, g);
  }
};

/// PerView(augs...): view i of each sample from augs[i]; multi_view(ds, per_view(...)) takes
/// as many views as there are augmentations.
template <class... A>
PerView<std::decay_t<A>...> per_view(A&&... augs) {
  return PerView<std::decay_t<A>...>{{std::forward<A>(augs)...}};
}

namespace augment_detail {

template <class A>
inline constexpr bool is_per_view = false;
template <class... A>
inline constexpr bool is_per_view<PerView<A...>> = true;
/// A PerView has one augmentation for each of the N views; a shared augmentation fits any N.
template <class A, std::size_t N>
inline constexpr bool fits_views = true;
template <class... A, std::size_t N>
inline constexpr bool fits_views<PerView<A...>, N> = sizeof...(A) == N;

/// What Aug makes of a sample X: its result, or, for a PerView, the first recipe's (all must
/// agree).
template <class Aug, class X>
struct view_result {
  using type = std::remove_cvref_t<std::invoke_result_t<const Aug&, const X&, Generator&>>;
};
template <class... A, class X>
struct view_result<PerView<A...>, X> {
  using type = std::remove_cvref_t<
      std::invoke_result_t<const std::tuple_element_t<0, std::tuple<A...>>&, const X&, Generator&>>;
  static_assert(
      (std::is_same_v<type,
                      std::remove_cvref_t<std::invoke_result_t<const A&, const X&, Generator&>>> &&
       ...),
      "pretext::modality::PerView: every view's augmentation must return the same type");
};

template <class V, std::size_t N, class = std::make_index_sequence<N>>
struct views_of;
template <class V, std::size_t N, std::size_t... I>
struct views_of<V, N, std::index_sequence<I...>> {
  template <std::size_t>
  using same = V;
  using type = std::conditional_t<N == 2, std::pair<V, V>, std::tuple<same<I>...>>;
};

/// A const reference to a sample of dataset D (a stored type: a reference or a value).
template <class D>
using source_sample_ref = const data::sample_t<std::remove_cvref_t<D>>&;

template <class Aug, class X>
inline constexpr bool maps_views = std::invocable<const Aug&, X, Generator&>;
template <class... A, class X>
inline constexpr bool maps_views<PerView<A...>, X> = (std::invocable<const A&, X, Generator&> &&
                                                      ...);

/// D is a dataset whose samples Aug (or each of a PerView's augmentations) maps to views.
template <class D, class Aug>
concept view_source =
    data::Dataset<std::remove_cvref_t<D>> && maps_views<Aug, source_sample_ref<D>>;

}  // namespace augment_detail

/// A dataset of N views per sample, for joint-embedding objectives: sample i is N views
/// aug(x, g) (for a PerView, view v is its v-th recipe's) of the base sample x = dataset[i], all
/// drawn in order from the sample's own generator g (after the dataset's own draws, if any). The
/// views differ from each other when the augmentations are random, yet sample i is the same for
/// the same loader seed and epoch whatever the thread count.
///
/// The view count is a template parameter so that the sample is something collate batches: a
/// std::pair of two views for N = 2 (SimCLR, BYOL), a std::tuple of N views otherwise; a
/// DataLoader turns it into a pair (tuple) of batches, e.g. {(B, D), (B, D)}. aug takes
/// (const sample&, Generator&) and must not write into the sample, which all views share; a
/// PerView (per_view(a, b, ...)) gives each view its own augmentation instead.
/// Labeled datasets: drop the label first (data::map) or use an UnlabeledTensorDataset.
/// D is the stored type, as for data::Subset; multi_view picks it.
template <class D, class Aug, std::size_t N = 2>
requires augment_detail::view_source<D, Aug>
class MultiView {
 public:
  static_assert(N >= 2, "pretext::modality::MultiView: needs at least 2 views");
  static_assert(augment_detail::fits_views<Aug, N>,
                "pretext::modality::MultiView: a PerView needs one augmentation per view");
  using base_type = std::remove_cvref_t<D>;
  using view_type = typename augment_detail::view_result<Aug, data::sample_t<base_type>>::type;
  /// std::pair<view_type, view_type> for N = 2, else std::tuple of N view_type.
  using sample_type = typename augment_detail::views_of<view_type, N>::type;
  static constexpr std::size_t views = N;

  MultiView(D dataset, Aug aug) : dataset_(std::forward<D>(dataset)), aug_(std::move(aug)) {}

  index_t size() const noexcept { return static_cast<index_t>(dataset_.size()); }

  sample_type get(index_t i, Generator& g) const {
    data::detail::check_sample_index(i, size(), "pretext::modality::MultiView::get");
    const auto& x = data::detail::get_sample(dataset_, i, g);
    if constexpr (N == 2) {
      view_type a = view<0>(x, g);  // two statements: view 0 draws first
      view_type b = view<1>(x, g);
      return sample_type(std::move(a), std::move(b));
    } else {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        // A braced list evaluates left to right, so view I draws after views 0 .. I-1.
        return sample_type{view_type(view<I>(x, g))...};
      }
      (std::make_index_sequence<N>{});
    }
  }

  const base_type& dataset() const noexcept { return dataset_; }
  const Aug& augmentation() const noexcept { return aug_; }

 private:
  /// View I of sample x: the shared augmentation, or a PerView's I-th.
  template <std::size_t I, class X>
  view_type view(const X& x, Generator& g) const {
    if constexpr (augment_detail::is_per_view<Aug>)
      return aug_.template draw<I>(x, g);
    else
      return aug_(x, g);
  }

  D dataset_;
  Aug aug_;
};

/// N views of every sample of ds (default 2: samples are std::pair of views). Keeps a
/// reference when ds is an lvalue, owns a moved copy of an rvalue.
template <std::size_t N = 2, class D, class Aug>
requires data::Dataset<std::remove_cvref_t<D>>
auto multi_view(D&& ds, Aug aug) {
  return MultiView<data::detail::stored_dataset_t<D>, Aug, N>(std::forward<D>(ds), std::move(aug));
}

/// One view of every sample of ds per augmentation of `augs` (per_view(a, b, ...)), view i from
/// the i-th: a std::pair for two, a std::tuple for more.
template <class D, class... A>
requires data::Dataset<std::remove_cvref_t<D>>
auto multi_view(D&& ds, PerView<A...> augs) {
  return MultiView<data::detail::stored_dataset_t<D>, PerView<A...>, sizeof...(A)>(
      std::forward<D>(ds), std::move(augs));
}

}  // namespace pretext::modality
