// SPDX-License-Identifier: Apache-2.0
// The caching host allocator behind every tensor's storage.
//
// Blocks are 64-byte aligned and rounded up to a size class; a freed block goes to its class's
// free list and is handed out again, so a training loop whose shapes repeat stops calling the
// system allocator after its first step. Classes are the powers of two up to 4 KiB and, above,
// four steps per power of two (at most 25% waste). Thread-safe: one spin lock, taken once per
// allocation and once per free, never while the system allocator runs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdlib>  // std::aligned_alloc, std::free
#include <atomic>
#include <mutex>  // std::lock_guard
#include <thread>
#include <new>  // std::bad_alloc
#include <vector>

#include "pretext/config.hpp"
#include "pretext/core/error.hpp"

namespace pretext {

/// Counters of the host allocator, as returned by allocator_stats().
struct AllocatorStats {
  std::size_t bytes_in_use = 0;  ///< bytes of blocks handed out and not yet freed (class size)
  std::size_t peak_bytes = 0;    ///< maximum of bytes_in_use since start or reset_peak()
  std::size_t bytes_cached = 0;  ///< bytes held in free lists, ready for reuse
  std::size_t allocations = 0;   ///< blocks handed out
  std::size_t cache_hits = 0;    ///< of which came from a free list
  std::size_t system_allocations = 0;  ///< of which needed the system allocator
};

namespace detail {

/// A test-and-test-and-set lock. The allocator holds it for a few dozen instructions (never
/// around a system call), so spinning is cheaper than a mutex: an uncontended lock and unlock
/// cost one atomic exchange and one store, where pthread_mutex took a fifth of a tiny-op autograd
/// step (perf, benchmarks/bench_autograd).
class SpinLock {
 public:
  void lock() noexcept {
    for (int spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
      while (flag_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();  // the holder may have been preempted
      }
    }
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class HostAllocator {
 public:
  static constexpr std::size_t min_class = alignment;  // 64 bytes
  static constexpr int num_classes = 4 * 48;

  /// Size class index and rounded size for a request of n bytes.
  static constexpr int class_of(std::size_t n, std::size_t* rounded) {
    if (n <= min_class) {
      *rounded = min_class;
      return 0;
    }
    if (n <= 4096) {  // powers of two 64 .. 4096: classes 0..6
      int c = 0;
      std::size_t s = min_class;
      while (s < n) s <<= 1, ++c;
      *rounded = s;
      return c;
    }
    // Above 4 KiB: 2^e * {1, 1.25, 1.5, 1.75}; classes start at 7.
    int e = 12;
    while ((std::size_t{1} << (e + 1)) < n) ++e;
    const std::size_t base = std::size_t{1} << e, step = base / 4;
    const std::size_t q = (n - base + step - 1) / step;  // 1..4
    *rounded = base + q * step;
    return 7 + (e - 12) * 4 + static_cast<int>(q) - 1;
  }

  void* allocate(std::size_t n) {
    std::size_t rounded = 0;
    const int c = class_of(n == 0 ? 1 : n, &rounded);
    PRETEXT_CHECK(c < num_classes, config_error, "pretext::allocate: request of ", n,
                  " bytes exceeds the largest size class");
    {
      std::lock_guard<SpinLock> lock(mutex_);
      ++stats_.allocations;
      auto& list = free_[static_cast<std::size_t>(c)];
      if (!list.empty()) {
        void* p = list.back();
        list.pop_back();
        ++stats_.cache_hits;
        stats_.bytes_cached -= rounded;
        note_in_use(rounded);
        return p;
      }
      ++stats_.system_allocations;
      note_in_use(rounded);
    }
    void* p = std::aligned_alloc(alignment, rounded);
    if (!p) {
      std::lock_guard<SpinLock> lock(mutex_);
      stats_.bytes_in_use -= rounded;
      // Give the cache back to the system and try once more before failing.
      release_locked();
      p = std::aligned_alloc(alignment, rounded);
      if (!p) throw std::bad_alloc();
      note_in_use(rounded);
    }
    return p;
  }

  void deallocate(void* p, std::size_t n) noexcept {
    if (!p) return;
    std::size_t rounded = 0;
    const int c = class_of(n == 0 ? 1 : n, &rounded);
    std::lock_guard<SpinLock> lock(mutex_);
    stats_.bytes_in_use -= rounded;
    auto& list = free_[static_cast<std::size_t>(c)];
    // Growing a free list may allocate; it happens only until the list has reached its
    // steady-state length, so a repeating loop stops allocating after its first iteration.
    try {
      list.push_back(p);
      stats_.bytes_cached += rounded;
    } catch (...) {
      std::free(p);
    }
  }

  AllocatorStats stats() {
    std::lock_guard<SpinLock> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<SpinLock> lock(mutex_);
    stats_.peak_bytes = stats_.bytes_in_use;
  }

  /// Returns every cached block to the system.
  void release_cache() {
    std::lock_guard<SpinLock> lock(mutex_);
    release_locked();
  }

  ~HostAllocator() { release_locked(); }

 private:
  void note_in_use(std::size_t rounded) {
    stats_.bytes_in_use += rounded;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
  }
  void release_locked() {
    for (auto& list : free_) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    stats_.bytes_cached = 0;
  }

  SpinLock mutex_;
  std::array<std::vector<void*>, num_classes> free_{};
  AllocatorStats stats_{};
};

/// The process-wide host allocator. Constructed on first use and intentionally never destroyed,
/// so tensors with static storage duration can still free their blocks at exit.
inline HostAllocator& host_allocator() {
  static HostAllocator* a = new HostAllocator();
  return *a;
}

}  // namespace detail

/// Allocates n bytes, 64-byte aligned, from the caching host allocator.
inline void* host_allocate(std::size_t n) {
  return detail::host_allocator().allocate(n);
}
/// Returns a block of n bytes (the size it was allocated with) to the cache.
inline void host_deallocate(void* p, std::size_t n) noexcept {
  detail::host_allocator().deallocate(p, n);
}
/// Bytes in use, peak, cache hits and system allocations of the host allocator.
inline AllocatorStats allocator_stats() {
  return detail::host_allocator().stats();
}
/// Starts a new peak measurement from the current bytes in use.
inline void reset_peak_bytes() {
  detail::host_allocator().reset_peak();
}
/// Frees every cached block (for example between phases with different shapes).
inline void empty_cache() {
  detail::host_allocator().release_cache();
}

}  // namespace pretext
