// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the benchmarks: elapsed seconds, the median of timings, and the median time
// of a callable, for anchors measured inside the same benchmark run as the kernel they are
// compared with.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace pretext::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The median of v (the mean of the middle two for an even count; 0 when empty).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

/// Median wall time in seconds of `reps` calls of fn (after one warm-up call).
template <class F>
double median_seconds(F&& fn, int reps = 7) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
  return t[static_cast<std::size_t>(reps / 2)];
}

}  // namespace pretext::bench
