// SPDX-License-Identifier: Apache-2.0
// Modality adapters: image patches (B, C H W) <-> (B, N, C p p), signal frames (B, C L) <->
// (B, N, C f), token ids (B, N) with a Vocabulary, tabular features (B, F) <-> (B, F, 1) and the
// FeatureTokenizer stem (B, F, 1) -> (B, F, D). Round trips, token order against patchify,
// prediction losses against hand computation, gradchecks in double, and error messages.
#include <pretext/modality/adapter.hpp>
#include <pretext/modality/image.hpp>
#include <pretext/modality/signal.hpp>
#include <pretext/modality/tabular.hpp>
#include <pretext/modality/text.hpp>
#include <pretext/testing/doctest.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "reference.hpp"

using namespace pretext;
using namespace pretext::modality;
using V2 = Var<double, 2>;
using V3 = Var<double, 3>;
using I2 = Tensor<std::int64_t, 2>;

namespace {

test::Leaves leaf{1200};

template <class T, int R>
bool same_values(const Tensor<T, R>& a, const Tensor<T, R>& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

std::vector<std::string> names_of(auto& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.name());
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---- the contract -----------------------------------------------------------------------------

static_assert(TokenAdapter<ImagePatches<float>> && ContinuousTokens<ImagePatches<float>> &&
              !DiscreteTokens<ImagePatches<float>>);
static_assert(TokenAdapter<ImagePatches<double>> && ContinuousTokens<ImagePatches<double>>);
static_assert(TokenAdapter<SignalFrames<float>> && ContinuousTokens<SignalFrames<float>> &&
              !DiscreteTokens<SignalFrames<float>>);
static_assert(TokenAdapter<TokenIds<float>> && DiscreteTokens<TokenIds<float>> &&
              !ContinuousTokens<TokenIds<float>>);
static_assert(TokenAdapter<TokenIds<double>> && DiscreteTokens<TokenIds<double>>);
static_assert(TokenAdapter<TabularFeatures<float>> && ContinuousTokens<TabularFeatures<float>> &&
              !DiscreteTokens<TabularFeatures<float>>);
static_assert(!TokenAdapter<int> && !TokenAdapter<Tensor<float, 2>> && !TokenAdapter<Vocabulary>);
static_assert(nn::module<FeatureTokenizer<float>>);

// ---- images -----------------------------------------------------------------------------------

TEST_CASE("ImagePatches: tokens follow patchify2d and invert exactly, from either rank") {
  const ImagePatches<double> img(2, 4, 6, 2);
  CHECK(img.grid_h() == 2);
  CHECK(img.grid_w() == 3);
  CHECK(img.num_tokens() == 6);
  CHECK(img.target_dim() == 8);
  const auto x4 = test::randn<double>({3, 2, 4, 6}, 11);
  const Tensor<double, 2> x2 = x4.reshape({3, 48}).clone();

  const auto t = img.tokens(x2);
  CHECK(t.shape() == Shape<3>{3, 6, 8});
  CHECK(same_values(t, patchify2d(Var<double, 4>(x4), 2).data().contiguous()));
  CHECK(same_values(img.tokens(x4), t));
  CHECK_FALSE(t.shares_storage(x2));
  CHECK(same_values(img.from_tokens(t), x2));
  CHECK(same_values(img.from_tokens(Var<double, 3>(t)).data().contiguous(), x2));
  // A transposed (non-contiguous) batch gives the same tokens as its contiguous copy.
  const Tensor<double, 2> xt = x2.t().clone().t();
  CHECK_FALSE(xt.is_contiguous());
  CHECK(same_values(img.tokens(xt), t));

  // Pixel (b 1, c 1, y 3, x 4): token (3/2) 3 + 4/2 = 5, column 1 * 4 + (3 % 2) 2 + 4 % 2 = 6.
  auto z = Tensor<double, 4>::zeros(Shape<4>{2, 2, 4, 6});
  z(1, 1, 3, 4) = 7.0;
  const auto tz = img.tokens(z);
  CHECK(tz(1, 5, 6) == 7.0);
  double total = 0;
  for (double v : tz.to_vector()) total += v;
  CHECK(total == 7.0);

  // Fashion-MNIST rows (B, 784) in 7 x 7 patches.
  const ImagePatches<float> fm(1, 28, 28, 7);
  CHECK(fm.num_tokens() == 16);
  CHECK(fm.target_dim() == 49);
  const auto rows = test::randn<float>({2, 784}, 3);
  CHECK(same_values(fm.from_tokens(fm.tokens(rows)), rows));
}

TEST_CASE("ImagePatches: errors name the shapes") {
  CHECK(contains(test::error_message<shape_error>([] { ImagePatches<float>(1, 28, 28, 5); }),
                 "does not divide into 5x5 patches"));
  CHECK(contains(test::error_message<config_error>([] { ImagePatches<float>(0, 28, 28, 7); }),
                 "must be positive"));
  const ImagePatches<float> fm(1, 28, 28, 7);
  const auto bad = test::randn<float>({2, 780});
  const auto msg = test::error_message<shape_error>([&] { (void)fm.tokens(bad); });
  CHECK(contains(msg, "[2, 780]"));
  CHECK(contains(msg, "784"));
  const auto bad4 = test::randn<float>({2, 3, 28, 28});
  CHECK(
      contains(test::error_message<shape_error>([&] { (void)fm.tokens(bad4); }), "[2, 3, 28, 28]"));
  const auto badt = test::randn<float>({2, 16, 48});
  CHECK(contains(test::error_message<shape_error>([&] { (void)fm.from_tokens(badt); }),
                 "(B, 16, 49)"));
}

// ---- signals ----------------------------------------------------------------------------------

TEST_CASE("SignalFrames: frames follow patchify1d and invert exactly") {
  const SignalFrames<double> sig(3, 12, 4);
  CHECK(sig.num_tokens() == 3);
  CHECK(sig.target_dim() == 12);
  const auto x3 = test::randn<double>({2, 3, 12}, 21);
  const Tensor<double, 2> x2 = x3.reshape({2, 36}).clone();
  const auto t = sig.tokens(x2);
  CHECK(t.shape() == Shape<3>{2, 3, 12});
  CHECK(same_values(t, patchify1d(Var<double, 3>(x3), 4).data().contiguous()));
  CHECK(same_values(sig.tokens(x3), t));
  CHECK(same_values(sig.from_tokens(t), x2));
  CHECK(same_values(sig.from_tokens(Var<double, 3>(t)).data().contiguous(), x2));
  // Sample (c 2, t 9) of row 1 is in frame 9 / 4 = 2, column 2 * 4 + 9 % 4 = 9.
  CHECK(t(1, 2, 9) == x3(1, 2, 9));
  CHECK(t(1, 2, 9) == x2(1, 2 * 12 + 9));
}

TEST_CASE("SignalFrames: errors") {
  const auto msg = test::error_message<shape_error>([] { SignalFrames<float>(1, 10, 4); });
  CHECK(contains(msg, "length 10 does not divide into frames of 4"));
  CHECK(contains(msg, "8 or 12"));
  const SignalFrames<float> sig(2, 8, 4);
  CHECK(contains(test::error_message<shape_error>([&] {
                   (void)sig.tokens(test::randn<float>({1, 15}));
                 }),
                 "C*L = 2*8 = 16"));
}

// ---- continuous losses ------------------------------------------------------------------------

TEST_CASE("continuous prediction_loss against hand computation") {
  // One 1 x 2 x 4 image in 2 x 2 patches: tokens [1 2 5 6] and [3 4 7 8].
  ImagePatches<double> img(1, 2, 4, 2);
  const auto x = Tensor<double, 2>::from(Shape<2>{1, 8}, {1, 2, 3, 4, 5, 6, 7, 8});
  const auto tok = img.tokens(x);
  CHECK(tok.to_vector() == std::vector<double>{1, 2, 5, 6, 3, 4, 7, 8});
  const auto idx = I2::from(Shape<2>{1, 2}, {1, 0});  // predict token 1, then token 0
  const Var<double, 3> pred(Tensor<double, 3>::from(Shape<3>{1, 2, 4}, {3, 4, 7, 9, 0, 2, 5, 6}));
  // Differences: (0 0 0 1) and (-1 0 0 0): 2 / 8.
  CHECK(img.prediction_loss(pred, tok, idx).item() == doctest::Approx(2.0 / 8.0));

  img.normalize_targets = true;
  // Token [3 4 7 8]: mean 5.5, unbiased var (6.25 + 2.25 + 2.25 + 6.25) / 3 = 17 / 3.
  // Token [1 2 5 6]: mean 3.5, var (6.25 + 2.25 + 2.25 + 6.25) / 3 = 17 / 3 too.
  const double s = std::sqrt(17.0 / 3.0 + 1e-6);
  const std::vector<double> target{-2.5 / s, -1.5 / s, 1.5 / s, 2.5 / s,
                                   -2.5 / s, -1.5 / s, 1.5 / s, 2.5 / s};
  const std::vector<double> p{3, 4, 7, 9, 0, 2, 5, 6};
  double expected = 0;
  for (int i = 0; i < 8; ++i) expected += (p[i] - target[i]) * (p[i] - target[i]) / 8;
  CHECK(img.prediction_loss(pred, tok, idx).item() == doctest::Approx(expected).epsilon(1e-12));

  // Signals: 1 channel of 4 samples in frames of 2; predict frame 1 of sample 0 and frame 0 of
  // sample 1.
  const SignalFrames<double> sig(1, 4, 2);
  const auto stok = sig.tokens(Tensor<double, 2>::from(Shape<2>{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}));
  const auto sidx = I2::from(Shape<2>{2, 1}, {1, 0});
  const Var<double, 3> spred(Tensor<double, 3>::from(Shape<3>{2, 1, 2}, {3, 5, 5, 8}));
  // Targets (3 4) and (5 6): differences (0 1) and (0 2): 5 / 4.
  CHECK(sig.prediction_loss(spred, stok, sidx).item() == doctest::Approx(5.0 / 4.0));

  // Tabular: 2 numeric features and one categorical column of 3 (codes used as numbers).
  const TabularFeatures<double> tab(2, {3});
  const auto ttok = tab.tokens(Tensor<double, 2>::from(Shape<2>{2, 3}, {0.5, -1, 2, 1.5, 3, 0}));
  CHECK(ttok.shape() == Shape<3>{2, 3, 1});
  const auto tidx = I2::from(Shape<2>{2, 2}, {0, 2, 1, 2});
  const Var<double, 3> tpred(Tensor<double, 3>::from(Shape<3>{2, 2, 1}, {1.5, 2, 2, -1}));
  // Targets 0.5, 2 | 3, 0: differences 1, 0, -1, -1: 3 / 4.
  CHECK(tab.prediction_loss(tpred, ttok, tidx).item() == doctest::Approx(3.0 / 4.0));
}

TEST_CASE("continuous prediction_loss: empty selections and errors") {
  const ImagePatches<double> img(1, 4, 4, 2);
  const auto tok = img.tokens(test::randn<double>({2, 16}));
  const auto none = I2::zeros(Shape<2>{2, 0});
  const V3 pred0(Tensor<double, 3>::zeros(Shape<3>{2, 0, 4}), true);
  const auto l0 = img.prediction_loss(pred0, tok, none);
  CHECK(l0.item() == 0.0);

  const V3 pred(Tensor<double, 3>::zeros(Shape<3>{2, 1, 4}));
  const auto far = I2::from(Shape<2>{2, 1}, {0, 4});
  const auto msg = test::error_message<index_error>([&] { img.prediction_loss(pred, tok, far); });
  CHECK(contains(msg, "position 4 at (1, 0)"));
  CHECK(contains(msg, "[0, 4)"));
  const V3 wide(Tensor<double, 3>::zeros(Shape<3>{2, 1, 5}));
  const auto ok = I2::zeros(Shape<2>{2, 1});
  CHECK(contains(test::error_message<shape_error>([&] { img.prediction_loss(wide, tok, ok); }),
                 "expected (2, 1, 4)"));
  const auto one_row = I2::zeros(Shape<2>{1, 1});
  CHECK(
      contains(test::error_message<shape_error>([&] {
                 img.prediction_loss(V3(Tensor<double, 3>::zeros(Shape<3>{1, 1, 4})), tok, one_row);
               }),
               "one row of positions per sample"));
  TabularFeatures<double> tab(3);
  tab.normalize_targets = true;
  CHECK(contains(test::error_message<config_error>([&] {
                   tab.prediction_loss(V3(Tensor<double, 3>::zeros(Shape<3>{1, 1, 1})),
                                       tab.tokens(test::randn<double>({1, 3})),
                                       I2::zeros(Shape<2>{1, 1}));
                 }),
                 "normalize_targets"));
}

TEST_CASE("gradcheck: continuous prediction losses with respect to the predictions") {
  ImagePatches<double> img(2, 4, 6, 2);
  const auto tok = img.tokens(test::randn<double>({2, 48}, 31));
  const auto idx = I2::from(Shape<2>{2, 3}, {5, 0, 2, 1, 1, 4});  // a repeat in row 1
  const auto p = leaf({2, 3, 8});
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return img.prediction_loss(q, tok, idx); },
                          std::tuple{p});
  img.normalize_targets = true;
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return img.prediction_loss(q, tok, idx); },
                          std::tuple{p});
  // And through the differentiable inverse: pixels from predicted patches.
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return img.from_tokens(q); },
                          std::tuple{leaf({2, 6, 8})});

  const SignalFrames<double> sig(2, 9, 3);
  const auto stok = sig.tokens(test::randn<double>({3, 18}, 32));
  const auto sidx = I2::from(Shape<2>{3, 2}, {0, 2, 1, 1, 2, 0});
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return sig.prediction_loss(q, stok, sidx); },
                          std::tuple{leaf({3, 2, 6})});
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return sig.from_tokens(q); },
                          std::tuple{leaf({3, 3, 6})});

  const TabularFeatures<double> tab(2, {3, 2});
  const auto ttok =
      tab.tokens(Tensor<double, 2>::from(Shape<2>{2, 4}, {0.3, -1.2, 2, 1, 0.7, 0.1, 0, 0}));
  const auto tidx = I2::from(Shape<2>{2, 3}, {0, 2, 3, 1, 3, 0});
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return tab.prediction_loss(q, ttok, tidx); },
                          std::tuple{leaf({2, 3, 1})});
}

// ---- ids --------------------------------------------------------------------------------------

TEST_CASE("TokenIds: validation, and cross-entropy skipping padding against hand computation") {
  const TokenIds<double> ids(4, 3, 0);
  CHECK(ids.num_tokens() == 3);
  CHECK(ids.target_dim() == 4);
  const auto x = I2::from(Shape<2>{1, 3}, {2, 0, 3});
  const auto tok = ids.tokens(x);
  CHECK(same_values(tok, x));
  CHECK_FALSE(tok.shares_storage(x));

  const auto idx = I2::from(Shape<2>{1, 3}, {0, 1, 2});    // position 1 holds padding
  const std::vector<double> logits{0.1,  -0.3, 0.8,  0.2,  //
                                   5.0,  1.0,  -2.0, 0.0,  //
                                   -0.5, 0.4,  0.0,  1.1};
  const Var<double, 3> pred(Tensor<double, 3>::from(Shape<3>{1, 3, 4}, logits));
  auto nll = [&](int row, int cls) {
    double z = 0;
    for (int c = 0; c < 4; ++c) z += std::exp(logits[row * 4 + c]);
    return std::log(z) - logits[row * 4 + cls];
  };
  const double expected = (nll(0, 2) + nll(2, 3)) / 2;
  CHECK(ids.prediction_loss(pred, tok, idx).item() == doctest::Approx(expected).epsilon(1e-12));
  // Changing the logits at the padded position changes nothing.
  auto moved = logits;
  for (int c = 4; c < 8; ++c) moved[c] *= -3;
  CHECK(ids.prediction_loss(Var<double, 3>(Tensor<double, 3>::from(Shape<3>{1, 3, 4}, moved)), tok,
                            idx)
            .item() == doctest::Approx(expected).epsilon(1e-12));
  // Only padding selected: 0, not NaN.
  const auto pad_only = I2::from(Shape<2>{1, 1}, {1});
  const V3 p1(Tensor<double, 3>::zeros(Shape<3>{1, 1, 4}), true);
  const auto l = ids.prediction_loss(p1, tok, pad_only);
  CHECK(l.item() == 0.0);
  l.backward();
  // Without a padding id every position counts.
  const TokenIds<double> nopad(4, -1, -1);
  CHECK(nopad.prediction_loss(pred, tok, idx).item() ==
        doctest::Approx((nll(0, 2) + nll(1, 0) + nll(2, 3)) / 3).epsilon(1e-12));

  const auto bad = I2::from(Shape<2>{2, 3}, {1, 2, 3, 0, 9, 1});
  const auto msg = test::error_message<index_error>([&] { (void)ids.tokens(bad); });
  CHECK(contains(msg, "id 9 at (1, 1)"));
  CHECK(contains(msg, "[0, 4)"));
  CHECK(contains(test::error_message<shape_error>([&] {
                   (void)ids.tokens(I2::zeros(Shape<2>{2, 5}));
                 }),
                 "are not sequences of 3"));
  CHECK(contains(test::error_message<config_error>([] { TokenIds<float>(4, 3, 4); }), "pad_id 4"));
}

TEST_CASE("gradcheck: id prediction loss with a padding position") {
  const TokenIds<double> ids(5, 4, 0);
  const auto tok = ids.tokens(I2::from(Shape<2>{2, 4}, {3, 0, 1, 4, 2, 2, 0, 0}));
  const auto idx = I2::from(Shape<2>{2, 3}, {0, 1, 3, 1, 0, 2});
  PRETEXT_CHECK_GRADIENTS([&](const V3& q) { return ids.prediction_loss(q, tok, idx); },
                          std::tuple{leaf({2, 3, 5})});
}

// ---- vocabulary -------------------------------------------------------------------------------

TEST_CASE("Vocabulary: specials, frequency order, round trips, unknowns, batches") {
  const auto v = Vocabulary::from_text({"abba", "cab"});
  CHECK(v.size() == 8);
  CHECK(v.pad_id() == 0);
  CHECK(v.unk_id() == 1);
  CHECK(v.mask_id() == 2);
  CHECK(v.cls_id() == 3);
  CHECK(v.sep_id() == 4);
  CHECK(v.special_ids() == std::array<std::int64_t, 5>{0, 1, 2, 3, 4});
  CHECK(v.token(0) == "[PAD]");
  CHECK(v.token(2) == "[MASK]");
  // a and b occur 3 times (tie: byte order), c once.
  CHECK(v.id("a") == 5);
  CHECK(v.id("b") == 6);
  CHECK(v.id("c") == 7);
  CHECK(v.encode("cabba") == std::vector<std::int64_t>{7, 5, 6, 6, 5});
  CHECK(v.decode(v.encode("cabba")) == "cabba");
  CHECK(v.encode("azb") == std::vector<std::int64_t>{5, 1, 6});
  CHECK(v.decode(v.encode("azb")) == "a[UNK]b");
  CHECK(v.decode(std::vector<std::int64_t>{3, 5, 0, 0}, true) == "a");

  const auto batch = v.encode_batch({"ab", "cabbac", ""}, 4, true);
  CHECK(batch.shape() == Shape<2>{3, 4});
  CHECK(batch.to_vector() == std::vector<std::int64_t>{3, 5, 6, 0,  //
                                                       3, 7, 5, 6,  //
                                                       3, 0, 0, 0});
  CHECK(v.decode(batch.select(0, 0), true) == "ab");
  CHECK(v.encode_batch({"abc"}, 2).to_vector() == std::vector<std::int64_t>{5, 6});
  CHECK(contains(test::error_message<index_error>([&] { (void)v.token(8); }), "id 8"));

  // min_count and max_size.
  CHECK(Vocabulary::from_text({"abba", "cab"}, TextLevel::characters, 2).size() == 7);
  CHECK(Vocabulary::from_text({"abba", "cab"}, TextLevel::characters, 1, 6).size() == 6);

  // UTF-8 characters are single tokens.
  const auto u = Vocabulary::from_text({"héllo wörld"});
  CHECK(Vocabulary::split("héllo", TextLevel::characters).size() == 5);
  CHECK(u.decode(u.encode("wörld héllo")) == "wörld héllo");
  CHECK(u.id("é") > 4);

  // Words.
  const auto w =
      Vocabulary::from_text({"the cat sat", " the  dog\tsat\n", "a cat"}, TextLevel::words);
  // cat, sat and the occur twice (byte order among them), then a and dog once.
  CHECK(w.id("cat") == 5);
  CHECK(w.id("sat") == 6);
  CHECK(w.id("the") == 7);
  CHECK(w.encode("the cat ate") == std::vector<std::int64_t>{7, 5, 1});
  CHECK(w.decode(w.encode("the  dog sat")) == "the dog sat");
  CHECK(w.id("[MASK]") == 2);

  // An explicit token list.
  const Vocabulary given({"x", "yy"}, TextLevel::words);
  CHECK(given.size() == 7);
  CHECK(given.encode("yy x q") == std::vector<std::int64_t>{6, 5, 1});
  CHECK(contains(test::error_message<config_error>([] {
                   Vocabulary({"x", "x"}, TextLevel::words);
                 }),
                 "given twice"));

  // The adapter from a vocabulary.
  const TokenIds<float> adapter(v, 4);
  CHECK(adapter.vocab_size() == 8);
  CHECK(adapter.pad_id() == 0);
  CHECK(same_values(adapter.tokens(batch), batch));
}

// ---- tabular ----------------------------------------------------------------------------------

TEST_CASE("TabularFeatures: tokens, inverse and code validation") {
  const TabularFeatures<float> tab(2, {3, 2});
  CHECK(tab.num_tokens() == 4);
  CHECK(tab.target_dim() == 1);
  CHECK(tab.is_categorical(2));
  CHECK_FALSE(tab.is_categorical(1));
  const auto x = Tensor<float, 2>::from(Shape<2>{2, 4}, {0.5f, -1, 2, 1, 3, 0.25f, 0, 0});
  const auto t = tab.tokens(x);
  CHECK(t.shape() == Shape<3>{2, 4, 1});
  CHECK(same_values(tab.from_tokens(t), x));
  const auto bad = Tensor<float, 2>::from(Shape<2>{2, 4}, {0.5f, -1, 2, 1, 3, 0.25f, 1.5f, 0});
  const auto msg = test::error_message<index_error>([&] { (void)tab.tokens(bad); });
  CHECK(contains(msg, "row 1 holds 1.5 in categorical column 0 (feature 2)"));
  CHECK(contains(test::error_message<shape_error>([&] {
                   (void)tab.tokens(test::randn<float>({2, 5}));
                 }),
                 "2 numeric, then 2 categorical"));
  CHECK(contains(test::error_message<config_error>([] {
                   TabularFeatures<float>(1, {3, 0});
                 }),
                 "cardinality 0"));
}

TEST_CASE("FeatureTokenizer: names, values by hand, and gradients in its parameters") {
  Generator g(5);
  const TabularFeatures<double> tab(2, {3, 2});
  FeatureTokenizer<double> ft(tab, 4, g);
  CHECK(names_of(ft) == std::vector<std::string>{"numeric.weight", "numeric.bias",
                                                 "categorical.weight", "categorical.bias"});
  CHECK(ft.numeric.weight.shape() == Shape<2>{2, 4});
  CHECK(ft.categorical.weight.shape() == Shape<2>{5, 4});
  CHECK(ft.categorical.bias.shape() == Shape<2>{2, 4});
  CHECK(ft.num_parameters() == 8 + 8 + 20 + 8);

  const auto tok =
      tab.tokens(Tensor<double, 2>::from(Shape<2>{2, 4}, {0.5, -1.5, 2, 1, 3, 0.25, 0, 0}));
  const auto y = ft(tok).data();
  CHECK(y.shape() == Shape<3>{2, 4, 4});
  const auto& wn = ft.numeric.weight.data();
  const auto& bn = ft.numeric.bias.data();
  const auto& wc = ft.categorical.weight.data();
  const auto& bc = ft.categorical.bias.data();
  for (index_t d = 0; d < 4; ++d) {
    CHECK(y(0, 0, d) == doctest::Approx(0.5 * wn(0, d) + bn(0, d)));
    CHECK(y(1, 1, d) == doctest::Approx(0.25 * wn(1, d) + bn(1, d)));
    CHECK(y(0, 2, d) == doctest::Approx(wc(2, d) + bc(0, d)));      // column 0, code 2
    CHECK(y(0, 3, d) == doctest::Approx(wc(3 + 1, d) + bc(1, d)));  // column 1 (offset 3), code 1
    CHECK(y(1, 2, d) == doctest::Approx(wc(0, d) + bc(0, d)));
    CHECK(y(1, 3, d) == doctest::Approx(wc(3, d) + bc(1, d)));
  }
  CHECK(same_values(ft(tab.from_tokens(tok)).data(), y));

  auto check_params = [&](FeatureTokenizer<double>& m, const Tensor<double, 3>& t) {
    auto params = m.named_parameters();
    REQUIRE(!params.empty());
    // Every parameter is a leaf the module reads directly, so perturbing the tuple's copies
    // (which share storage) perturbs the module.
    if (params.size() == 4)
      PRETEXT_CHECK_GRADIENTS(
          [&](const V2&, const V2&, const V2&, const V2&) { return m(t); },
          std::tuple{m.numeric.weight, m.numeric.bias, m.categorical.weight, m.categorical.bias});
    else if (m.num_numeric() > 0)
      PRETEXT_CHECK_GRADIENTS([&](const V2&, const V2&) { return m(t); },
                              std::tuple{m.numeric.weight, m.numeric.bias});
    else
      PRETEXT_CHECK_GRADIENTS([&](const V2&, const V2&) { return m(t); },
                              std::tuple{m.categorical.weight, m.categorical.bias});
  };
  check_params(ft, tok);

  const TabularFeatures<double> num_only(3);
  FeatureTokenizer<double> fn(num_only, 3, g);
  CHECK(names_of(fn) == std::vector<std::string>{"numeric.weight", "numeric.bias"});
  check_params(fn, num_only.tokens(test::randn<double>({2, 3}, 41)));

  const TabularFeatures<double> cat_only(0, {2, 4});
  FeatureTokenizer<double> fc(cat_only, 3, g);
  CHECK(names_of(fc) == std::vector<std::string>{"categorical.weight", "categorical.bias"});
  check_params(fc, cat_only.tokens(Tensor<double, 2>::from(Shape<2>{3, 2}, {1, 3, 0, 0, 1, 2})));

  CHECK(contains(test::error_message<shape_error>([&] {
                   (void)ft(test::randn<double>({2, 3, 1}));
                 }),
                 "(B, 4, 1)"));
}

// ---- stems ------------------------------------------------------------------------------------

TEST_CASE("stems: Linear embeds (B, N, P) tokens, Embedding embeds ids") {
  Generator g(3);
  const ImagePatches<float> img(1, 8, 8, 4);
  const auto tok = img.tokens(test::randn<float>({2, 64}));
  nn::Linear<nn::dynamic, nn::dynamic> stem(img.target_dim(), 6, g);
  const auto e = stem(Var<float, 3>(tok));
  CHECK(e.shape() == Shape<3>{2, 4, 6});
  const TokenIds<float> ids(10, 5);
  nn::Embedding<nn::dynamic, nn::dynamic> emb(ids.target_dim(), 6, g, ids.pad_id());
  CHECK(emb(ids.tokens(I2::zeros(Shape<2>{2, 5}))).shape() == Shape<3>{2, 5, 6});
}
