// SPDX-License-Identifier: Apache-2.0
// The one thread pool every CPU kernel shares.
//
// set_num_threads(n) sizes it to n - 1 workers plus the calling thread. A kernel splits its work
// with parallel_for; calls made from inside a parallel region, or from a second user thread while
// the pool is busy, run serially in their caller, so kernels never stack threads on top of each
// other and the process never has more than n compute threads. Workers spin for up to a
// millisecond after a job (in a training step the next kernel usually follows within tens of
// microseconds) and then sleep on a condition variable.
// Dispatch allocates nothing: the job is passed by reference.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>  // std::getenv, std::atoi
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/shape.hpp"

#if defined(__x86_64__) || defined(__i386__)
// Same GCC 12 false positive as in simd.hpp, when this is the first include of immintrin.h.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>  // _mm_pause in spin loops
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace pretext {
namespace detail {

/// A non-owning reference to a callable taking an int: no allocation, unlike std::function.
class JobRef {
 public:
  JobRef() = default;
  template <class F>
  explicit JobRef(F& f) noexcept
      : obj_(static_cast<void*>(std::addressof(f))),
        call_([](void* o, int tid) { (*static_cast<F*>(o))(tid); }) {}
  void operator()(int tid) const { call_(obj_, tid); }

 private:
  void* obj_ = nullptr;
  void (*call_)(void*, int) = nullptr;
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

inline thread_local bool in_parallel_region = false;

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : size_(std::clamp(threads, 1, 4096)) {
    for (int w = 1; w < size_; ++w) workers_.emplace_back([this, w] { worker_loop(w); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
      generation_.store(next_generation(0), std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const noexcept { return size_; }

  /// Runs job(tid) for tid in [0, n), n <= size(), the caller taking tid 0. Returns when all are
  /// done; rethrows the first exception a task threw. Serial when the pool is busy or nested.
  template <class F>
  void run(int n, F&& job) {
    n = std::min(n, size_);
    if (n <= 1 || in_parallel_region || !busy_.try_lock()) {
      run_serial(n, job);
      return;
    }
    std::lock_guard<std::mutex> busy(busy_, std::adopt_lock);
    job_ = JobRef(job);
    error_ = nullptr;
    pending_.store(n - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(m_);
      generation_.store(next_generation(n), std::memory_order_release);
    }
    cv_.notify_all();
    run_task(0);
    // Wait for the workers: spin first, they usually finish within the same microseconds.
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 4096)
        cpu_relax();
      else
        std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  template <class F>
  static void run_serial(int n, F& job) {
    // Still honours the task split (results stay identical to the parallel run).
    for (int t = 0; t < std::max(n, 1); ++t) job(t);
  }

  void run_task(int tid) {
    const bool was = in_parallel_region;
    in_parallel_region = true;
    try {
      job_(tid);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_m_);
      if (!error_) error_ = std::current_exception();
    }
    in_parallel_region = was;
  }

  void worker_loop(int w) {
    // The generation at construction, not at thread start: a job (or the destructor) may bump
    // it before this thread first runs, and must not be missed.
    std::uint64_t seen = 0;
    for (;;) {
      // Spin for about a millisecond, then sleep. The MAE benchmark step dispatches about 250
      // parallel ops, 100 us apart on average; on the 2-vCPU VM we measure on, waking a
      // sleeping worker costs 25-35 us per dispatch (1-5 us when it spins), and a 50 us
      // spin left the step 1.5% slower. (Intel's OpenMP spins 200 ms by default.)
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen) {
        cpu_relax();
        if ((++spins & 63) == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(m_);
          cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          break;
        }
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      // The job's worker count travels in the same word as its generation: reading it apart
      // would let a worker that sat out one job see the next job's count and run a task twice.
      if (w < static_cast<int>(seen & kCountMask)) {
        run_task(w);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex busy_;  // held by the thread dispatching a job
  std::mutex m_;
  std::condition_variable cv_;
  /// (job counter << 16) | number of tasks of the job; written only by the dispatching thread.
  std::uint64_t next_generation(int n) const noexcept {
    return ((generation_.load(std::memory_order_relaxed) >> 16) + 1) << 16 |
           static_cast<std::uint64_t>(n);
  }
  static constexpr std::uint64_t kCountMask = 0xFFFF;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  JobRef job_;
  std::mutex error_m_;
  std::exception_ptr error_;
};

inline int default_num_threads() {
  if (const char* env = std::getenv("PRETEXT_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

inline std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool = std::make_unique<ThreadPool>(default_num_threads());
  return pool;
}

inline ThreadPool& thread_pool() {
  return *pool_slot();
}

}  // namespace detail

/// Number of threads kernels use (the caller included). Default: the PRETEXT_NUM_THREADS
/// environment variable, else the hardware's thread count.
inline int num_threads() {
  return detail::thread_pool().size();
}

/// Sets the number of threads kernels use, n >= 1. Call it between kernels, not while another
/// thread runs one.
inline void set_num_threads(int n) {
  PRETEXT_CHECK(n >= 1, config_error, "pretext::set_num_threads: got ", n,
                "; the thread count must be at least 1");
  auto& slot = detail::pool_slot();
  if (slot->size() == n) return;
  slot.reset();
  slot = std::make_unique<detail::ThreadPool>(n);
}

/// Splits [begin, end) into at most num_threads() contiguous chunks of at least `grain` elements
/// and calls fn(lo, hi) on each, in parallel. Serial when the range is small or when called from
/// inside another parallel region.
template <class Fn>
void parallel_for(index_t begin, index_t end, index_t grain, Fn&& fn) {
  const index_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<index_t>(grain, 1);
  const index_t chunks = std::min<index_t>(detail::thread_pool().size(), (n + grain - 1) / grain);
  if (chunks <= 1 || detail::in_parallel_region) {
    fn(begin, end);
    return;
  }
  auto task = [&](int tid) {
    const index_t lo = begin + n * tid / chunks, hi = begin + n * (tid + 1) / chunks;
    if (lo < hi) fn(lo, hi);
  };
  detail::thread_pool().run(static_cast<int>(chunks), task);
}

/// Runs fn(tid, nthreads) once on each of num_threads() threads (or fewer when nested): for
/// kernels that split work themselves, such as GEMM.
template <class Fn>
void parallel_region(int max_threads, Fn&& fn) {
  const int n = detail::in_parallel_region
                    ? 1
                    : std::max(1, std::min(max_threads, detail::thread_pool().size()));
  if (n == 1) {
    fn(0, 1);
    return;
  }
  auto task = [&](int tid) { fn(tid, n); };
  detail::thread_pool().run(n, task);
}

}  // namespace pretext
