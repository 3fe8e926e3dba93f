// SPDX-License-Identifier: Apache-2.0
// DataLoader: batches of a dataset in a seeded order, one batch prefetched on a background thread.
//
// Shapes: N samples, B = batch_size; a batch is collate() of B samples, e.g. (B, ...) inputs and
// (B) labels. An epoch has floor(N / B) batches with drop_last, else ceil(N / B) with a short
// last one; next() wraps into the next epoch by itself.
//
// Reproducibility: epoch e visits the samples in randperm(N, Generator(mix_seed(seed, e))) order
// (0..N-1 without shuffle), and dataset index i in epoch e is fetched with its own
// Generator(mix_seed(seed, e, i)). So batch (e, b) is a pure function of the seed, the dataset
// and (e, b): the same whatever the thread count, with or without prefetching, and after
// seek() to a saved position() (how a checkpoint resumes the data stream exactly).
#pragma once

#include <algorithm>  // std::min
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/data/collate.hpp"
#include "pretext/data/dataset.hpp"
#include "pretext/data/seed.hpp"

namespace pretext::data {

struct LoaderOptions {
  index_t batch_size = 64;  ///< samples per batch, >= 1
  bool shuffle = true;      ///< a new seeded permutation each epoch, else dataset order
  bool drop_last = true;    ///< drop the short last batch of an epoch (keeps B fixed)
  std::uint64_t seed = 0;   ///< fixes the orders and every sample's generator
  bool prefetch = true;     ///< prepare the next batch on a background thread
};

/// Where a loader's stream stands: the batch that next() returns next. Save it in a checkpoint
/// and pass it to seek() to resume.
struct LoaderPosition {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;  ///< in [0, batches_per_epoch())
  friend bool operator==(const LoaderPosition&, const LoaderPosition&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const LoaderPosition& p) {
  return os << "{epoch " << p.epoch << ", batch " << p.batch << "}";
}

namespace detail {

/// Everything a loader's worker thread touches. It lives on the heap so that moving the
/// DataLoader never moves what the worker points to.
template <class D>
class LoaderState {
 public:
  using sample_type = sample_t<D>;
  using batch_type = batch_t<sample_type>;

  LoaderState(const D& ds, const LoaderOptions& opt) : ds_(&ds), opt_(opt) {
    PRETEXT_CHECK(opt.batch_size >= 1, config_error, "pretext::data::DataLoader: batch_size is ",
                  opt.batch_size, "; it must be at least 1");
    n_ = static_cast<index_t>(ds.size());
    PRETEXT_CHECK(n_ > 0, config_error, "pretext::data::DataLoader: the dataset has ", n_,
                  " samples; an epoch needs at least one");
    PRETEXT_CHECK(!opt.drop_last || n_ >= opt.batch_size, config_error,
                  "pretext::data::DataLoader: batch_size ", opt.batch_size, " exceeds the ", n_,
                  " samples of the dataset, so with drop_last an epoch has no batch; lower "
                  "batch_size or set drop_last = false");
    bpe_ = opt.drop_last ? n_ / opt.batch_size : (n_ + opt.batch_size - 1) / opt.batch_size;
  }

  LoaderState(const LoaderState&) = delete;
  LoaderState& operator=(const LoaderState&) = delete;

  /// Stops the worker; waits for the batch it may be preparing (a dataset call cannot be
  /// interrupted), then discards it.
  ~LoaderState() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  const D& dataset() const noexcept { return *ds_; }
  const LoaderOptions& options() const noexcept { return opt_; }
  index_t size() const noexcept { return n_; }
  index_t batches_per_epoch() const noexcept { return bpe_; }

  Tensor<std::int64_t, 1> order(std::int64_t epoch) const {
    if (!opt_.shuffle) return arange<std::int64_t>(n_);
    Generator g(mix_seed(opt_.seed, static_cast<std::uint64_t>(epoch)));
    return randperm(n_, g);
  }

  batch_type next() {
    if (!opt_.prefetch) {
      LoaderPosition p;
      {
        std::lock_guard<std::mutex> lock(m_);
        p = pos_;
      }
      batch_type b = produce(p);  // on throw the position stays, as with prefetching
      std::lock_guard<std::mutex> lock(m_);
      pos_ = advance(p);
      return b;
    }
    std::unique_lock<std::mutex> lock(m_);
    // Started on first use, so a loader that seeks before its first batch prepares nothing twice.
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
    cv_.wait(lock, [&] { return ready_.has_value() || error_ != nullptr; });
    if (error_) {
      // The position stays: the worker retries the same batch for the next call.
      const std::exception_ptr e = std::exchange(error_, nullptr);
      cv_.notify_all();
      std::rethrow_exception(e);
    }
    batch_type b = std::move(*ready_);
    ready_.reset();
    pos_ = advance(pos_);
    cv_.notify_all();  // the worker starts on the following batch while the caller trains
    return b;
  }

  LoaderPosition position() const {
    std::lock_guard<std::mutex> lock(m_);
    return pos_;
  }

  void seek(LoaderPosition p) {
    PRETEXT_CHECK(p.epoch >= 0 && p.batch >= 0 && p.batch < bpe_, index_error,
                  "pretext::data::DataLoader::seek: position ", p,
                  " is invalid; epoch must be >= 0 and batch in [0, ", bpe_,
                  ") (batches per epoch)");
    std::lock_guard<std::mutex> lock(m_);
    pos_ = p;
    ++generation_;  // a batch the worker is preparing now is for the old position: dropped
    ready_.reset();
    error_ = nullptr;
    cv_.notify_all();
  }

 private:
  LoaderPosition advance(LoaderPosition p) const noexcept {
    if (++p.batch == bpe_) p.batch = 0, ++p.epoch;
    return p;
  }

  /// Batch p: samples order(e)[b * B, min((b + 1) * B, N)), each with its own generator.
  /// Called by one thread at a time (the worker, or the caller without prefetch).
  batch_type produce(LoaderPosition p) {
    const index_t begin = p.batch * opt_.batch_size;
    const index_t end = std::min(begin + opt_.batch_size, n_);
    if (opt_.shuffle && cached_epoch_ != p.epoch) {
      order_ = order(p.epoch);
      cached_epoch_ = p.epoch;
    }
    samples_.clear();
    samples_.reserve(static_cast<std::size_t>(end - begin));
    for (index_t k = begin; k < end; ++k) {
      const index_t i = opt_.shuffle ? order_.data()[k] : k;
      Generator g(
          mix_seed(opt_.seed, static_cast<std::uint64_t>(p.epoch), static_cast<std::uint64_t>(i)));
      samples_.emplace_back(get_sample(*ds_, i, g));
    }
    batch_type b = collate(std::span<const sample_type>(samples_));
    samples_.clear();  // hand the samples' storage back to the allocator now
    return b;
  }

  void run() {
    // Kernels called from here run serially, as inside a parallel region: the worker never
    // takes the shared pool from the training thread (whose kernels would then run serially).
    pretext::detail::in_parallel_region = true;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || (!ready_.has_value() && error_ == nullptr); });
      if (stop_) return;
      const LoaderPosition p = pos_;
      const std::uint64_t generation = generation_;
      lock.unlock();
      std::optional<batch_type> b;
      std::exception_ptr err;
      try {
        b.emplace(produce(p));
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      if (generation != generation_) continue;  // seek() moved on meanwhile
      if (err)
        error_ = err;
      else
        ready_ = std::move(b);
      cv_.notify_all();
    }
  }

  const D* ds_;
  LoaderOptions opt_;
  index_t n_ = 0, bpe_ = 0;

  // The producing thread's own: the current epoch's order and the sample buffer.
  std::int64_t cached_epoch_ = -1;
  Tensor<std::int64_t, 1> order_;
  std::vector<sample_type> samples_;

  // Shared between the caller and the worker, under m_.
  mutable std::mutex m_;
  std::condition_variable cv_;
  LoaderPosition pos_;               // the batch next() returns next
  std::optional<batch_type> ready_;  // batch pos_, when the worker has it
  std::exception_ptr error_;         // or what preparing batch pos_ threw
  std::uint64_t generation_ = 0;     // bumped by seek()
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace detail

/// Batches of a dataset, forever: next() returns batch position() and moves on, wrapping into
/// the next epoch. See the file comment for the order and the per-sample generators.
///
/// The loader keeps a reference to the dataset, not a copy: the dataset must outlive the
/// loader and must not change while it runs (the worker reads it between next() calls).
/// Constructing from a temporary does not compile for that reason. With prefetch, one
/// background thread prepares batch position() while the caller trains on the previous one;
/// its kernels run serially. Do not call set_num_threads() while a prefetching loader exists.
/// Movable, not copyable.
template <Dataset D>
class DataLoader {
 public:
  using dataset_type = D;
  using sample_type = sample_t<D>;
  using batch_type = batch_t<sample_type>;

  /// Throws config_error when batch_size < 1 or an epoch would have no batch (an empty
  /// dataset, or drop_last with fewer samples than batch_size).
  DataLoader(const D& dataset, const LoaderOptions& options = {})
      : state_(std::make_unique<detail::LoaderState<D>>(dataset, options)) {}
  /// Deleted: the loader would keep a reference to a temporary.
  DataLoader(const D&& dataset, const LoaderOptions& options = {}) = delete;

  DataLoader(DataLoader&&) noexcept = default;
  DataLoader& operator=(DataLoader&&) noexcept = default;

  /// Samples in the dataset (N).
  index_t size() const { return state().size(); }
  index_t batches_per_epoch() const { return state().batches_per_epoch(); }
  const LoaderOptions& options() const { return state().options(); }
  const D& dataset() const { return state().dataset(); }

  /// The dataset indices epoch `epoch` visits, in order (N): a seeded permutation with shuffle,
  /// else 0..N-1.
  Tensor<std::int64_t, 1> order(std::int64_t epoch) const {
    PRETEXT_CHECK(epoch >= 0, index_error, "pretext::data::DataLoader::order: epoch ", epoch,
                  " must be >= 0");
    return state().order(epoch);
  }

  /// Batch position(), then moves to the following one. Rethrows what the dataset, a transform
  /// or collate threw for this batch (also from the worker thread); the position then stays.
  batch_type next() { return state().next(); }

  /// The batch next() returns next.
  LoaderPosition position() const { return state().position(); }

  /// Makes next() return batch p (any epoch >= 0, batch in [0, batches_per_epoch())), exactly
  /// as an uninterrupted stream would; a prefetched batch is discarded. Throws index_error for
  /// an invalid position.
  void seek(LoaderPosition p) { state().seek(p); }

 private:
  detail::LoaderState<D>& state() const {
    PRETEXT_CHECK(state_ != nullptr, config_error,
                  "pretext::data::DataLoader: this loader was moved from; use the one it was "
                  "moved to");
    return *state_;
  }

  std::unique_ptr<detail::LoaderState<D>> state_;
};

}  // namespace pretext::data
