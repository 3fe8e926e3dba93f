// SPDX-License-Identifier: Apache-2.0
// data/: datasets and adaptors, collation, the DataLoader (reproducible across prefetching and
// thread counts, exact resume by seek, epoch sizes, shuffling, worker errors), class-balanced
// label fractions, train/val splits and take_rows.
#include <doctest/doctest.h>

#include <pretext/data.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace pretext;
using data::DataLoader;
using data::LoaderOptions;
using data::LoaderPosition;

namespace {

/// Sample i: a (3, W) tensor whose row 0 is i and rows 1-2 come from the sample's generator,
/// plus the label i. W is large enough that the uniform draw splits over threads when it can.
struct NoisyRows {
  index_t n = 13;
  index_t width = 17000;  // 2 x 17000 uniforms: just over the 1 << 14 grain of one chunk
  index_t size() const { return n; }
  std::pair<Tensor<float, 2>, std::int64_t> get(index_t i, Generator& g) const {
    Tensor<float, 2> x(Shape<2>{3, width});
    x.select(0, 0).fill_(static_cast<float>(i));
    uniform_(x.narrow(0, 1, 2), g);
    return {x, i};
  }
};

/// A dataset without generator: sample i is i (a scalar).
struct Plain {
  index_t n = 10;
  index_t size() const { return n; }
  std::int64_t get(index_t i) const { return i; }
};

/// Throws on sample 5.
struct Faulty {
  index_t size() const { return 8; }
  std::int64_t get(index_t i) const {
    if (i == 5) throw std::runtime_error("sample 5 is unreadable");
    return i;
  }
};

/// Every batch in order, flattened: inputs then labels, for exact comparison.
template <class Loader>
std::vector<std::vector<double>> stream(Loader& loader, int batches) {
  std::vector<std::vector<double>> out;
  for (int b = 0; b < batches; ++b) {
    const auto [x, y] = loader.next();
    const auto xv = x.to_vector();
    std::vector<double> v(xv.begin(), xv.end());
    for (auto l : y.to_vector()) v.push_back(static_cast<double>(l));
    out.push_back(std::move(v));
  }
  return out;
}

/// Adds normal noise from the sample's generator: an augmentation on top of the dataset's own.
auto jitter = [](std::pair<Tensor<float, 2>, std::int64_t> s, Generator& g) {
  auto noise = normal<float>({s.first.size(0), s.first.size(1)}, g, 0.0f, 0.1f);
  float* p = s.first.data();
  for (index_t k = 0; k < s.first.numel(); ++k) p[k] += noise.data()[k];
  return s;
};

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("mix_seed is deterministic, order-sensitive and spreads neighbouring keys") {
  CHECK(data::mix_seed(1, 2, 3) == data::mix_seed(1, 2, 3));
  CHECK(data::mix_seed(1, 2, 3) != data::mix_seed(1, 3, 2));
  CHECK(data::mix_seed(1, 2) != data::mix_seed(1, 2, 0));
  std::set<std::uint64_t> seen;
  for (std::uint64_t e = 0; e < 4; ++e)
    for (std::uint64_t i = 0; i < 1000; ++i) seen.insert(data::mix_seed(0, e, i));
  CHECK(seen.size() == 4000);
  static_assert(data::splitmix64(0) == 0xE220A8397B1DCDAFull);  // the published first output
}

TEST_CASE("datasets: the concept, TensorDataset copies rows, Subset and map compose") {
  static_assert(data::Dataset<NoisyRows>);
  static_assert(data::Dataset<Plain>);
  static_assert(!data::Dataset<int>);
  static_assert(std::is_same_v<data::sample_t<Plain>, std::int64_t>);

  auto x = Tensor<float, 2>::from({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto y = Tensor<std::int64_t, 1>::from({4}, {9, 8, 7, 6});
  const data::TensorDataset ds(x, y);
  static_assert(
      std::is_same_v<data::sample_t<decltype(ds)>, std::pair<Tensor<float, 1>, std::int64_t>>);
  CHECK(ds.size() == 4);
  auto [row, label] = ds.get(2);
  CHECK(row.to_vector() == std::vector<float>{4, 5});
  CHECK(label == 7);
  row.fill_(-1);  // a copy: the dataset is untouched
  CHECK(x(2, 0) == 4);
  CHECK_THROWS_AS(ds.get(4), index_error);
  CHECK_THROWS_WITH_AS(data::TensorDataset(x, Tensor<std::int64_t, 1>::zeros({3})),
                       doctest::Contains("pretext::data::TensorDataset"), shape_error);

  const data::UnlabeledTensorDataset un(x);
  CHECK(un.get(3).to_vector() == std::vector<float>{6, 7});

  // Subset of an lvalue keeps a reference; of an rvalue owns a copy.
  const auto sub = data::subset(ds, Tensor<std::int64_t, 1>::from({3}, {3, 0, 3}));
  static_assert(
      std::is_same_v<decltype(sub), const data::Subset<const data::TensorDataset<float, 2>&>>);
  CHECK(&sub.dataset() == &ds);
  Generator g(0);
  CHECK(sub.size() == 3);
  CHECK(sub.get(0, g).second == 6);
  CHECK(sub.get(1, g).second == 9);
  CHECK_THROWS_WITH_AS(data::subset(Plain{}, Tensor<std::int64_t, 1>::from({2}, {0, 10})),
                       doctest::Contains("pretext::data::Subset: index 10"), index_error);

  // map with and without the generator; the transform may change the sample type.
  const auto doubled =
      data::map(Plain{}, [](std::int64_t v) { return 2.0 * static_cast<double>(v); });
  static_assert(std::is_same_v<data::sample_t<decltype(doubled)>, double>);
  CHECK(doubled.get(4, g) == 8.0);
  const auto noisy = data::map(
      data::subset(Plain{}, Tensor<std::int64_t, 1>::from({1}, {7})),
      [](std::int64_t v, Generator& gen) { return std::make_tuple(v, uniform<float>({2}, gen)); });
  Generator g1(5), g2(5);
  const auto a = noisy.get(0, g1), b = noisy.get(0, g2);
  CHECK(std::get<0>(a) == 7);
  CHECK(std::get<1>(a).to_vector() == std::get<1>(b).to_vector());
}

TEST_CASE("collate stacks tensors, scalars, pairs and tuples") {
  using S = std::tuple<Tensor<float, 1>, std::int64_t, std::pair<double, Tensor<std::int32_t, 0>>>;
  std::vector<S> samples;
  for (int i = 0; i < 3; ++i)
    samples.emplace_back(Tensor<float, 1>::full({2}, static_cast<float>(i)).slice(0, 0, 2, 1), i,
                         std::pair{0.5 * i, scalar_tensor<std::int32_t>(10 + i)});
  const auto [x, y, p] = data::collate(samples);
  CHECK(x.shape() == Shape<2>{3, 2});
  CHECK(x.to_vector() == std::vector<float>{0, 0, 1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<std::int64_t>{0, 1, 2});
  CHECK(p.first.to_vector() == std::vector<double>{0, 0.5, 1});
  CHECK(p.second.to_vector() == std::vector<std::int32_t>{10, 11, 12});

  // A strided sample (a column of a matrix) stacks by value.
  const auto m = Tensor<float, 2>::from({2, 2}, {1, 2, 3, 4});
  const std::vector<Tensor<float, 1>> cols{m.select(1, 0), m.select(1, 1)};
  CHECK(data::collate(cols).to_vector() == std::vector<float>{1, 3, 2, 4});

  // Mismatched shapes name the op, both shapes, both positions and the tuple element.
  std::vector<std::pair<std::int64_t, Tensor<float, 2>>> bad{
      {0, zeros<float>({2, 3})}, {1, zeros<float>({2, 3})}, {2, zeros<float>({2, 4})}};
  const auto msg = message_of<shape_error>([&] { (void)data::collate(bad); });
  CHECK(msg.find("pretext::data::collate") != std::string::npos);
  CHECK(msg.find("sample 0 has shape [2, 3]") != std::string::npos);
  CHECK(msg.find("sample 2 has shape [2, 4]") != std::string::npos);
  CHECK(msg.find("element 1") != std::string::npos);
  CHECK_THROWS_AS((void)data::collate(std::vector<Tensor<float, 1>>{}), shape_error);
}

namespace custom {
struct Tokens {
  std::vector<std::int64_t> ids;
};
/// Pads to the longest sequence with -1: (B, L).
Tensor<std::int64_t, 2> collate_batch(std::span<const Tokens> batch) {
  std::size_t len = 0;
  for (const auto& t : batch) len = std::max(len, t.ids.size());
  auto out =
      full<std::int64_t>({static_cast<index_t>(batch.size()), static_cast<index_t>(len)}, -1);
  for (std::size_t b = 0; b < batch.size(); ++b)
    for (std::size_t j = 0; j < batch[b].ids.size(); ++j)
      out(static_cast<index_t>(b), static_cast<index_t>(j)) = batch[b].ids[j];
  return out;
}
}  // namespace custom

TEST_CASE("a user's collate_batch, found by argument-dependent lookup, collates its type") {
  const std::vector<std::pair<custom::Tokens, std::int64_t>> samples{{{{1, 2, 3}}, 0}, {{{4}}, 1}};
  const auto [ids, labels] = data::collate(samples);
  CHECK(ids.to_vector() == std::vector<std::int64_t>{1, 2, 3, 4, -1, -1});
  CHECK(labels.to_vector() == std::vector<std::int64_t>{0, 1});
}

TEST_CASE(
    "the same seed gives the same batches and augmentations, prefetching or not, on any "
    "thread count") {
  const int before = num_threads();
  const NoisyRows rows;
  const auto augmented = data::map(rows, jitter);
  const int batches = 8;  // 2 epochs of 4 batches (13 samples, batch 3, drop_last)
  std::vector<std::vector<double>> ref;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (bool prefetch : {false, true}) {
      CAPTURE(threads);
      CAPTURE(prefetch);
      DataLoader loader(augmented, {.batch_size = 3, .seed = 11, .prefetch = prefetch});
      CHECK(loader.batches_per_epoch() == 4);
      const auto s = stream(loader, batches);
      if (ref.empty())
        ref = s;
      else
        CHECK(s == ref);
    }
  }
  set_num_threads(before);
  // Another seed changes both the order and the augmentations.
  DataLoader other(augmented, {.batch_size = 3, .seed = 12});
  CHECK(stream(other, batches) != ref);
  // A sample's augmentation depends on (seed, epoch, index), not on where the order puts it.
  DataLoader plain(augmented, {.batch_size = 13, .shuffle = false, .seed = 11});
  DataLoader shuffled(augmented, {.batch_size = 13, .shuffle = true, .seed = 11});
  const auto [xp, yp] = plain.next();
  const auto [xs, ys] = shuffled.next();
  for (index_t r = 0; r < 13; ++r) {
    const index_t i = ys(r);
    CHECK(xs.select(0, r).to_vector() == xp.select(0, i).to_vector());
  }
}

TEST_CASE("seek to a saved position replays the rest of the stream exactly") {
  const auto augmented = data::map(NoisyRows{.n = 11, .width = 8}, jitter);
  for (bool prefetch : {false, true}) {
    CAPTURE(prefetch);
    const LoaderOptions opt{.batch_size = 4, .drop_last = false, .seed = 3, .prefetch = prefetch};
    DataLoader a(augmented, opt);
    CHECK(a.batches_per_epoch() == 3);
    (void)stream(a, 5);
    const LoaderPosition saved = a.position();
    CHECK(saved == LoaderPosition{1, 2});
    const auto rest = stream(a, 7);

    DataLoader b(augmented, opt);
    (void)stream(b, 1);  // with prefetch, batch 1 is being prepared: seek must drop it
    b.seek(saved);
    CHECK(b.position() == saved);
    CHECK(stream(b, 7) == rest);
    // Seeking backwards, and to a far epoch, works the same.
    b.seek({0, 0});
    DataLoader fresh(augmented, opt);
    CHECK(stream(b, 4) == stream(fresh, 4));
    b.seek({40, 1});
    const auto far = stream(b, 2);
    fresh.seek({40, 1});
    CHECK(stream(fresh, 2) == far);
  }
}

TEST_CASE("drop_last sets the batches per epoch and the size of the last batch") {
  const Plain ten;
  DataLoader keep(ten, {.batch_size = 4, .shuffle = false, .drop_last = false});
  CHECK(keep.size() == 10);
  CHECK(keep.batches_per_epoch() == 3);
  CHECK(keep.next().to_vector() == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(keep.next().to_vector() == std::vector<std::int64_t>{4, 5, 6, 7});
  CHECK(keep.next().to_vector() == std::vector<std::int64_t>{8, 9});
  CHECK(keep.position() == LoaderPosition{1, 0});
  CHECK(keep.next().to_vector() == std::vector<std::int64_t>{0, 1, 2, 3});

  DataLoader drop(ten, {.batch_size = 4, .shuffle = false, .drop_last = true});
  CHECK(drop.batches_per_epoch() == 2);
  (void)drop.next();
  CHECK(drop.next().numel() == 4);
  CHECK(drop.position() == LoaderPosition{1, 0});

  DataLoader exact(ten, {.batch_size = 5, .drop_last = false});
  CHECK(exact.batches_per_epoch() == 2);
  DataLoader big(ten, {.batch_size = 64, .drop_last = false});
  CHECK(big.batches_per_epoch() == 1);
  CHECK(big.next().numel() == 10);
}

TEST_CASE("shuffle visits a permutation each epoch, different between epochs") {
  const Plain ds{.n = 50};
  DataLoader loader(ds, {.batch_size = 7, .drop_last = false, .seed = 9});
  std::vector<std::vector<std::int64_t>> epochs;
  for (int e = 0; e < 3; ++e) {
    std::vector<std::int64_t> seen;
    for (index_t b = 0; b < loader.batches_per_epoch(); ++b) {
      const auto v = loader.next().to_vector();
      seen.insert(seen.end(), v.begin(), v.end());
    }
    CHECK(seen == loader.order(e).to_vector());
    auto sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> all(50);
    std::iota(all.begin(), all.end(), 0);
    CHECK(sorted == all);
    CHECK(seen != all);
    epochs.push_back(seen);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
  DataLoader in_order(ds, {.batch_size = 50, .shuffle = false});
  std::vector<std::int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  CHECK(in_order.next().to_vector() == all);
  CHECK(in_order.next().to_vector() == all);
}

TEST_CASE("the loader is movable and rethrows errors from the worker") {
  const Plain ds{.n = 20};
  DataLoader a(ds, {.batch_size = 4, .seed = 1});
  DataLoader ref(ds, {.batch_size = 4, .seed = 1});
  (void)a.next();
  (void)ref.next();
  DataLoader b(std::move(a));
  CHECK(b.position() == LoaderPosition{0, 1});
  CHECK(b.next().to_vector() == ref.next().to_vector());
  CHECK_THROWS_WITH_AS(a.next(), doctest::Contains("moved from"), config_error);
  a = std::move(b);
  CHECK(a.next().to_vector() == ref.next().to_vector());

  for (bool prefetch : {false, true}) {
    CAPTURE(prefetch);
    const Faulty faulty;
    DataLoader f(faulty, {.batch_size = 4, .shuffle = false, .prefetch = prefetch});
    CHECK(f.next().to_vector() == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK_THROWS_WITH_AS(f.next(), "sample 5 is unreadable", std::runtime_error);
    CHECK(f.position() == LoaderPosition{0, 1});  // the failed batch is not skipped
    CHECK_THROWS_AS(f.next(), std::runtime_error);
    f.seek({1, 0});
    CHECK(f.next().to_vector() == std::vector<std::int64_t>{0, 1, 2, 3});
  }
  // A collate error raised on the worker reaches the caller too.
  struct Ragged {
    index_t size() const { return 4; }
    Tensor<float, 1> get(index_t i) const { return zeros<float>({1 + i}); }
  };
  const Ragged ragged;
  DataLoader r(ragged, {.batch_size = 2});
  CHECK_THROWS_WITH_AS(r.next(), doctest::Contains("pretext::data::collate"), shape_error);
}

TEST_CASE("bad loader options throw config_error naming the loader") {
  // The loader keeps a reference: no temporaries, and no copies (one worker per stream).
  static_assert(!std::is_constructible_v<DataLoader<Plain>, Plain&&, LoaderOptions>);
  static_assert(!std::is_copy_constructible_v<DataLoader<Plain>>);
  static_assert(std::is_nothrow_move_constructible_v<DataLoader<Plain>>);
  const Plain ds{.n = 10};
  CHECK_THROWS_WITH_AS(DataLoader(ds, {.batch_size = 0}),
                       doctest::Contains("pretext::data::DataLoader: batch_size is 0"),
                       config_error);
  CHECK_THROWS_WITH_AS(DataLoader(ds, {.batch_size = 11, .drop_last = true}),
                       doctest::Contains("pretext::data::DataLoader: batch_size 11 exceeds"),
                       config_error);
  const Plain empty{.n = 0};
  CHECK_THROWS_WITH_AS(DataLoader(empty, {.drop_last = false}),
                       doctest::Contains("pretext::data::DataLoader"), config_error);
  DataLoader ok(ds, {.batch_size = 5});
  CHECK_THROWS_WITH_AS(ok.seek({0, 2}), doctest::Contains("pretext::data::DataLoader::seek"),
                       index_error);
  CHECK_THROWS_AS(ok.seek({-1, 0}), index_error);
}

TEST_CASE("class-balanced fractions take round(f * count) per class, reproducibly") {
  // Class c has 10 * (c + 1) samples, interleaved; class 7 has a single sample.
  std::vector<std::int64_t> lab;
  for (int c = 0; c < 4; ++c)
    for (int k = 0; k < 10 * (c + 1); ++k) lab.push_back(c);
  lab.push_back(7);
  std::vector<std::int64_t> shuffled_lab(lab.size());
  {
    Generator g(0);
    const auto p = randperm(static_cast<index_t>(lab.size()), g);
    for (std::size_t i = 0; i < lab.size(); ++i)
      shuffled_lab[i] = lab[static_cast<std::size_t>(p.data()[i])];
  }
  const auto labels =
      Tensor<std::int64_t, 1>::from({static_cast<index_t>(lab.size())}, shuffled_lab);

  for (double f : {0.05, 0.1, 0.25, 0.5, 1.0}) {
    CAPTURE(f);
    const auto idx = data::class_balanced_indices(labels, f, 3).to_vector();
    CHECK(std::is_sorted(idx.begin(), idx.end()));
    CHECK(std::adjacent_find(idx.begin(), idx.end()) == idx.end());  // unique
    std::map<std::int64_t, index_t> per_class;
    for (auto i : idx) ++per_class[shuffled_lab[static_cast<std::size_t>(i)]];
    for (int c = 0; c < 4; ++c) {
      const double count = 10.0 * (c + 1);
      CHECK(per_class[c] == std::max<index_t>(1, std::llround(f * count)));
    }
    CHECK(per_class[7] == 1);  // at least one of every present class
    CHECK(data::class_balanced_indices(labels, f, 3).to_vector() == idx);
  }
  const auto a = data::class_balanced_indices(labels, 0.1, 3).to_vector();
  CHECK(data::class_balanced_indices(labels, 0.1, 4).to_vector() != a);
  // Same seed: the smaller fraction lies inside the larger one.
  const auto big = data::class_balanced_indices(labels, 0.5, 3).to_vector();
  CHECK(std::includes(big.begin(), big.end(), a.begin(), a.end()));

  for (double f : {0.0, -0.1, 1.5}) {
    CAPTURE(f);
    CHECK_THROWS_WITH_AS(data::class_balanced_indices(labels, f, 0),
                         doctest::Contains("pretext::data::class_balanced_indices"), config_error);
  }
}

TEST_CASE("train_val_split partitions 0..n-1 by seed") {
  const auto [train, val] = data::train_val_split(103, 0.2, 5);
  CHECK(val.numel() == 21);
  CHECK(train.numel() == 82);
  std::vector<std::int64_t> all = train.to_vector();
  const auto v = val.to_vector();
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::is_sorted(v.begin(), v.end()));
  all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expect(103);
  std::iota(expect.begin(), expect.end(), 0);
  CHECK(all == expect);
  CHECK(data::train_val_split(103, 0.2, 5).second.to_vector() == v);
  CHECK(data::train_val_split(103, 0.2, 6).second.to_vector() != v);
  CHECK(data::train_val_split(10, 0.0, 5).second.numel() == 0);
  CHECK_THROWS_WITH_AS(data::train_val_split(10, 1.0, 0),
                       doctest::Contains("pretext::data::train_val_split"), config_error);
  CHECK_THROWS_AS(data::train_val_split(-1, 0.1, 0), config_error);
}

TEST_CASE("take_rows gathers rows of contiguous and strided tensors") {
  const auto t = Tensor<float, 3>::from({3, 2, 2}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  const auto idx = Tensor<std::int64_t, 1>::from({3}, {2, 0, 2});
  const auto r = data::take_rows(t, idx);
  CHECK(r.shape() == Shape<3>{3, 2, 2});
  CHECK(r.to_vector() == std::vector<float>{20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23});
  const auto tt = t.transpose(1, 2);  // strided rows
  CHECK(data::take_rows(tt, idx).to_vector() ==
        std::vector<float>{20, 22, 21, 23, 0, 2, 1, 3, 20, 22, 21, 23});
  const auto labels = Tensor<std::int64_t, 1>::from({3}, {5, 6, 7});
  CHECK(data::take_rows(labels, idx).to_vector() == std::vector<std::int64_t>{7, 5, 7});
  CHECK_THROWS_WITH_AS(data::take_rows(t, Tensor<std::int64_t, 1>::from({1}, {3})),
                       doctest::Contains("pretext::data::take_rows: index 3"), index_error);
  // A subset of a labeled split: the rows a class-balanced fraction selects.
  const data::TensorDataset ds(data::take_rows(t, idx), data::take_rows(labels, idx));
  CHECK(ds.get(1).second == 5);
}
