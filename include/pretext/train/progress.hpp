// SPDX-License-Identifier: Apache-2.0
// A terminal progress line for training: step, epoch, loss, throughput and time left. On a
// terminal it redraws one line in place ("\r"); otherwise (a log file, CI) it prints a plain line
// every `every` steps, so logs stay readable.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace pretext::train {

/// "1h02m", "3m07s", "12s".
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

class ProgressBar {
 public:
  /// out: where to draw (stderr by default); every: steps between plain lines off a terminal.
  explicit ProgressBar(std::string name, long every = 50, std::FILE* out = stderr)
      : name_(std::move(name)),
        every_(every > 0 ? every : 1),
        out_(out),
        tty_(::isatty(::fileno(out)) == 1) {}

  bool on_terminal() const noexcept { return tty_; }

  /// Called after each step; `step` counts steps done (1-based), `done_seconds` since the start of
  /// this run (resumed runs count from the resume) and `steps_this_run` the steps in that time.
  void update(long step, long total, long long epoch, double loss, double samples_per_second,
              double done_seconds, long steps_this_run) {
    if (!tty_ && step % every_ != 0 && step != total) return;
    const double per_step = steps_this_run > 0 ? done_seconds / steps_this_run : 0;
    const std::string eta = format_duration(per_step * static_cast<double>(total - step));
    char line[256];
    if (tty_) {
      constexpr int width = 24;
      const int filled = total > 0 ? static_cast<int>(width * step / total) : 0;
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '-');
      std::snprintf(line, sizeof line,
                    "\r%s [%s] step %ld/%ld  epoch %lld  loss %.4f  %.0f samples/s  ETA %s  ",
                    name_.c_str(), bar.c_str(), step, total, epoch + 1, loss, samples_per_second,
                    eta.c_str());
      std::fputs(line, out_);
      if (step == total) std::fputc('\n', out_);
    } else {
      std::snprintf(line, sizeof line,
                    "%s step %ld/%ld  epoch %lld  loss %.4f  %.0f samples/s  ETA %s\n",
                    name_.c_str(), step, total, epoch + 1, loss, samples_per_second, eta.c_str());
      std::fputs(line, out_);
    }
    std::fflush(out_);
  }

  /// Ends an in-place line early (interruption, error) so that what follows starts cleanly.
  void finish() {
    if (tty_) std::fputc('\n', out_);
    std::fflush(out_);
  }

 private:
  std::string name_;
  long every_;
  std::FILE* out_;
  bool tty_;
};

}  // namespace pretext::train
