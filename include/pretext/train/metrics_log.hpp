// SPDX-License-Identifier: Apache-2.0
// Metrics as JSON lines: one object per line, appended and flushed as it is written, so a run
// that dies leaves every line it logged, and `jq` / pandas.read_json(lines=True) read it.
//   {"step": 100, "epoch": 0, "loss": 0.512, "lr_scale": 0.98, "seconds": 12.3, ...}
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/io/json_text.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace pretext::train {

class MetricsLog {
 public:
  MetricsLog() = default;
  /// Opens `path` for appending (a resumed run continues the same log). Empty: logs nothing.
  explicit MetricsLog(const std::string& path) : path_(path) {
    if (path.empty()) return;
    f_ = std::fopen(path.c_str(), "a");
    PRETEXT_CHECK(f_ != nullptr, io_error, "pretext::train::MetricsLog: cannot open '", path,
                  "' for appending: ", std::strerror(errno),
                  "; check that the folder exists and is writable");
  }
  MetricsLog(MetricsLog&& o) noexcept
      : path_(std::move(o.path_)), f_(std::exchange(o.f_, nullptr)) {}
  MetricsLog& operator=(MetricsLog&& o) noexcept {
    if (this != &o) {
      close();
      path_ = std::move(o.path_);
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  ~MetricsLog() { close(); }

  bool enabled() const noexcept { return f_ != nullptr; }
  const std::string& path() const noexcept { return path_; }

  /// Writes one line from name/value pairs, in order.
  void write(const std::vector<std::pair<std::string, double>>& fields) {
    if (!f_) return;
    std::string line = "{";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) line += ", ";
      line += io::json_string(fields[i].first) + ": " + io::json_number(fields[i].second);
    }
    line += "}\n";
    PRETEXT_CHECK(std::fputs(line.c_str(), f_) >= 0 && std::fflush(f_) == 0, io_error,
                  "pretext::train::MetricsLog: writing '", path_,
                  "' failed: ", std::strerror(errno));
  }

 private:
  void close() noexcept {
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace pretext::train
