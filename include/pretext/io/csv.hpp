// SPDX-License-Identifier: Apache-2.0
// CSV tables: a header row, then rows split into numeric columns (rows, numeric columns) floats
// with NaN for missing values, and categorical columns (rows, categorical columns) integer codes
// with a vocabulary per column.
//
// Syntax (RFC 4180 with the usual leniencies): fields are separated by a configurable character
// (',' by default) and records by "\n", "\r\n" or "\r"; a field that starts with the quote
// character ('"') runs to the matching quote, may hold separators and line breaks, and writes a
// quote inside as two quotes; a quote inside an unquoted field is kept as it is. Blank lines are
// skipped, a UTF-8 byte order mark at the start is dropped. Every malformed input raises io_error
// naming the reader, the file, the line and the fault.
#pragma once

#include <charconv>  // std::from_chars: locale-independent number parsing
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/io/text.hpp"

namespace pretext::io {

/// How read_csv splits and interprets the text.
struct CsvOptions {
  char separator = ',';  ///< between fields: ',' ';' '\t' '|' ...
  char quote = '"';      ///< opens and closes a quoted field; doubled inside it
  /// Fields that mean "missing" besides the empty one, compared after trimming spaces and tabs.
  std::vector<std::string> missing = {"NA", "N/A", "null", "NULL"};
};

/// A CSV file split by column kind. A column is numeric when every field that is not missing
/// parses fully as a number (so an all-missing column is numeric, all NaN); else categorical.
struct CsvTable {
  std::vector<std::string> columns;  ///< header names, in file order
  std::vector<bool> is_numeric;      ///< per column
  /// Per column: its column index in `numbers` (numeric) or in `codes` (categorical).
  std::vector<index_t> slot;
  index_t rows = 0;               ///< data rows (the header is not counted)
  Tensor<float, 2> numbers;       ///< (rows, numeric columns); missing values are NaN
  Tensor<std::int64_t, 2> codes;  ///< (rows, categorical columns); missing fields are -1
  /// Per categorical column (same order as the columns of `codes`): code -> string, codes given
  /// in order of first appearance.
  std::vector<std::vector<std::string>> vocab;

  /// The index of the column called `name` in `columns`; throws io_error when there is none.
  index_t column(const std::string& name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return static_cast<index_t>(i);
    pretext::detail::fail<io_error>("pretext::io::CsvTable::column: no column named '", name,
                                    "'; the table has ", columns.size(), " columns");
  }
};

namespace detail {

inline constexpr const char* kCsvWho = "pretext::io::read_csv";

/// Splits CSV text into records; each fault throws io_error with the line it was found on.
class CsvParser {
 public:
  CsvParser(std::string_view text, const std::string& name, const CsvOptions& opt)
      : s_(text), name_(name), sep_(opt.separator), quote_(opt.quote) {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
  }

  /// Reads the next non-blank record into `fields`; false at the end of the text.
  /// `line` receives the (1-based) line the record starts on.
  bool next(std::vector<std::string>& fields, std::size_t& line) {
    while (i_ < s_.size() && (s_[i_] == '\n' || s_[i_] == '\r')) end_of_line();
    if (i_ >= s_.size()) return false;
    line = line_;
    fields.clear();
    for (;;) {
      std::string f;
      if (s_[i_] == quote_) {
        const std::size_t open_line = line_;
        ++i_;
        for (;;) {
          if (i_ >= s_.size())
            bad(open_line, "a quoted field opened here is never closed (unterminated quote)");
          const char c = s_[i_];
          if (c == quote_) {
            if (i_ + 1 < s_.size() && s_[i_ + 1] == quote_) {
              f.push_back(quote_);
              i_ += 2;
              continue;
            }
            ++i_;
            break;
          }
          if (c == '\n' || (c == '\r' && (i_ + 1 >= s_.size() || s_[i_ + 1] != '\n'))) ++line_;
          f.push_back(c);
          ++i_;
        }
        if (i_ < s_.size() && s_[i_] != sep_ && s_[i_] != '\n' && s_[i_] != '\r')
          bad(line_,
              "text follows the closing quote of a field; write a quote inside a quoted field "
              "as two quotes");
      } else {
        const std::size_t b = i_;
        while (i_ < s_.size() && s_[i_] != sep_ && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
        f.assign(s_.substr(b, i_ - b));
      }
      fields.push_back(std::move(f));
      if (i_ >= s_.size()) return true;
      if (s_[i_] == sep_) {
        ++i_;
        // A separator at the very end of the text leaves one more, empty, field.
        if (i_ >= s_.size()) {
          fields.emplace_back();
          return true;
        }
        continue;
      }
      end_of_line();
      return true;
    }
  }

  template <class... A>
  [[noreturn]] void bad(std::size_t line, const A&... a) const {
    pretext::detail::fail<io_error>(kCsvWho, ": '", name_, "' line ", line, ": ", a...);
  }

 private:
  // Consumes "\n", "\r\n" or "\r" at i_.
  void end_of_line() {
    if (s_[i_] == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') ++i_;
    ++i_;
    ++line_;
  }

  std::string_view s_;
  const std::string& name_;
  char sep_, quote_;
  std::size_t i_ = 0, line_ = 1;
};

inline std::string_view csv_trim(std::string_view f) {
  while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
  while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
  return f;
}

/// Parses a whole (trimmed) field as a number: decimal or scientific, an optional sign, "inf",
/// "nan". A value beyond double's range becomes +-inf, one below its smallest becomes +-0.
inline bool csv_number(std::string_view f, double& out) {
  if (!f.empty() && f.front() == '+') {
    f.remove_prefix(1);
    if (!f.empty() && (f.front() == '-' || f.front() == '+')) return false;
  }
  if (f.empty()) return false;
  const char* end = f.data() + f.size();
  const auto r = std::from_chars(f.data(), end, out, std::chars_format::general);
  if (r.ptr != end) return false;
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars leaves `out` unchanged here; decide overflow from underflow by the exponent.
    const bool neg = f.front() == '-';
    const auto e = f.find_first_of("eE");
    const std::string_view digits = f.substr(neg ? 1 : 0);
    const bool tiny =
        e != std::string_view::npos
            ? e + 1 < f.size() && f[e + 1] == '-'
            : digits.substr(0, digits.find('.')).find_first_not_of('0') == std::string_view::npos;
    out = tiny ? (neg ? -0.0 : 0.0)
               : (neg ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity());
    return true;
  }
  return r.ec == std::errc();
}

}  // namespace detail

/// Parses CSV text held in memory; `name` stands for the path in messages. Rejects with io_error:
/// empty text (no header row), a header naming a column twice, a row whose field count differs
/// from the header's (naming its line and both counts), an unterminated quoted field (naming
/// the line it opened on) and text after a closing quote. Throws config_error when the
/// separator is the quote character or a line break.
inline CsvTable read_csv_string(std::string_view text, const std::string& name = "<string>",
                                const CsvOptions& opt = {}) {
  using detail::kCsvWho;
  PRETEXT_CHECK(opt.separator != opt.quote && opt.separator != '\n' && opt.separator != '\r' &&
                    opt.quote != '\n' && opt.quote != '\r',
                config_error, kCsvWho,
                ": the separator and the quote must differ and neither may be a line break");
  detail::CsvParser p(text, name, opt);
  CsvTable t;
  std::size_t line = 0;
  if (!p.next(t.columns, line))
    pretext::detail::fail<io_error>(kCsvWho, ": '", name,
                                    "' is empty; a CSV file needs a header row naming its columns");
  const std::size_t ncol = t.columns.size();
  {
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t c = 0; c < ncol; ++c)
      if (!seen.emplace(t.columns[c], c).second)
        p.bad(line, "the header names column '", t.columns[c], "' twice (columns ",
              seen[t.columns[c]] + 1, " and ", c + 1, ")");
  }

  // All fields, row-major (rows, ncol); the column kinds are known only after the last row.
  std::vector<std::string> cells, fields;
  while (p.next(fields, line)) {
    if (fields.size() != ncol)
      p.bad(line, "the row has ", fields.size(), " fields but the header has ", ncol,
            "; quote fields that contain the separator");
    for (auto& f : fields) cells.push_back(std::move(f));
  }
  const std::size_t nrow = ncol ? cells.size() / ncol : 0;
  t.rows = static_cast<index_t>(nrow);

  auto is_missing = [&](std::string_view f) {
    f = detail::csv_trim(f);
    if (f.empty()) return true;
    for (const auto& m : opt.missing)
      if (f == m) return true;
    return false;
  };
  index_t n_num = 0, n_cat = 0;
  t.is_numeric.assign(ncol, true);
  t.slot.assign(ncol, 0);
  for (std::size_t c = 0; c < ncol; ++c) {
    double v;
    for (std::size_t r = 0; r < nrow && t.is_numeric[c]; ++r) {
      const std::string& f = cells[r * ncol + c];
      if (!is_missing(f) && !detail::csv_number(detail::csv_trim(f), v)) t.is_numeric[c] = false;
    }
    t.slot[c] = t.is_numeric[c] ? n_num++ : n_cat++;
  }

  t.numbers = Tensor<float, 2>(Shape<2>{t.rows, n_num});       // (rows, numeric columns)
  t.codes = Tensor<std::int64_t, 2>(Shape<2>{t.rows, n_cat});  // (rows, categorical columns)
  t.vocab.resize(static_cast<std::size_t>(n_cat));
  std::vector<std::unordered_map<std::string, std::int64_t>> lookup(
      static_cast<std::size_t>(n_cat));
  for (std::size_t r = 0; r < nrow; ++r)
    for (std::size_t c = 0; c < ncol; ++c) {
      const std::string& f = cells[r * ncol + c];
      const index_t k = t.slot[c], row = static_cast<index_t>(r);
      if (t.is_numeric[c]) {
        double v = std::numeric_limits<double>::quiet_NaN();
        if (!is_missing(f)) detail::csv_number(detail::csv_trim(f), v);
        t.numbers.data()[row * n_num + k] = static_cast<float>(v);
      } else if (is_missing(f)) {
        t.codes.data()[row * n_cat + k] = -1;
      } else {
        auto& voc = t.vocab[static_cast<std::size_t>(k)];
        const auto [it, fresh] =
            lookup[static_cast<std::size_t>(k)].emplace(f, static_cast<std::int64_t>(voc.size()));
        if (fresh) voc.push_back(f);
        t.codes.data()[row * n_cat + k] = it->second;
      }
    }
  return t;
}

/// Reads the CSV file at `path`; see read_csv_string for the rules. Categorical fields are kept
/// verbatim (not trimmed); numeric ones may have spaces around them.
inline CsvTable read_csv(const std::string& path, const CsvOptions& opt = {}) {
  const std::string text = detail::read_file(path, detail::kCsvWho);
  return read_csv_string(text, path, opt);
}

}  // namespace pretext::io
