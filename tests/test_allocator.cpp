// SPDX-License-Identifier: Apache-2.0
// The caching allocator: alignment, reuse, statistics, thread safety, and the promise that a
// repeating loop of tensor operations stops allocating after its first iteration.
#include "reference.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

using namespace pretext;

// Counts every global operator new in this test binary, to prove steady state allocates nothing
// (not the caching allocator's system calls alone: any std::vector or std::function would show).
// GCC pairs the replaced operators by name, not by body, and would flag free() of new's block.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
static std::atomic<long> g_news{0};
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
// The nothrow form too (std::stable_sort's temporary buffer uses it): otherwise its block comes
// from the sanitizer's operator new and goes back through the free() above.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
long pretext::test::operator_new_calls() {
  return g_news.load(std::memory_order_relaxed);
}

TEST_CASE("blocks are 64-byte aligned and rounded to a size class") {
  for (std::size_t n : {1u, 63u, 64u, 65u, 4095u, 5000u, 1u << 20}) {
    void* p = host_allocate(n);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    host_deallocate(p, n);
  }
  std::size_t r = 0;
  detail::HostAllocator::class_of(5000, &r);
  CHECK(r == 5120);
  detail::HostAllocator::class_of(8192, &r);
  CHECK(r == 8192);
  detail::HostAllocator::class_of(100, &r);
  CHECK(r == 128);
}

TEST_CASE("a freed block is reused and statistics add up") {
  const auto s0 = allocator_stats();
  void* p = host_allocate(10000);
  const auto s1 = allocator_stats();
  CHECK(s1.bytes_in_use >= s0.bytes_in_use + 10000);
  CHECK(s1.peak_bytes >= s1.bytes_in_use);
  host_deallocate(p, 10000);
  void* q = host_allocate(9000);  // same class (10240)
  const auto s2 = allocator_stats();
  CHECK(q == p);
  CHECK(s2.cache_hits == s1.cache_hits + 1);
  CHECK(s2.system_allocations == s1.system_allocations);
  host_deallocate(q, 9000);
}

TEST_CASE("allocation is thread-safe") {
  auto work = [] {
    for (int i = 0; i < 2000; ++i) {
      const std::size_t n = 64 + static_cast<std::size_t>(i % 7) * 1000;
      void* p = host_allocate(n);
      static_cast<char*>(p)[n - 1] = 1;
      host_deallocate(p, n);
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  const auto s = allocator_stats();
  CHECK(s.bytes_in_use < (1u << 30));
}

TEST_CASE("a repeated step of tensor ops makes no allocation in steady state") {
  test::with_threads([](int) {
    Generator g(3);
    auto x = normal<float>({64, 96}, g);
    auto w = normal<float>({96, 32}, g);
    auto b = normal<float>({32}, g);
    auto step = [&] {
      auto h = gelu(matmul(x, w) + b);
      auto p = softmax(h);
      auto s = sum(p * h, 1);
      auto ln = layer_norm_forward(h, &b, &b);
      return max(s).item() + mean(ln.y).item();
    };
    step();  // first step fills the cache
    step();
    const auto before = allocator_stats();
    const long news = g_news.load();
    double acc = 0;
    for (int i = 0; i < 5; ++i) acc += step();
    const auto after = allocator_stats();
    CHECK(std::isfinite(acc));
    CHECK(after.system_allocations == before.system_allocations);
    CHECK(after.cache_hits > before.cache_hits);
    CHECK(g_news.load() == news);
  });
}
