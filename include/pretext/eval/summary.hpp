// SPDX-License-Identifier: Apache-2.0
// Summaries of evaluation runs: mean and sample standard deviation over seeds, and a small
// results table (method x label fraction -> mean, std, seeds) printable as text and as JSON.
//
//   values (S) per seed -> MeanStd; ResultTable rows (R) -> text / JSON.
//
// The JSON is written by hand (a few fields, strings escaped per RFC 8259) so that this header
// needs no JSON library: nlohmann-json belongs to the pretext::io target only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/shape.hpp"
#include "pretext/io/atomic_write.hpp"
#include "pretext/io/json_text.hpp"

namespace pretext::eval {

struct MeanStd {
  double mean = 0;
  double std = 0;  ///< sample standard deviation (divides by n - 1); NaN for n = 1
  index_t n = 0;
};

/// Mean and sample standard deviation (n - 1 in the denominator, as numpy's ddof=1 and
/// torch.std) of per-seed results. One value has no spread to estimate: std is NaN then, shown
/// as "-" in text and null in JSON. Throws config_error for no values.
inline MeanStd mean_std(const std::vector<double>& values) {
  PRETEXT_CHECK(!values.empty(), config_error,
                "pretext::eval::mean_std: no values; run at least one seed");
  MeanStd r;
  r.n = static_cast<index_t>(values.size());
  for (double v : values) r.mean += v;
  r.mean /= static_cast<double>(values.size());
  if (values.size() < 2) {
    r.std = std::nan("");
    return r;
  }
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  return r;
}

namespace detail {

using io::json_number;
using io::json_string;

/// printf into a std::string (short numbers only).
template <class... A>
std::string format(const char* fmt, A... args) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  return std::string(buf, static_cast<std::size_t>(std::max(n, 0)) < sizeof buf
                              ? static_cast<std::size_t>(std::max(n, 0))
                              : sizeof buf - 1);
}

/// Columns a UTF-8 string takes (code points; enough for "±" and Latin text).
inline std::size_t display_width(const std::string& s) {
  std::size_t w = 0;
  for (const char ch : s) w += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return w;
}

}  // namespace detail

/// "1%", "10%", "0.1%", "100%": a label fraction as people write it.
inline std::string percent_string(double fraction) {
  return detail::format("%g%%", fraction * 100);
}

/// One row: a method at one label fraction, summarised over seeds.
struct ResultRow {
  std::string method;
  double label_fraction = 1;  ///< labelled share of the training set, in (0, 1]
  double mean = 0;
  double std = 0;              ///< sample std over seeds; NaN for one seed
  index_t n = 0;               ///< seeds
  std::vector<double> values;  ///< per seed (may be empty when only the summary is known)
};

/// A results table: rows of method, label fraction, mean, std and seed count, in the order
/// added. Printable as aligned text (operator<<, to_text) and as JSON (to_json, write_json).
class ResultTable {
 public:
  explicit ResultTable(std::string title = {}, std::string metric = "accuracy")
      : title_(std::move(title)), metric_(std::move(metric)) {}

  /// Adds a row summarising per-seed values (mean_std).
  ResultRow& add(std::string method, double label_fraction, const std::vector<double>& values) {
    const auto s = mean_std(values);
    return add(ResultRow{std::move(method), label_fraction, s.mean, s.std, s.n, values});
  }
  /// Adds a row as it is.
  ResultRow& add(ResultRow row) {
    rows_.push_back(std::move(row));
    return rows_.back();
  }

  const std::vector<ResultRow>& rows() const noexcept { return rows_; }
  const std::string& title() const noexcept { return title_; }
  const std::string& metric() const noexcept { return metric_; }

  /// {"title": ..., "metric": ..., "rows": [{"method": ..., "label_fraction": ..., "mean": ...,
  /// "std": ..., "n": ..., "values": [...]}, ...]}; NaN becomes null.
  std::string to_json() const {
    std::string j = "{\"title\": " + detail::json_string(title_) +
                    ", \"metric\": " + detail::json_string(metric_) + ", \"rows\": [";
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const ResultRow& r = rows_[i];
      j += i ? ",\n  " : "\n  ";
      j += "{\"method\": " + detail::json_string(r.method) +
           ", \"label_fraction\": " + detail::json_number(r.label_fraction) +
           ", \"mean\": " + detail::json_number(r.mean) +
           ", \"std\": " + detail::json_number(r.std) + ", \"n\": " + std::to_string(r.n) +
           ", \"values\": [";
      for (std::size_t k = 0; k < r.values.size(); ++k)
        j += (k ? ", " : "") + detail::json_number(r.values[k]);
      j += "]}";
    }
    j += rows_.empty() ? "]}\n" : "\n]}\n";
    return j;
  }

  /// Writes to_json() to path atomically (io_error naming the file when it cannot).
  void write_json(const std::string& path) const {
    const std::string j = to_json();
    io::detail::write_file_atomic(path, j.data(), j.size(), "pretext::eval::ResultTable");
  }

  /// The cells of each row as text: method, labels, "mean ± std", seeds.
  std::vector<std::vector<std::string>> cells() const {
    std::vector<std::vector<std::string>> out;
    out.push_back({"method", "labels", metric_, "seeds"});
    for (const ResultRow& r : rows_) {
      std::string v = detail::format("%.4f", r.mean);
      v += std::isfinite(r.std) ? " ± " + detail::format("%.4f", r.std) : " ± -";
      out.push_back({r.method, percent_string(r.label_fraction), v, std::to_string(r.n)});
    }
    return out;
  }

  /// An aligned plain-text table (the title on its own line first, when there is one).
  std::string to_text() const {
    const auto c = cells();
    std::vector<std::size_t> w(4, 0);
    for (const auto& row : c)
      for (std::size_t k = 0; k < 4; ++k) w[k] = std::max(w[k], detail::display_width(row[k]));
    std::string t = title_.empty() ? "" : title_ + "\n";
    for (const auto& row : c) {
      for (std::size_t k = 0; k < 4; ++k) {
        const std::string pad(w[k] - detail::display_width(row[k]), ' ');
        // The method left-aligned, numbers right-aligned.
        t += k == 0 ? row[k] + pad : "  " + pad + row[k];
      }
      t += "\n";
    }
    return t;
  }

 private:
  std::string title_;
  std::string metric_;
  std::vector<ResultRow> rows_;
};

inline std::ostream& operator<<(std::ostream& os, const ResultTable& t) {
  return os << t.to_text();
}

}  // namespace pretext::eval
