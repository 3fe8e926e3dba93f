// SPDX-License-Identifier: Apache-2.0
// modality/masking.hpp: random (MAE), block (BEiT), span (SpanBERT) token masks (B, N) and BERT's
// 80/10/10 corruption of ids (B, N): index lists agree with the mask, counts are exact, masks are
// reproducible from the seed, padding and special ids are never masked, blocks and spans are
// contiguous, corruption proportions, argument errors.
#include <doctest/doctest.h>

#include <pretext/modality/masking.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

using namespace pretext;
using modality::TokenMask;

namespace {

/// Masked tokens in row b.
index_t row_count(const TokenMask& m, index_t b) {
  index_t c = 0;
  for (index_t n = 0; n < m.tokens(); ++n) c += m.mask(b, n) != 0;
  return c;
}

/// The mask is 0/1; when uniform, visible and masked are ascending, disjoint, cover 0..N-1, and
/// are exactly the positions with mask 0 and 1.
void check_consistent(const TokenMask& m) {
  const index_t B = m.batch(), N = m.tokens();
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) REQUIRE((m.mask(b, n) == 0 || m.mask(b, n) == 1));
  if (!m.uniform()) return;
  const index_t K = m.visible.size(1), M = m.masked.size(1);
  REQUIRE(m.visible.size(0) == B);
  REQUIRE(m.masked.size(0) == B);
  REQUIRE(K + M == N);
  for (index_t b = 0; b < B; ++b) {
    std::vector<int> seen(static_cast<std::size_t>(N), 0);
    for (index_t i = 0; i < K; ++i) {
      const auto v = m.visible(b, i);
      REQUIRE((v >= 0 && v < N));
      CHECK(m.mask(b, v) == 0);
      if (i > 0) CHECK(m.visible(b, i - 1) < v);
      ++seen[static_cast<std::size_t>(v)];
    }
    for (index_t i = 0; i < M; ++i) {
      const auto v = m.masked(b, i);
      REQUIRE((v >= 0 && v < N));
      CHECK(m.mask(b, v) == 1);
      if (i > 0) CHECK(m.masked(b, i - 1) < v);
      ++seen[static_cast<std::size_t>(v)];
    }
    for (int s : seen) CHECK(s == 1);  // disjoint and complete
  }
}

bool same_mask(const TokenMask& a, const TokenMask& b) {
  if (a.batch() != b.batch() || a.tokens() != b.tokens()) return false;
  for (index_t i = 0; i < a.batch(); ++i)
    for (index_t n = 0; n < a.tokens(); ++n)
      if (a.mask(i, n) != b.mask(i, n)) return false;
  return true;
}

index_t expected(double ratio, index_t n) {
  return static_cast<index_t>(std::llround(ratio * static_cast<double>(n)));
}

/// Mean length of the maximal runs of masked tokens along each row.
double mean_run(const TokenMask& m) {
  index_t runs = 0, tokens = 0;
  for (index_t b = 0; b < m.batch(); ++b)
    for (index_t n = 0; n < m.tokens(); ++n)
      if (m.mask(b, n)) {
        ++tokens;
        if (n == 0 || !m.mask(b, n - 1)) ++runs;
      }
  return runs ? static_cast<double>(tokens) / static_cast<double>(runs) : 0.0;
}

}  // namespace

TEST_CASE("masking: mask_from builds index lists only when the rows agree") {
  auto raw = Tensor<std::uint8_t, 2>::from(Shape<2>{2, 5}, {0, 3, 0, 1, 0, 1, 0, 0, 0, 7});
  const auto m = modality::mask_from(raw);
  CHECK(m.batch() == 2);
  CHECK(m.tokens() == 5);
  REQUIRE(m.uniform());
  check_consistent(m);
  CHECK(m.mask(0, 1) == 1);  // nonzero becomes 1
  CHECK(m.masked(0, 0) == 1);
  CHECK(m.masked(0, 1) == 3);
  CHECK(m.masked(1, 0) == 0);
  CHECK(m.masked(1, 1) == 4);
  CHECK(m.visible(1, 0) == 1);

  auto ragged = Tensor<std::uint8_t, 2>::from(Shape<2>{2, 3}, {1, 0, 0, 1, 1, 0});
  const auto r = modality::mask_from(ragged);
  CHECK_FALSE(r.uniform());
  check_consistent(r);

  // A strided view (the transpose) is read through its strides.
  const auto t = modality::mask_from(raw.transpose(0, 1));
  CHECK(t.batch() == 5);
  CHECK(t.mask(1, 0) == 1);
  CHECK(t.mask(4, 1) == 1);
  CHECK_FALSE(t.uniform());
}

TEST_CASE("masking: random_mask masks exactly round(ratio * N) per row") {
  for (index_t N : {1, 7, 16, 49, 196})
    for (double ratio : {0.0, 0.1, 0.4, 0.5, 0.75, 0.9}) {
      Generator g(3);
      const auto m = modality::random_mask(8, N, ratio, g);
      CAPTURE(N);
      CAPTURE(ratio);
      REQUIRE(m.uniform());
      check_consistent(m);
      CHECK(m.masked.size(1) == expected(ratio, N));
      for (index_t b = 0; b < 8; ++b) CHECK(row_count(m, b) == expected(ratio, N));
    }
}

TEST_CASE("masking: random_mask is reproducible and per-row independent of the batch size") {
  Generator a(42), b(42), c(43);
  const auto ma = modality::random_mask(16, 196, 0.75, a);
  const auto mb = modality::random_mask(16, 196, 0.75, b);
  const auto mc = modality::random_mask(16, 196, 0.75, c);
  CHECK(same_mask(ma, mb));
  CHECK_FALSE(same_mask(ma, mc));
  CHECK(a.offset() == 1);  // one draw per call
  // A second call from the same generator differs from the first.
  const auto ma2 = modality::random_mask(16, 196, 0.75, a);
  CHECK_FALSE(same_mask(ma, ma2));
  // Rows differ from each other.
  bool rows_differ = false;
  for (index_t n = 0; n < 196; ++n) rows_differ |= ma.mask(0, n) != ma.mask(1, n);
  CHECK(rows_differ);
  // Row b does not depend on how many rows follow it.
  Generator d(42);
  const auto md = modality::random_mask(4, 196, 0.75, d);
  for (index_t r = 0; r < 4; ++r)
    for (index_t n = 0; n < 196; ++n) CHECK(md.mask(r, n) == ma.mask(r, n));
}

TEST_CASE("masking: random_mask covers every position about equally") {
  Generator g(7);
  const index_t B = 2000, N = 10;
  const auto m = modality::random_mask(B, N, 0.3, g);
  for (index_t n = 0; n < N; ++n) {
    index_t hits = 0;
    for (index_t b = 0; b < B; ++b) hits += m.mask(b, n);
    CHECK(std::abs(static_cast<double>(hits) / B - 0.3) < 0.05);
  }
}

TEST_CASE("masking: random_mask with padding never masks a pad token") {
  // Row r has 10 - 2r real tokens followed by padding; the last row is all padding.
  const index_t B = 6, N = 10;
  auto pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b)
    for (index_t n = N - 2 * b; n < N; ++n) pad(b, n) = 1;
  for (double ratio : {0.0, 0.05, 0.5, 0.75}) {
    Generator g(5);
    const auto m = modality::random_mask(pad, ratio, g);
    CAPTURE(ratio);
    check_consistent(m);
    for (index_t b = 0; b < B; ++b) {
      const index_t real = N - 2 * b;
      index_t want = expected(ratio, real);
      if (ratio > 0 && real >= 1) want = std::max<index_t>(want, 1);
      CHECK(row_count(m, b) == want);
      for (index_t n = real; n < N; ++n) CHECK(m.mask(b, n) == 0);
    }
    CHECK(m.uniform() == (ratio == 0.0));  // the counts differ between rows otherwise
  }
  // Equal real counts give index lists; same seed, same mask.
  auto pad2 = Tensor<std::uint8_t, 2>::zeros(Shape<2>{3, 8});
  pad2(0, 0) = pad2(1, 7) = pad2(2, 3) = 1;
  Generator g1(9), g2(9);
  const auto m1 = modality::random_mask(pad2, 0.5, g1);
  const auto m2 = modality::random_mask(pad2, 0.5, g2);
  REQUIRE(m1.uniform());
  check_consistent(m1);
  CHECK(m1.masked.size(1) == 4);
  CHECK(same_mask(m1, m2));
  CHECK(m1.mask(0, 0) == 0);
  CHECK(m1.mask(1, 7) == 0);
  CHECK(m1.mask(2, 3) == 0);
}

TEST_CASE("masking: block_mask_2d hits the count exactly and forms blocks") {
  struct Grid {
    index_t h, w;
  };
  for (Grid grid : {Grid{1, 1}, Grid{2, 3}, Grid{4, 4}, Grid{7, 7}, Grid{14, 14}, Grid{8, 16}})
    for (double ratio : {0.0, 0.1, 0.4, 0.6, 0.75, 0.95}) {
      Generator g(11);
      const auto m = modality::block_mask_2d(16, grid.h, grid.w, ratio, g);
      CAPTURE(grid.h);
      CAPTURE(grid.w);
      CAPTURE(ratio);
      REQUIRE(m.tokens() == grid.h * grid.w);
      REQUIRE(m.uniform());
      check_consistent(m);
      const index_t want = expected(ratio, grid.h * grid.w);
      for (index_t b = 0; b < 16; ++b) CHECK(row_count(m, b) == want);
    }
  // Blockiness: on a 14 x 14 grid, most masked tokens touch another masked token.
  for (double ratio : {0.4, 0.75}) {
    Generator g(12);
    const index_t H = 14, W = 14, B = 64;
    const auto m = modality::block_mask_2d(B, H, W, ratio, g);
    index_t masked = 0, with_neighbour = 0;
    for (index_t b = 0; b < B; ++b)
      for (index_t i = 0; i < H; ++i)
        for (index_t j = 0; j < W; ++j) {
          const index_t t = i * W + j;
          if (!m.mask(b, t)) continue;
          ++masked;
          with_neighbour += (i > 0 && m.mask(b, t - W)) || (i + 1 < H && m.mask(b, t + W)) ||
                            (j > 0 && m.mask(b, t - 1)) || (j + 1 < W && m.mask(b, t + 1));
        }
    CAPTURE(ratio);
    CHECK(static_cast<double>(with_neighbour) / static_cast<double>(masked) > 0.9);
    // Far more clustered than a random mask of the same ratio.
    Generator g2(12);
    const auto r = modality::random_mask(B, H * W, ratio, g2);
    CHECK(mean_run(m) > mean_run(r));
  }
}

TEST_CASE("masking: block_mask_2d is reproducible") {
  Generator a(1), b(1), c(2);
  const auto ma = modality::block_mask_2d(8, 14, 14, 0.4, a);
  const auto mb = modality::block_mask_2d(8, 14, 14, 0.4, b);
  const auto mc = modality::block_mask_2d(8, 14, 14, 0.4, c);
  CHECK(same_mask(ma, mb));
  CHECK_FALSE(same_mask(ma, mc));
  // min_block and max_aspect change the draw, not the count.
  Generator d(1);
  const auto md = modality::block_mask_2d(8, 14, 14, 0.4, d, 16, 1.0);
  check_consistent(md);
  CHECK(md.masked.size(1) == expected(0.4, 196));
}

TEST_CASE("masking: span_mask_1d hits the count exactly with contiguous spans") {
  for (index_t N : {1, 5, 16, 64, 196, 512})
    for (double ratio : {0.0, 0.15, 0.4, 0.75, 0.9}) {
      Generator g(21);
      const auto m = modality::span_mask_1d(16, N, ratio, g);
      CAPTURE(N);
      CAPTURE(ratio);
      REQUIRE(m.uniform());
      check_consistent(m);
      for (index_t b = 0; b < 16; ++b) CHECK(row_count(m, b) == expected(ratio, N));
    }
  Generator g(22), h(22), k(23);
  const auto m = modality::span_mask_1d(64, 512, 0.15, g);
  CHECK(mean_run(m) > 1.5);
  CHECK(same_mask(m, modality::span_mask_1d(64, 512, 0.15, h)));
  CHECK_FALSE(same_mask(m, modality::span_mask_1d(64, 512, 0.15, k)));
  // A longer mean gives longer runs; mean 1 gives single tokens (runs only by chance adjacency).
  Generator g5(22), g1(22);
  const auto m5 = modality::span_mask_1d(64, 512, 0.15, g5, 5.0);
  const auto m1 = modality::span_mask_1d(64, 512, 0.15, g1, 1.0);
  CHECK(mean_run(m5) > mean_run(m));
  CHECK(mean_run(m1) < 1.5);
  // max_span 1 also means single tokens.
  Generator gs(22);
  CHECK(mean_run(modality::span_mask_1d(64, 512, 0.15, gs, 3.0, 1)) < 1.5);
}

TEST_CASE("masking: bert_corrupt chooses exact counts and never special ids") {
  const std::int64_t vocab = 1000, pad = 0, cls = 1, sep = 2, mask_id = 3;
  const std::vector<std::int64_t> special{pad, cls, sep, mask_id};
  const index_t B = 4000, N = 32;
  // Row b: [CLS] 30 - (b % 8) tokens [SEP] then padding.
  auto ids = Tensor<std::int64_t, 2>::zeros(Shape<2>{B, N});
  for (index_t b = 0; b < B; ++b) {
    const index_t len = 30 - b % 8;
    ids(b, 0) = cls;
    for (index_t n = 1; n <= len; ++n) ids(b, n) = 4 + (b * 31 + n * 17) % (vocab - 4);
    ids(b, len + 1) = sep;
  }
  Generator g(77);
  const double ratio = 0.15;
  const auto c = modality::bert_corrupt(ids, ratio, mask_id, vocab, g, special);
  index_t chosen = 0, to_mask = 0, to_random = 0, kept = 0;
  for (index_t b = 0; b < B; ++b) {
    const index_t len = 30 - b % 8;
    index_t row = 0;
    for (index_t n = 0; n < N; ++n) {
      const auto id = ids(b, n);
      if (!c.mask(b, n)) {
        CHECK(c.target(b, n) == -100);
        CHECK(c.input(b, n) == id);
        continue;
      }
      ++row;
      CHECK((id != pad && id != cls && id != sep));
      CHECK(c.target(b, n) == id);
      const auto in = c.input(b, n);
      CHECK((in >= 0 && in < vocab));
      CHECK((in == mask_id || (in != pad && in != cls && in != sep)));
      if (in == mask_id)
        ++to_mask;
      else if (in == id)
        ++kept;  // a random draw equal to the original counts here too (1 in ~996)
      else
        ++to_random;
    }
    CHECK(row == expected(ratio, len));
    chosen += row;
  }
  const double total = static_cast<double>(chosen);
  CHECK(total > 10000);
  CHECK(std::abs(to_mask / total - 0.8) < 0.02);
  CHECK(std::abs(to_random / total - 0.1) < 0.02);
  CHECK(std::abs(kept / total - 0.1) < 0.02);

  // Reproducible; another seed differs.
  Generator g2(77), g3(78);
  const auto c2 = modality::bert_corrupt(ids, ratio, mask_id, vocab, g2, special);
  const auto c3 = modality::bert_corrupt(ids, ratio, mask_id, vocab, g3, special);
  bool same = true, differ = false;
  for (index_t b = 0; b < B; ++b)
    for (index_t n = 0; n < N; ++n) {
      same &= c.input(b, n) == c2.input(b, n) && c.mask(b, n) == c2.mask(b, n);
      differ |= c.mask(b, n) != c3.mask(b, n);
    }
  CHECK(same);
  CHECK(differ);
}

TEST_CASE("masking: bert_corrupt random replacements avoid special ids") {
  // A tiny vocabulary where most ids are special: replacements must be 4 or 5.
  const std::vector<std::int64_t> special{0, 1, 2, 3, -1};
  auto ids = Tensor<std::int64_t, 2>::full(Shape<2>{500, 8}, 4);
  ids(0, 0) = -1;  // a listed out-of-vocabulary pad id is accepted
  Generator g(3);
  const auto c = modality::bert_corrupt(ids, 0.5, 3, 6, g, special, -1);
  index_t random5 = 0;
  for (index_t b = 0; b < 500; ++b)
    for (index_t n = 0; n < 8; ++n) {
      const auto in = c.input(b, n);
      CHECK((in == 3 || in == 4 || in == 5 || (b == 0 && n == 0 && in == -1)));
      random5 += in == 5;
      if (!c.mask(b, n)) CHECK(c.target(b, n) == -1);
    }
  CHECK(c.mask(0, 0) == 0);
  CHECK(random5 > 50);  // ~ 2000 chosen * 0.1 * 1/2
}

TEST_CASE("masking: bad arguments throw with the function's name") {
  Generator g(0);
  CHECK_THROWS_AS(modality::random_mask(2, 4, 1.0, g), config_error);
  CHECK_THROWS_AS(modality::random_mask(2, 4, -0.1, g), config_error);
  CHECK_THROWS_AS(modality::random_mask(2, 4, std::nan(""), g), config_error);
  CHECK_THROWS_AS(modality::random_mask(0, 4, 0.5, g), shape_error);
  CHECK_THROWS_AS(modality::random_mask(2, 0, 0.5, g), shape_error);
  CHECK_THROWS_WITH_AS(modality::random_mask(2, 4, 1.5, g),
                       doctest::Contains("pretext::modality::random_mask: ratio 1.5"),
                       config_error);
  auto pad = Tensor<std::uint8_t, 2>::zeros(Shape<2>{2, 4});
  CHECK_THROWS_AS(modality::random_mask(pad, 1.0, g), config_error);
  CHECK_THROWS_AS(modality::block_mask_2d(2, 4, 4, 1.0, g), config_error);
  CHECK_THROWS_AS(modality::block_mask_2d(2, 0, 4, 0.5, g), shape_error);
  CHECK_THROWS_AS(modality::block_mask_2d(2, 4, 4, 0.5, g, 0), config_error);
  CHECK_THROWS_AS(modality::block_mask_2d(2, 4, 4, 0.5, g, 4, 0.5), config_error);
  CHECK_THROWS_AS(modality::span_mask_1d(2, 4, 1.0, g), config_error);
  CHECK_THROWS_AS(modality::span_mask_1d(2, 4, 0.5, g, 0.5), config_error);
  CHECK_THROWS_AS(modality::mask_from(Tensor<std::uint8_t, 2>()), shape_error);

  auto ids = Tensor<std::int64_t, 2>::full(Shape<2>{2, 4}, 5);
  CHECK_THROWS_AS(modality::bert_corrupt(ids, 1.0, 3, 10, g), config_error);
  CHECK_THROWS_WITH_AS(modality::bert_corrupt(ids, 0.15, 10, 10, g),
                       doctest::Contains("pretext::modality::bert_corrupt: mask_id 10"),
                       config_error);
  CHECK_THROWS_AS(modality::bert_corrupt(ids, 0.15, -1, 10, g), config_error);
  CHECK_THROWS_AS(modality::bert_corrupt(ids, 0.15, 0, 0, g), config_error);
  CHECK_THROWS_AS(modality::bert_corrupt(ids, 0.15, 0, 2, g, {0, 1}), config_error);
  ids(1, 2) = 10;
  CHECK_THROWS_AS(modality::bert_corrupt(ids, 0.15, 3, 10, g), index_error);
  // A failed call takes no draw.
  CHECK(g.offset() == 0);
}
