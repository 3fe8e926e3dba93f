// SPDX-License-Identifier: Apache-2.0
// modality/augment.hpp: view augmenters on single samples (images (C H W) or (C, H, W), signals
// (C L), tabular rows (F), token ids (N)) and MultiView: reproducible from the generator state,
// one draw per call, shapes kept, flips and identity crops exact, crops within the value range,
// erasing rectangles, per-channel scaling, contiguous signal masks, SCARF draws from the column
// marginals, token deletion order and padding, Compose order, option and shape errors, and a
// DataLoader over two views that is the same with and without prefetching.
#include <doctest/doctest.h>

#include <pretext/data/loader.hpp>
#include <pretext/modality/augment.hpp>
#include <pretext/modality/text.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

using namespace pretext;
using namespace pretext::modality;

namespace {

/// A (n) tensor of values 1, 2, ..., n (all nonzero, all distinct).
Tensor<float, 1> ramp(index_t n) {
  Tensor<float, 1> t(Shape<1>{n});
  for (index_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i + 1);
  return t;
}

/// A (n) tensor of uniform values in [1, 2) (nonzero, so zeros mark erased values).
Tensor<float, 1> random_row(index_t n, std::uint64_t seed) {
  Generator g(seed);
  return uniform<float>({n}, g, 1.0f, 2.0f);
}

template <class T, int R>
bool same(const Tensor<T, R>& a, const Tensor<T, R>& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

/// Same generator state gives the same output; a different seed and the next call give a
/// different one; each call takes exactly one draw; the shape is kept.
template <class Aug, class X>
void check_reproducible(const Aug& aug, const X& x) {
  Generator g1(11), g2(11), g3(12);
  const auto a = aug(x, g1);
  const auto b = aug(x, g2);
  CHECK(g1.offset() == 1);
  CHECK(same(a, b));
  CHECK(a.shape() == x.shape());
  CHECK_FALSE(same(a, aug(x, g3)));
  CHECK_FALSE(same(a, aug(x, g1)));  // g1 moved on
}

}  // namespace

TEST_CASE("augmenters are reproducible from the generator state and keep shapes") {
  const index_t C = 3, H = 8, W = 8;
  const auto img = random_row(C * H * W, 1);
  SUBCASE("images") {
    check_reproducible(RandomResizedCrop{.channels = C, .height = H, .width = W}, img);
    check_reproducible(ColorJitter{.brightness = 0.4, .contrast = 0.4}, img);
    check_reproducible(ColorJitter{.brightness = 0.3, .contrast = 0, .additive_brightness = true},
                       img);
    check_reproducible(GaussianNoise{.std = 0.1}, img);
    check_reproducible(RandomErasing{.channels = C, .height = H, .width = W, .p = 1.0}, img);
    // (C, H, W) samples keep their rank and shape too.
    const auto img3 = img.reshape({C, H, W});
    check_reproducible(RandomResizedCrop{.channels = C, .height = H, .width = W}, img3);
    check_reproducible(RandomErasing{.channels = C, .height = H, .width = W, .p = 1.0}, img3);
  }
  SUBCASE("signals") {
    const auto sig = random_row(2 * 50, 2);
    check_reproducible(SignalCrop{.channels = 2, .length = 50, .min_fraction = 0.5}, sig);
    check_reproducible(SignalJitter{.std = 0.05}, sig);
    check_reproducible(SignalScaling{.channels = 2, .std = 0.2}, sig);
    check_reproducible(SignalMasking{.channels = 2, .fraction = 0.2}, sig);
  }
  SUBCASE("tabular") {
    Generator g(3);
    const auto table = normal<double>({40, 10}, g);
    const ScarfCorruption scarf(table, 0.5);
    check_reproducible(scarf, table.select(0, 0).clone());
  }
  SUBCASE("tokens") {
    Tensor<std::int64_t, 1> ids(Shape<1>{40});
    for (index_t i = 0; i < 40; ++i) ids.data()[i] = 5 + i;
    check_reproducible(TokenMasking{.p = 0.5}, ids);
    check_reproducible(TokenDeletion{.p = 0.5}, ids);
  }
}

TEST_CASE("HorizontalFlip mirrors each row; twice with p = 1 is the identity") {
  // C = 2, H = 2, W = 3: values 0..11, rows {0 1 2} {3 4 5} {6 7 8} {9 10 11}.
  Tensor<float, 1> x(Shape<1>{12});
  for (index_t i = 0; i < 12; ++i) x.data()[i] = static_cast<float>(i);
  const HorizontalFlip flip{.channels = 2, .height = 2, .width = 3, .p = 1.0};
  Generator g(0);
  const auto y = flip(x, g);
  CHECK(y.to_vector() == std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9});
  CHECK(same(flip(y, g), x));
  const HorizontalFlip never{.channels = 2, .height = 2, .width = 3, .p = 0.0};
  CHECK(same(never(x, g), x));
  // p = 0.5 flips about half the time.
  const HorizontalFlip half{.channels = 2, .height = 2, .width = 3};
  int flipped = 0;
  for (int k = 0; k < 400; ++k) flipped += same(half(x, g), y);
  CHECK(flipped > 150);
  CHECK(flipped < 250);
}

TEST_CASE("RandomResizedCrop: identity for the full square crop, values stay in range") {
  const index_t C = 2, H = 9, W = 9;
  const auto x = random_row(C * H * W, 4);
  const RandomResizedCrop full{
      .channels = C, .height = H, .width = W, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}};
  Generator g(5);
  const auto y = full(x, g);
  for (index_t i = 0; i < x.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(x.data()[i]));

  const auto [lo, hi] = std::minmax_element(x.data(), x.data() + x.numel());
  for (auto out : {std::pair<index_t, index_t>{0, 0}, {4, 6}, {16, 12}}) {
    const RandomResizedCrop crop{
        .channels = C, .height = H, .width = W, .out_height = out.first, .out_width = out.second};
    const index_t oh = out.first ? out.first : H, ow = out.second ? out.second : W;
    for (int k = 0; k < 50; ++k) {
      const auto v = crop(x, g);
      REQUIRE(v.numel() == C * oh * ow);
      for (index_t i = 0; i < v.numel(); ++i) {
        CHECK(v.data()[i] >= *lo);
        CHECK(v.data()[i] <= *hi);
      }
    }
    const auto v3 = crop(x.reshape({C, H, W}), g);
    CHECK(v3.shape() == Shape<3>{C, oh, ow});
  }

  // A crop of a constant image is that constant; a crop keeps the channels apart.
  Tensor<double, 1> two(Shape<1>{2 * 6 * 10});
  for (index_t i = 0; i < two.numel(); ++i) two.data()[i] = i < 60 ? 3.0 : -1.0;
  const RandomResizedCrop rect{
      .channels = 2, .height = 6, .width = 10, .out_height = 5, .out_width = 7};
  const auto r = rect(two, g);
  for (index_t i = 0; i < r.numel(); ++i) CHECK(r.data()[i] == (i < 35 ? 3.0 : -1.0));

  // No box of ratio 1 fits a 4 x 16 image at full area: the central fallback still works.
  const RandomResizedCrop fallback{
      .channels = 1, .height = 4, .width = 16, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}};
  CHECK(fallback(ramp(64), g).numel() == 64);
}

TEST_CASE("RandomErasing erases one rectangle, the same in every channel, of bounded area") {
  const index_t C = 3, H = 16, W = 20;
  const auto x = random_row(C * H * W, 6);  // in [1, 2): zeros are erased pixels
  const RandomErasing erase{.channels = C, .height = H, .width = W, .p = 1.0};
  Generator g(7);
  int erased = 0;
  for (int k = 0; k < 200; ++k) {
    const auto y = erase(x, g);
    index_t y0 = H, y1 = -1, x0 = W, x1 = -1, count = 0;
    for (index_t r = 0; r < H; ++r)
      for (index_t c = 0; c < W; ++c) {
        const bool z = y.data()[r * W + c] == 0.0f;
        for (index_t ch = 1; ch < C; ++ch) REQUIRE((y.data()[(ch * H + r) * W + c] == 0.0f) == z);
        for (index_t ch = 0; ch < C; ++ch) {
          const index_t i = (ch * H + r) * W + c;
          if (!z) REQUIRE(y.data()[i] == x.data()[i]);
        }
        if (z)
          ++count, y0 = std::min(y0, r), y1 = std::max(y1, r), x0 = std::min(x0, c),
                   x1 = std::max(x1, c);
      }
    if (count == 0) continue;
    ++erased;
    const index_t h = y1 - y0 + 1, w = x1 - x0 + 1;
    CHECK(count == h * w);  // a full rectangle
    CHECK(h < H);
    CHECK(w < W);
    // h and w are rounded from sqrt(a r) and sqrt(a / r) with r in [0.3, 3.3]: the area is
    // within rounding of [0.02, 0.33] H W.
    const double area = static_cast<double>(H * W), slack = 0.5 * (h + w) + 0.25;
    CHECK(static_cast<double>(count) >= 0.02 * area - slack);
    CHECK(static_cast<double>(count) <= 0.33 * area + slack);
  }
  CHECK(erased > 180);  // ten tries almost always fit

  const RandomErasing never{.channels = C, .height = H, .width = W, .p = 0.0};
  CHECK(same(never(x, g), x));
  const RandomErasing fill{.channels = C, .height = H, .width = W, .p = 1.0, .value = -5.0};
  const auto y = fill(x, g);
  CHECK(std::count(y.data(), y.data() + y.numel(), -5.0f) > 0);
}

TEST_CASE("ColorJitter and noise") {
  const auto x = random_row(100, 8);
  Generator g(9);
  // Off is the identity.
  CHECK(same(ColorJitter{.brightness = 0, .contrast = 0}(x, g), x));
  CHECK(same(GaussianNoise{.std = 0}(x, g), x));
  // Multiplicative brightness alone scales every value by one factor in [0.5, 1.5].
  const auto b = ColorJitter{.brightness = 0.5, .contrast = 0}(x, g);
  const double f = b.data()[0] / x.data()[0];
  CHECK(f >= 0.5);
  CHECK(f <= 1.5);
  for (index_t i = 0; i < 100; ++i) CHECK(b.data()[i] == doctest::Approx(f * x.data()[i]));
  // Contrast alone keeps the mean.
  const auto c = ColorJitter{.brightness = 0, .contrast = 0.8}(x, g);
  double mx = 0, mc = 0;
  for (index_t i = 0; i < 100; ++i) mx += x.data()[i], mc += c.data()[i];
  CHECK(mc == doctest::Approx(mx).epsilon(1e-5));
  // Noise has about the requested standard deviation.
  const auto big = Tensor<double, 1>::zeros(Shape<1>{20000});
  const auto n = GaussianNoise{.std = 0.5}(big, g);
  double s1 = 0, s2 = 0;
  for (index_t i = 0; i < n.numel(); ++i) s1 += n.data()[i], s2 += n.data()[i] * n.data()[i];
  CHECK(std::abs(s1 / 20000) < 0.02);
  CHECK(std::sqrt(s2 / 20000) == doctest::Approx(0.5).epsilon(0.03));
}

TEST_CASE("signal augmenters") {
  const index_t C = 3, L = 40;
  const auto x = random_row(C * L, 10);
  Generator g(11);
  SUBCASE("SignalScaling multiplies each channel by one factor") {
    for (int k = 0; k < 10; ++k) {
      const auto y = SignalScaling{.channels = C, .std = 0.3}(x, g);
      std::set<float> factors;
      for (index_t c = 0; c < C; ++c) {
        const double f = y.data()[c * L] / x.data()[c * L];
        for (index_t t = 0; t < L; ++t)
          CHECK(y.data()[c * L + t] == doctest::Approx(f * x.data()[c * L + t]).epsilon(1e-5));
        factors.insert(static_cast<float>(f));
      }
      CHECK(factors.size() == static_cast<std::size_t>(C));  // one factor per channel
    }
  }
  SUBCASE("SignalMasking sets one contiguous span of round(fraction L) in every channel") {
    for (double fraction : {0.0, 0.1, 0.25, 0.5, 1.0}) {
      const auto m = static_cast<index_t>(std::llround(fraction * L));
      for (int k = 0; k < 20; ++k) {
        const auto y = SignalMasking{.channels = C, .fraction = fraction}(x, g);
        index_t first = -1, count = 0;
        for (index_t t = 0; t < L; ++t)
          if (y.data()[t] == 0.0f) first = first < 0 ? t : first, ++count;
        REQUIRE(count == m);
        for (index_t c = 0; c < C; ++c)
          for (index_t t = 0; t < L; ++t) {
            const index_t i = c * L + t;
            const bool in = count > 0 && t >= first && t < first + m;
            CHECK(y.data()[i] == (in ? 0.0f : x.data()[i]));
          }
      }
    }
    const auto v = SignalMasking{.channels = C, .fraction = 0.5, .value = 7.0}(x, g);
    CHECK(std::count(v.data(), v.data() + v.numel(), 7.0f) == C * L / 2);
  }
  SUBCASE("SignalCrop: min_fraction 1 is the identity; crops stay within each channel's range") {
    CHECK(same(SignalCrop{.channels = C, .length = L, .min_fraction = 1.0}(x, g), x));
    for (int k = 0; k < 20; ++k) {
      const auto y = SignalCrop{.channels = C, .length = L, .min_fraction = 0.3}(x, g);
      for (index_t c = 0; c < C; ++c) {
        const auto [lo, hi] = std::minmax_element(x.data() + c * L, x.data() + (c + 1) * L);
        for (index_t t = 0; t < L; ++t) {
          CHECK(y.data()[c * L + t] >= *lo);
          CHECK(y.data()[c * L + t] <= *hi);
        }
      }
    }
    // A linear ramp stays linear: the crop stretches [s, s + k - 1] over the length.
    const auto r = ramp(L);
    const auto y = SignalCrop{.channels = 1, .length = L, .min_fraction = 0.5}(r, g);
    const double step = y.data()[1] - y.data()[0];
    CHECK(step > 0.0);
    CHECK(step <= 1.0 + 1e-6);
    for (index_t t = 1; t < L; ++t)
      CHECK(y.data()[t] - y.data()[t - 1] == doctest::Approx(step).epsilon(1e-4));
  }
  SUBCASE("SignalJitter adds noise to every value") {
    const auto y = SignalJitter{.std = 0.1}(x, g);
    for (index_t i = 0; i < x.numel(); ++i) CHECK(y.data()[i] != x.data()[i]);
  }
}

TEST_CASE("ScarfCorruption replaces round(fraction F) features by values of their columns") {
  const index_t N = 30, F = 9;
  Generator g(12);
  const auto table = normal<float>({N, F}, g);
  for (double fraction : {0.0, 0.3, 0.6, 1.0}) {
    const ScarfCorruption scarf(table, fraction);
    CHECK(scarf.table().shares_storage(table));
    const auto k = static_cast<index_t>(std::llround(fraction * F));
    CHECK(scarf.corrupted() == k);
    for (int rep = 0; rep < 30; ++rep) {
      const auto x = Tensor<float, 1>::full(Shape<1>{F}, 100.0f);  // not in the table
      const auto y = scarf(x, g);
      index_t changed = 0;
      for (index_t f = 0; f < F; ++f) {
        if (y.data()[f] == x.data()[f]) continue;
        ++changed;
        bool in_column = false;
        for (index_t r = 0; r < N; ++r) in_column = in_column || table(r, f) == y.data()[f];
        CHECK(in_column);
      }
      CHECK(changed == k);  // exactly k, as 100 never occurs in the table
    }
  }
  // A strided (transposed) table works as well.
  const auto t = normal<float>({F, N}, g);
  const ScarfCorruption strided(t.t(), 1.0);
  const auto y = strided(Tensor<float, 1>::zeros(Shape<1>{F}), g);
  for (index_t f = 0; f < F; ++f) {
    bool in_column = false;
    for (index_t r = 0; r < N; ++r) in_column = in_column || t(f, r) == y.data()[f];
    CHECK(in_column);
  }
}

TEST_CASE("token augmenters") {
  using V = Vocabulary;
  // The defaults are Vocabulary's fixed ids.
  CHECK(TokenMasking{}.mask_id == V::mask);
  CHECK(TokenDeletion{}.pad_id == V::pad);
  // [CLS] a b c ... [SEP] [PAD] [PAD]
  std::vector<std::int64_t> v{V::cls};
  for (std::int64_t i = 0; i < 20; ++i) v.push_back(10 + i);
  v.push_back(V::sep);
  v.push_back(V::pad);
  v.push_back(V::pad);
  const auto ids = Tensor<std::int64_t, 1>::from(Shape<1>{static_cast<index_t>(v.size())}, v);
  Generator g(13);
  SUBCASE("TokenMasking masks only ordinary tokens") {
    CHECK(same(TokenMasking{.p = 0.0}(ids, g), ids));
    const auto all = TokenMasking{.p = 1.0}(ids, g);
    for (std::size_t i = 0; i < v.size(); ++i)
      CHECK(all.data()[i] == (v[i] >= 10 ? V::mask : v[i]));
    const auto some = TokenMasking{.p = 0.5}(ids, g);
    for (std::size_t i = 0; i < v.size(); ++i)
      CHECK((some.data()[i] == v[i] || (v[i] >= 10 && some.data()[i] == V::mask)));
  }
  SUBCASE("TokenDeletion keeps the order and pads at the end") {
    CHECK(same(TokenDeletion{.p = 0.0}(ids, g), ids));
    for (int k = 0; k < 20; ++k) {
      const auto y = TokenDeletion{.p = 0.4, .special_ids = {V::cls, V::sep}}(ids, g);
      REQUIRE(y.numel() == ids.numel());
      // The non-pad prefix is a subsequence of the input holding [CLS] and [SEP].
      index_t n = 0;
      while (n < y.numel() && y.data()[n] != V::pad) ++n;
      for (index_t i = n; i < y.numel(); ++i) CHECK(y.data()[i] == V::pad);
      CHECK(y.data()[0] == V::cls);
      CHECK(y.data()[n - 1] == V::sep);
      std::size_t j = 0;
      for (index_t i = 0; i < n; ++i) {
        while (j < v.size() && v[j] != y.data()[i]) ++j;
        CHECK(j < v.size());
        ++j;
      }
    }
    const auto none = TokenDeletion{.p = 1.0}(ids, g);
    CHECK(none.to_vector() == std::vector<std::int64_t>(v.size(), V::pad));
  }
}

TEST_CASE("Compose applies its steps in order, one draw each") {
  const auto x = ramp(6);
  auto add_one = [](const Tensor<float, 1>& t, Generator&) {
    auto o = t.clone();
    for (index_t i = 0; i < o.numel(); ++i) o.data()[i] += 1.0f;
    return o;
  };
  auto twice = [](const Tensor<float, 1>& t, Generator&) {
    auto o = t.clone();
    for (index_t i = 0; i < o.numel(); ++i) o.data()[i] *= 2.0f;
    return o;
  };
  Generator g(14);
  CHECK(Compose(add_one, twice)(x, g).to_vector() == std::vector<float>{4, 6, 8, 10, 12, 14});
  CHECK(compose(twice, add_one)(x, g).to_vector() == std::vector<float>{3, 5, 7, 9, 11, 13});
  CHECK(same(Compose<>()(x, g), x));

  const auto img = random_row(2 * 6 * 6, 15);
  const RandomResizedCrop crop{.channels = 2, .height = 6, .width = 6};
  const HorizontalFlip flip{.channels = 2, .height = 6, .width = 6};
  const GaussianNoise noise{.std = 0.1};
  Generator g1(16), g2(16);
  const auto a = compose(crop, flip, noise)(img, g1);
  const auto b = noise(flip(crop(img, g2), g2), g2);
  CHECK(same(a, b));
  CHECK(g1.offset() == 3);
}

TEST_CASE("augmenters reject bad options and sample sizes") {
  Generator g(17);
  const auto x = ramp(48);
  CHECK_THROWS_AS(RandomResizedCrop{}(x, g), config_error);  // sizes unset
  CHECK_THROWS_AS(
      (RandomResizedCrop{.channels = 3, .height = 4, .width = 4, .scale = {0.5, 0.2}}(x, g)),
      config_error);
  CHECK_THROWS_AS(
      (RandomResizedCrop{.channels = 3, .height = 4, .width = 4, .ratio = {0.0, 1.0}}(x, g)),
      config_error);
  CHECK_THROWS_AS((RandomResizedCrop{.channels = 3, .height = 5, .width = 4}(x, g)), shape_error);
  CHECK_THROWS_AS(
      (RandomResizedCrop{.channels = 3, .height = 4, .width = 4}(x.reshape({3, 2, 8}), g)),
      shape_error);
  CHECK_THROWS_AS((HorizontalFlip{.channels = 3, .height = 4, .width = 4, .p = 1.5}(x, g)),
                  config_error);
  CHECK_THROWS_AS(
      (RandomErasing{.channels = 3, .height = 4, .width = 4, .scale = {0.0, 0.3}}(x, g)),
      config_error);
  CHECK_THROWS_AS((ColorJitter{.brightness = -1}(x, g)), config_error);
  CHECK_THROWS_AS((GaussianNoise{.std = -0.1}(x, g)), config_error);
  CHECK_THROWS_AS((SignalCrop{.channels = 2, .length = 20, .min_fraction = 0.0}(x, g)),
                  config_error);
  CHECK_THROWS_AS((SignalCrop{.channels = 2, .length = 20}(x, g)), shape_error);
  CHECK_THROWS_AS((SignalScaling{.channels = 5}(x, g)), shape_error);
  CHECK_THROWS_AS((SignalMasking{.channels = 0}(x, g)), config_error);
  CHECK_THROWS_AS((SignalMasking{.fraction = 1.2}(x, g)), config_error);
  const auto table = Tensor<float, 2>::zeros(Shape<2>{4, 5});
  CHECK_THROWS_AS(ScarfCorruption<float>(table, 1.5), config_error);
  CHECK_THROWS_AS(ScarfCorruption<float>(Tensor<float, 2>::zeros(Shape<2>{0, 5})), shape_error);
  CHECK_THROWS_AS(ScarfCorruption<float>{table}(x, g), shape_error);
  const auto ids = Tensor<std::int64_t, 1>::zeros(Shape<1>{4});
  CHECK_THROWS_AS((TokenMasking{.p = -0.1}(ids, g)), config_error);
  CHECK_THROWS_AS((TokenDeletion{.p = 2.0}(ids, g)), config_error);
  // The message names the augmenter and the value.
  try {
    (void)HorizontalFlip{.channels = 3, .height = 4, .width = 4, .p = 1.5}(x, g);
  } catch (const config_error& e) {
    const std::string what = e.what();
    CHECK(what.find("HorizontalFlip") != std::string::npos);
    CHECK(what.find("1.5") != std::string::npos);
  }
}

namespace {

/// Every batch of a two-view loader, flattened (view 0, then view 1).
template <class Loader>
std::vector<std::vector<float>> two_view_stream(Loader& loader, int batches) {
  std::vector<std::vector<float>> out;
  for (int b = 0; b < batches; ++b) {
    const auto [v0, v1] = loader.next();
    auto row = v0.to_vector();
    const auto second = v1.to_vector();
    row.insert(row.end(), second.begin(), second.end());
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

TEST_CASE("MultiView: a DataLoader over two views is reproducible and the views differ") {
  const index_t N = 12, C = 1, H = 6, W = 6, B = 4;
  Generator g(18);
  const data::UnlabeledTensorDataset<float, 2> ds(uniform<float>({N, C * H * W}, g));
  const auto aug =
      compose(RandomResizedCrop{.channels = C, .height = H, .width = W},
              HorizontalFlip{.channels = C, .height = H, .width = W}, GaussianNoise{.std = 0.05});
  const auto views = multi_view(ds, aug);
  static_assert(data::Dataset<decltype(views)>);
  static_assert(std::is_same_v<data::sample_t<decltype(views)>,
                               std::pair<Tensor<float, 1>, Tensor<float, 1>>>);
  CHECK(views.size() == N);

  // get(i, g) is view 0 then view 1 from the same generator.
  Generator s1(19), s2(19);
  const auto [a0, a1] = views.get(3, s1);
  const auto x3 = ds.get(3);
  CHECK(same(a0, aug(x3, s2)));
  CHECK(same(a1, aug(x3, s2)));
  CHECK_FALSE(same(a0, a1));

  data::LoaderOptions opt;
  opt.batch_size = B;
  opt.seed = 20;
  opt.prefetch = true;
  data::DataLoader with(views, opt);
  opt.prefetch = false;
  data::DataLoader without(views, opt);
  const int batches = 7;  // over two epochs
  const auto p = two_view_stream(with, batches);
  const auto q = two_view_stream(without, batches);
  CHECK(p == q);

  data::DataLoader again(views, opt);
  const auto [v0, v1] = again.next();
  CHECK(v0.shape() == Shape<2>{B, C * H * W});
  CHECK(v1.shape() == Shape<2>{B, C * H * W});
  for (index_t b = 0; b < B; ++b)
    CHECK_FALSE(same(v0.select(0, b).clone(), v1.select(0, b).clone()));

  // Another seed gives other views.
  opt.seed = 21;
  data::DataLoader other(views, opt);
  CHECK(two_view_stream(other, 1)[0] != p[0]);
}

TEST_CASE("MultiView with three views collates into a tuple of batches") {
  Generator g(22);
  const data::UnlabeledTensorDataset<double, 2> ds(normal<double>({6, 20}, g));
  const auto three = multi_view<3>(ds, SignalJitter{.std = 0.1});
  static_assert(std::tuple_size_v<data::sample_t<decltype(three)>> == 3);
  data::LoaderOptions opt;
  opt.batch_size = 3;
  data::DataLoader loader(three, opt);
  const auto [a, b, c] = loader.next();
  CHECK(a.shape() == Shape<2>{3, 20});
  CHECK(c.shape() == Shape<2>{3, 20});
  CHECK_FALSE(same(a, b));
  CHECK_FALSE(same(b, c));
  // An owned (rvalue) dataset works too.
  const auto owned =
      multi_view(data::UnlabeledTensorDataset<double, 2>(ds.inputs()), SignalScaling{.std = 0.2});
  Generator s(23);
  CHECK(owned.get(0, s).first.numel() == 20);
  CHECK_THROWS_AS(owned.get(6, s), index_error);
}

TEST_CASE("MultiView with one augmentation per view (per_view): view i from the i-th, in order") {
  const index_t N = 8, C = 1, H = 6, W = 6;
  Generator g(24);
  const data::UnlabeledTensorDataset<float, 2> ds(uniform<float>({N, C * H * W}, g));
  const HorizontalFlip flip{.channels = C, .height = H, .width = W, .p = 1.0};
  const GaussianNoise noise{.std = 0.05};
  const RandomResizedCrop small{.channels = C, .height = H, .width = W, .scale = {0.1, 0.3}};

  // Three recipes: a tuple of three views, each drawn by its own recipe from one generator.
  const auto three = multi_view(ds, per_view(flip, noise, small));
  static_assert(std::is_same_v<data::sample_t<decltype(three)>,
                               std::tuple<Tensor<float, 1>, Tensor<float, 1>, Tensor<float, 1>>>);
  Generator s1(25), s2(25);
  const auto [a, b, c] = three.get(5, s1);
  const auto x5 = ds.get(5);
  CHECK(same(a, flip(x5, s2)));
  CHECK(same(b, noise(x5, s2)));
  CHECK(same(c, small(x5, s2)));
  CHECK_FALSE(same(a, b));

  // Two recipes give a pair (BYOL's asymmetric views), collated by the loader as usual.
  const auto two = multi_view(ds, per_view(flip, noise));
  static_assert(
      std::is_same_v<data::sample_t<decltype(two)>, std::pair<Tensor<float, 1>, Tensor<float, 1>>>);
  data::LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  data::DataLoader loader(two, opt);
  const auto [v0, v1] = loader.next();
  CHECK(v0.shape() == Shape<2>{4, C * H * W});
  Generator unused(0);
  for (index_t i = 0; i < 4; ++i)  // view 0 is the flip; with p = 1 it ignores its draw
    CHECK(same(v0.select(0, i).clone(), flip(ds.get(i), unused)));
  CHECK_FALSE(same(v0, v1));
  // A lambda is a recipe too.
  const auto doubled = multi_view(
      ds, per_view([](const Tensor<float, 1>& x, Generator&) { return x.clone(); },
                   [](const Tensor<float, 1>& x, Generator&) { return pretext::mul(x, 2.0f); }));
  Generator s3(26);
  const auto [p, q] = doubled.get(2, s3);
  CHECK(same(pretext::mul(p, 2.0f), q));
}
