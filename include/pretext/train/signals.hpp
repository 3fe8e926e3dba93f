// SPDX-License-Identifier: Apache-2.0
// SIGINT / SIGTERM as a request to stop: while a StopOnSignal guard lives, those signals set a
// flag instead of killing the process, so the trainer can finish its step, write a checkpoint
// and return. The previous handlers come back when the guard ends. A second Ctrl-C while the
// flag is already set restores the default action and re-raises, so a stuck run can be killed.
#pragma once

#include <atomic>
#include <csignal>

namespace pretext::train {

namespace detail {
inline std::atomic<int>& stop_signal() noexcept {
  static std::atomic<int> sig{0};
  return sig;
}
extern "C" inline void pretext_on_stop_signal(int sig) {
  if (stop_signal().exchange(sig) != 0) {  // second signal: give up politely, exit as asked
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace detail

class StopOnSignal {
 public:
  explicit StopOnSignal(bool install = true) : installed_(install) {
    detail::stop_signal().store(0);
    if (!installed_) return;
    struct sigaction sa {};
    sa.sa_handler = detail::pretext_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  ~StopOnSignal() {
    if (!installed_) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

  /// The signal that asked to stop (SIGINT, SIGTERM), or 0.
  int requested() const noexcept { return detail::stop_signal().load(); }

 private:
  bool installed_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace pretext::train
