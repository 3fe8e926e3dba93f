// SPDX-License-Identifier: Apache-2.0
// The shared thread pool: coverage of ranges, nesting, errors and configuration.
#include "reference.hpp"

#include <atomic>
#include <stdexcept>
#include <vector>

using namespace pretext;

TEST_CASE("parallel_for visits every index exactly once") {
  test::with_threads([](int) {
    for (index_t n : {0, 1, 5, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      parallel_for(0, n, 7, [&](index_t lo, index_t hi) {
        for (index_t i = lo; i < hi; ++i) hits[static_cast<std::size_t>(i)]++;
      });
      bool all_once = true;
      for (auto& h : hits) all_once = all_once && h.load() == 1;
      CHECK(all_once);
    }
  });
}

TEST_CASE("nested parallel regions run serially inside the outer one") {
  set_num_threads(2);
  std::atomic<long> total{0};
  parallel_for(0, 4, 1, [&](index_t lo, index_t hi) {
    for (index_t i = lo; i < hi; ++i)
      parallel_for(0, 1000, 1, [&](index_t a, index_t b) { total += b - a; });
  });
  CHECK(total.load() == 4000);
}

TEST_CASE("an exception in a task reaches the caller") {
  set_num_threads(2);
  CHECK_THROWS_AS(parallel_for(0, 100, 1,
                               [](index_t lo, index_t) {
                                 if (lo > 0) throw std::runtime_error("boom");
                               }),
                  std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int> n{0};
  parallel_for(0, 10, 1, [&](index_t lo, index_t hi) { n += static_cast<int>(hi - lo); });
  CHECK(n.load() == 10);
}

TEST_CASE("set_num_threads validates and takes effect") {
  const int before = num_threads();
  CHECK_THROWS_AS(set_num_threads(0), config_error);
  set_num_threads(1);
  CHECK(num_threads() == 1);
  int regions = 0;
  parallel_region(8, [&](int, int n) { regions = n; });
  CHECK(regions == 1);
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(before);
}
