// SPDX-License-Identifier: Apache-2.0
// Masking policies over the token axis, reproducible from a seed: uniform random masks (MAE),
// rectangular block masks on a patch grid (BEiT), contiguous spans on a sequence (SpanBERT) and
// BERT's 80/10/10 input corruption.
//
// Shapes: B batch, N tokens (N = grid_h * grid_w for a patch grid, token i * grid_w + j is patch
// (i, j)), K visible and M masked tokens per row. Masks are (B, N) std::uint8_t with 1 = masked
// (the objective predicts the token) and 0 = visible; index lists are (B, K) / (B, M) int64.
//
// Reproducibility: every function here takes exactly one draw (one stream) from the Generator,
// whatever B and N are, and row b reads only Philox blocks [b * 2^32, (b + 1) * 2^32) of that
// stream, in a fixed order. So the same seed and offset give identical masks, a call advances the
// generator by one draw, and row b of a batch does not depend on how many rows follow it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>  // std::llround, std::log, std::sqrt, std::exp
#include <cstdint>
#include <utility>  // std::swap
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext::modality {

/// A token mask and, when every row masks the same number of tokens, its index lists.
///
/// mask (B, N) uint8: 1 = masked (the objective predicts it), 0 = visible. visible (B, K) and
/// masked (B, M) hold int64 token positions, ascending in each row, disjoint, together 0..N-1;
/// they are defined only when every row has the same count (always for random_mask(B, N, ...),
/// block_mask_2d and span_mask_1d; for padded batches only when the rows happen to agree).
/// Padding positions of random_mask(padding, ...) are not masked, so they are listed as visible:
/// keep the padding mask to tell them apart.
struct TokenMask {
  Tensor<std::uint8_t, 2> mask;     // (B, N)
  Tensor<std::int64_t, 2> visible;  // (B, K), K = N - M
  Tensor<std::int64_t, 2> masked;   // (B, M)

  index_t batch() const { return mask.size(0); }
  index_t tokens() const { return mask.size(1); }
  /// True when every row masks the same number of tokens (visible and masked are defined).
  bool uniform() const { return visible.defined() && masked.defined(); }
};

/// The input of a masked-language-model step after BERT's corruption.
///
/// input (B, N): the ids to feed the encoder; target (B, N): the original id where mask is 1,
/// ignore_index elsewhere; mask (B, N) uint8: 1 at the chosen positions.
struct BertCorruption {
  Tensor<std::int64_t, 2> input;
  Tensor<std::int64_t, 2> target;
  Tensor<std::uint8_t, 2> mask;
};

namespace detail {

/// Random numbers for one row of one call: blocks (row << 32) + 0, 1, 2, ... of the call's
/// stream, two 64-bit words per Philox block.
class RowRandom {
 public:
  RowRandom(std::uint64_t seed, std::uint64_t stream, index_t row) noexcept
      : seed_(seed), stream_(stream), next_block_(static_cast<std::uint64_t>(row) << 32) {}

  std::uint64_t next_u64() noexcept {
    if (lane_ == 2) {
      block_ = pretext::detail::random_block(seed_, stream_, next_block_++);
      lane_ = 0;
    }
    const auto k = static_cast<std::size_t>(2 * lane_++);
    return (static_cast<std::uint64_t>(block_[k]) << 32) | block_[k + 1];
  }
  /// Uniform on [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1p-53; }
  /// Uniform integer in [0, n), n >= 1 (multiply-shift; bias below n / 2^64).
  index_t below(index_t n) noexcept {
    return static_cast<index_t>(
        (static_cast<unsigned __int128>(next_u64()) * static_cast<std::uint64_t>(n)) >> 64);
  }
  /// Uniform integer in [lo, hi], lo <= hi.
  index_t between(index_t lo, index_t hi) noexcept { return lo + below(hi - lo + 1); }

 private:
  std::uint64_t seed_, stream_, next_block_;
  std::array<std::uint32_t, 4> block_{};
  int lane_ = 2;  // 2 = block used up
};

/// Moves k uniformly chosen elements of c to its front (partial Fisher-Yates), k <= c.size().
inline void choose_front(std::vector<index_t>& c, index_t k, RowRandom& rng) {
  const auto n = static_cast<index_t>(c.size());
  for (index_t i = 0; i < k; ++i) {
    const index_t j = i + rng.below(n - i);
    std::swap(c[static_cast<std::size_t>(i)], c[static_cast<std::size_t>(j)]);
  }
}

/// round(ratio * n), half away from zero.
inline index_t count_for(double ratio, index_t n) {
  return static_cast<index_t>(std::llround(ratio * static_cast<double>(n)));
}

inline void check_ratio(double ratio, const char* fn) {
  PRETEXT_CHECK(ratio >= 0.0 && ratio < 1.0, config_error, "pretext::modality::", fn, ": ratio ",
                ratio, " must be in [0, 1); pass 0.75 to mask three quarters of the tokens");
}

inline void check_sizes(index_t B, index_t N, const char* fn, const char* what) {
  PRETEXT_CHECK(B > 0 && N > 0, shape_error, "pretext::modality::", fn, ": ", what, " (B ", B,
                ", N ", N, ") must both be > 0");
}

/// Masks `remaining` more unmasked tokens of row (N) one at a time, those with a masked
/// neighbour first (so top-ups stick to the blocks or spans already there), then any.
/// `neighbour_masked(i)` says whether token i touches a masked token.
template <class NeighbourMasked>
void fill_singles(std::uint8_t* row, index_t N, index_t remaining, RowRandom& rng,
                  NeighbourMasked&& neighbour_masked) {
  if (remaining <= 0) return;
  std::vector<index_t> near, far;
  for (index_t i = 0; i < N; ++i)
    if (!row[i]) (neighbour_masked(i) ? near : far).push_back(i);
  for (auto* c : {&near, &far}) {
    const index_t k = std::min(remaining, static_cast<index_t>(c->size()));
    choose_front(*c, k, rng);
    for (index_t i = 0; i < k; ++i) row[(*c)[static_cast<std::size_t>(i)]] = 1;
    remaining -= k;
  }
}

/// Wraps a contiguous 0/1 mask (B, N) into a TokenMask, building the index lists when every row
/// has the same count.
inline TokenMask finish(Tensor<std::uint8_t, 2> mask) {
  const index_t B = mask.size(0), N = mask.size(1);
  const std::uint8_t* m = mask.data();
  std::vector<index_t> counts(static_cast<std::size_t>(B), 0);
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) counts[static_cast<std::size_t>(b)] += m[b * N + n];
  TokenMask out;
  out.mask = std::move(mask);
  const bool same =
      std::all_of(counts.begin(), counts.end(), [&](index_t c) { return c == counts[0]; });
  if (!same) return out;
  const index_t M = B > 0 ? counts[0] : 0;
  out.visible = Tensor<std::int64_t, 2>(Shape<2>{B, N - M});
  out.masked = Tensor<std::int64_t, 2>(Shape<2>{B, M});
  std::int64_t* vis = out.visible.data();
  std::int64_t* msk = out.masked.data();
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) *(m[b * N + n] ? msk++ : vis++) = n;
  return out;
}

}  // namespace detail

/// A TokenMask from any (B, N) mask (nonzero = masked, any strides): the mask is copied as 0/1 and
/// the index lists are built when every row masks the same number of tokens.
inline TokenMask mask_from(const Tensor<std::uint8_t, 2>& mask) {
  PRETEXT_CHECK(mask.defined(), shape_error,
                "pretext::modality::mask_from: the mask is undefined; pass a (B, N) uint8 tensor");
  const index_t B = mask.size(0), N = mask.size(1);
  Tensor<std::uint8_t, 2> m(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) m.data()[b * N + n] = mask(b, n) != 0 ? 1 : 0;
  return detail::finish(std::move(m));
}

/// MAE's random masking: in every row exactly round(ratio * N) tokens (half away from zero),
/// chosen uniformly without replacement, are masked. Note that a ratio close to 1 may round to N,
/// which leaves no visible token. Throws config_error unless 0 <= ratio < 1, shape_error unless
/// B, N > 0.
inline TokenMask random_mask(index_t B, index_t N, double ratio, Generator& g) {
  detail::check_ratio(ratio, "random_mask");
  detail::check_sizes(B, N, "random_mask", "batch and token counts");
  const auto seed = g.seed(), stream = g.next_stream();
  const index_t k = detail::count_for(ratio, N);
  auto mask = Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N});
  std::vector<index_t> c(static_cast<std::size_t>(N));
  for (index_t b = 0; b < B; ++b) {
    detail::RowRandom rng(seed, stream, b);
    for (index_t n = 0; n < N; ++n) c[static_cast<std::size_t>(n)] = n;
    detail::choose_front(c, k, rng);
    for (index_t i = 0; i < k; ++i) mask.data()[b * N + c[static_cast<std::size_t>(i)]] = 1;
  }
  return detail::finish(std::move(mask));
}

/// Random masking of a padded batch: padding (B, N) is nonzero at pad tokens, which are never
/// masked (they stay 0, so they appear among the visible positions). Each row masks
/// round(ratio * R) of its R real tokens, and at least one when R >= 1 and ratio > 0. The index
/// lists are defined only when every row ends up with the same count. Throws config_error unless
/// 0 <= ratio < 1, shape_error for an empty padding tensor.
inline TokenMask random_mask(const Tensor<std::uint8_t, 2>& padding, double ratio, Generator& g) {
  detail::check_ratio(ratio, "random_mask");
  const index_t B = padding.size(0), N = padding.size(1);
  detail::check_sizes(B, N, "random_mask", "padding mask sizes");
  const auto seed = g.seed(), stream = g.next_stream();
  auto mask = Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N});
  std::vector<index_t> c;
  for (index_t b = 0; b < B; ++b) {
    detail::RowRandom rng(seed, stream, b);
    c.clear();
    for (index_t n = 0; n < N; ++n)
      if (padding(b, n) == 0) c.push_back(n);
    const auto real = static_cast<index_t>(c.size());
    index_t k = detail::count_for(ratio, real);
    if (ratio > 0.0 && real >= 1) k = std::max<index_t>(k, 1);
    detail::choose_front(c, k, rng);
    for (index_t i = 0; i < k; ++i) mask.data()[b * N + c[static_cast<std::size_t>(i)]] = 1;
  }
  return detail::finish(std::move(mask));
}

/// BEiT-style blockwise masking on a grid_h x grid_w patch grid (N = grid_h * grid_w tokens).
///
/// Per row, rectangles are drawn until round(ratio * N) tokens are masked: area uniform in
/// [min_block, max(min_block, tokens still to mask)], aspect ratio log-uniform in
/// [1 / max_aspect, max_aspect], sides rounded and clipped to the grid, position uniform. A
/// rectangle whose new tokens would overshoot the count contributes only its first new tokens in
/// row-major order (a rectangle with a partial last row), so the count is never exceeded. After
/// 10 rectangles in a row that add nothing (a nearly full grid), the rest is topped up with
/// single tokens, those next to a masked one first. The result is exact: round(ratio * N) masked
/// tokens per row. Throws config_error for a ratio outside [0, 1), min_block < 1 or
/// max_aspect < 1; shape_error unless B, grid_h, grid_w > 0.
inline TokenMask block_mask_2d(index_t B, index_t grid_h, index_t grid_w, double ratio,
                               Generator& g, index_t min_block = 4, double max_aspect = 3.0) {
  detail::check_ratio(ratio, "block_mask_2d");
  PRETEXT_CHECK(B > 0 && grid_h > 0 && grid_w > 0, shape_error,
                "pretext::modality::block_mask_2d: batch ", B, " and grid ", grid_h, " x ", grid_w,
                " must all be > 0");
  PRETEXT_CHECK(min_block >= 1, config_error, "pretext::modality::block_mask_2d: min_block ",
                min_block, " must be >= 1 (tokens per rectangle; BEiT uses 16 on a 14 x 14 grid)");
  PRETEXT_CHECK(max_aspect >= 1.0, config_error, "pretext::modality::block_mask_2d: max_aspect ",
                max_aspect, " must be >= 1 (e.g. 3.0 allows rectangles from 1:3 to 3:1)");
  const auto seed = g.seed(), stream = g.next_stream();
  const index_t H = grid_h, W = grid_w, N = H * W;
  const index_t target = detail::count_for(ratio, N);
  const double log_aspect = std::log(max_aspect);
  constexpr int max_idle = 10;  // rectangles in a row that add nothing before topping up
  auto mask = Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b) {
    detail::RowRandom rng(seed, stream, b);
    std::uint8_t* row = mask.data() + b * N;
    index_t count = 0;
    int idle = 0;
    while (count < target && idle < max_idle) {
      const index_t left = target - count;
      const double lo = static_cast<double>(min_block);
      const double area = lo + (std::max(lo, static_cast<double>(left)) - lo) * rng.uniform();
      const double aspect = std::exp(log_aspect * (2.0 * rng.uniform() - 1.0));
      const index_t h = std::clamp<index_t>(std::llround(std::sqrt(area * aspect)), 1, H);
      const index_t w = std::clamp<index_t>(std::llround(std::sqrt(area / aspect)), 1, W);
      const index_t top = rng.between(0, H - h), lft = rng.between(0, W - w);
      index_t added = 0;
      for (index_t i = top; i < top + h && added < left; ++i)
        for (index_t j = lft; j < lft + w && added < left; ++j)
          if (!row[i * W + j]) row[i * W + j] = 1, ++added;
      count += added;
      idle = added == 0 ? idle + 1 : 0;
    }
    detail::fill_singles(row, N, target - count, rng, [&](index_t t) {
      const index_t i = t / W, j = t % W;
      return (i > 0 && row[t - W]) || (i + 1 < H && row[t + W]) || (j > 0 && row[t - 1]) ||
             (j + 1 < W && row[t + 1]);
    });
  }
  return detail::finish(std::move(mask));
}

/// SpanBERT-style span masking on a sequence of N tokens.
///
/// Per row, spans are drawn until round(ratio * N) tokens are masked: length geometric on
/// {1, 2, ...} with mean mean_span (p = 1 / mean_span), clipped to [1, max_span] (so the realised
/// mean is a little below mean_span; SpanBERT uses p = 0.2 clipped at 10) and to the count still
/// missing; start uniform among the positions where the span fits. Overlapping spans merge. After
/// 10 spans in a row that add nothing, the rest is topped up with single tokens next to a masked
/// one first. The result is exact: round(ratio * N) masked tokens per row. Throws config_error for
/// a ratio outside [0, 1), mean_span < 1 or max_span < 1; shape_error unless B, N > 0.
inline TokenMask span_mask_1d(index_t B, index_t N, double ratio, Generator& g,
                              double mean_span = 3.0, index_t max_span = 10) {
  detail::check_ratio(ratio, "span_mask_1d");
  detail::check_sizes(B, N, "span_mask_1d", "batch and token counts");
  PRETEXT_CHECK(mean_span >= 1.0, config_error, "pretext::modality::span_mask_1d: mean_span ",
                mean_span, " must be >= 1 (tokens; SpanBERT's geometric p = 0.2 is mean 5)");
  PRETEXT_CHECK(max_span >= 1, config_error, "pretext::modality::span_mask_1d: max_span ", max_span,
                " must be >= 1 (SpanBERT clips spans at 10)");
  const auto seed = g.seed(), stream = g.next_stream();
  const index_t target = detail::count_for(ratio, N);
  const double p = 1.0 / mean_span;
  const double log_q = p < 1.0 ? std::log1p(-p) : 0.0;  // log(1 - p); 0 marks "always length 1"
  constexpr int max_idle = 10;
  auto mask = Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b) {
    detail::RowRandom rng(seed, stream, b);
    std::uint8_t* row = mask.data() + b * N;
    index_t count = 0;
    int idle = 0;
    while (count < target && idle < max_idle) {
      const index_t left = target - count;
      // Geometric by inversion: 1 + floor(log(u) / log(1 - p)) for u in (0, 1].
      double len = 1.0;
      if (log_q < 0.0) len += std::floor(std::log(1.0 - rng.uniform()) / log_q);
      const auto span =
          std::min({static_cast<index_t>(std::min(len, static_cast<double>(max_span))), left, N});
      const index_t start = rng.between(0, N - span);
      index_t added = 0;
      for (index_t n = start; n < start + span; ++n)
        if (!row[n]) row[n] = 1, ++added;
      count += added;
      idle = added == 0 ? idle + 1 : 0;
    }
    detail::fill_singles(row, N, target - count, rng, [&](index_t t) {
      return (t > 0 && row[t - 1]) || (t + 1 < N && row[t + 1]);
    });
  }
  return detail::finish(std::move(mask));
}

/// BERT's masked-language-model corruption of ids (B, N).
///
/// Positions holding one of `special_ids` (pad, cls, sep, ...) are never chosen. In each row
/// exactly round(ratio * R) of its R other positions are chosen uniformly without replacement
/// (no minimum: a short row may get none). Each chosen position then draws once, in ascending
/// order: with probability 0.8 its input becomes mask_id, with 0.1 a uniform random id in
/// [0, vocab_size) that is not a special id (it may equal the original), with 0.1 it is left
/// unchanged. target holds the original id at chosen positions and ignore_index elsewhere; input
/// equals ids off the mask.
///
/// Throws config_error unless 0 <= ratio < 1, vocab_size > 0, 0 <= mask_id < vocab_size and some
/// id in [0, vocab_size) is not special; shape_error unless B, N > 0; index_error for an id outside
/// [0, vocab_size) that is not listed in special_ids (so a pad id of -1 is fine when listed).
inline BertCorruption bert_corrupt(const Tensor<std::int64_t, 2>& ids, double ratio,
                                   std::int64_t mask_id, std::int64_t vocab_size, Generator& g,
                                   const std::vector<std::int64_t>& special_ids = {},
                                   std::int64_t ignore_index = -100) {
  detail::check_ratio(ratio, "bert_corrupt");
  const index_t B = ids.size(0), N = ids.size(1);
  detail::check_sizes(B, N, "bert_corrupt", "ids sizes");
  PRETEXT_CHECK(vocab_size > 0, config_error, "pretext::modality::bert_corrupt: vocab_size ",
                vocab_size, " must be > 0");
  PRETEXT_CHECK(mask_id >= 0 && mask_id < vocab_size, config_error,
                "pretext::modality::bert_corrupt: mask_id ", mask_id, " is outside [0, ",
                vocab_size, "); pass the id of the [MASK] token");
  std::vector<std::int64_t> special(special_ids);
  std::sort(special.begin(), special.end());
  special.erase(std::unique(special.begin(), special.end()), special.end());
  // Specials inside the vocabulary, ascending: the random replacement skips them.
  std::vector<std::int64_t> skip;
  for (auto s : special)
    if (s >= 0 && s < vocab_size) skip.push_back(s);
  const auto n_plain = vocab_size - static_cast<std::int64_t>(skip.size());
  PRETEXT_CHECK(n_plain > 0, config_error, "pretext::modality::bert_corrupt: all ", vocab_size,
                " ids are special, so there is no id to draw as a random replacement");
  auto is_special = [&](std::int64_t id) {
    return std::binary_search(special.begin(), special.end(), id);
  };
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) {
      const std::int64_t id = ids(b, n);
      PRETEXT_CHECK((id >= 0 && id < vocab_size) || is_special(id), index_error,
                    "pretext::modality::bert_corrupt: id ", id, " at (", b, ", ", n,
                    ") is outside [0, ", vocab_size, ") and not a special id; fix the ids or list ",
                    "it in special_ids");
    }

  const auto seed = g.seed(), stream = g.next_stream();
  BertCorruption out{Tensor<std::int64_t, 2>(Shape<2>{B, N}),
                     Tensor<std::int64_t, 2>::full(Shape<2>{B, N}, ignore_index),
                     Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N})};
  std::vector<index_t> c;
  for (index_t b = 0; b < B; ++b) {
    detail::RowRandom rng(seed, stream, b);
    std::int64_t* in = out.input.data() + b * N;
    std::int64_t* tg = out.target.data() + b * N;
    std::uint8_t* mk = out.mask.data() + b * N;
    c.clear();
    for (index_t n = 0; n < N; ++n) {
      in[n] = ids(b, n);
      if (!is_special(in[n])) c.push_back(n);
    }
    const index_t k = detail::count_for(ratio, static_cast<index_t>(c.size()));
    detail::choose_front(c, k, rng);
    for (index_t i = 0; i < k; ++i) mk[c[static_cast<std::size_t>(i)]] = 1;
    for (index_t n = 0; n < N; ++n) {
      if (!mk[n]) continue;
      tg[n] = in[n];
      const double u = rng.uniform();
      if (u < 0.8) {
        in[n] = mask_id;
      } else if (u < 0.9) {
        // The r-th non-special id: step over the specials at or below it.
        std::int64_t r = rng.below(n_plain);
        for (auto s : skip)
          if (s <= r) ++r;
        in[n] = r;
      }
    }
  }
  return out;
}

}  // namespace pretext::modality
