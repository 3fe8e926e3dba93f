// SPDX-License-Identifier: Apache-2.0
// SVG figures without a plotting library: a line chart (loss curves, accuracy against label
// fraction) with axes, ticks, grid and legend, and a results table (ResultTable) as an image.
// Files are written atomically (io/atomic_write.hpp); the *_svg functions return the document
// as a string for embedding or testing.
//
//   series (S) of points (n_s): xs (n_s), ys (n_s); chart W x H pixels.
//
// Text is XML-escaped; non-finite values break a line rather than corrupting the document, and
// with a logarithmic axis values <= 0 do the same.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/eval/summary.hpp"
#include "pretext/io/atomic_write.hpp"

namespace pretext::eval {

/// One line of a chart. xs may be empty: the points are then at x = 0, 1, ..., n-1.
struct Series {
  std::string name;
  std::vector<double> xs;
  std::vector<double> ys;
};

struct ChartOptions {
  double width = 720;   ///< pixels
  double height = 440;  ///< pixels
  bool log_x = false;   ///< logarithmic x axis (label fractions 1%, 10%, 100%)
  bool log_y = false;   ///< logarithmic y axis (losses over orders of magnitude)
  bool markers = true;  ///< a dot on each point of series with at most 40 points
};

namespace detail {

/// Text safe inside an XML element or attribute: & < > " ' become entities; control characters
/// XML 1.0 forbids are dropped.
inline std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += ch;
    }
  }
  return out;
}

/// A pixel coordinate: two decimals are finer than any screen.
inline std::string px(double v) {
  return format("%.2f", v);
}

/// An axis: its range and ticks in plot space (log10 of the values on a log axis).
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

/// 1, 2 or 5 times a power of ten, near x (Heckbert's "nice numbers").
inline double nice_step(double x) {
  const double e = std::floor(std::log10(x));
  const double f = x / std::pow(10.0, e);
  const double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nf * std::pow(10.0, e);
}

inline std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) v = 0;  // no "-0"
  const double a = std::abs(v);
  if (a != 0 && (a >= 1e6 || a < 1e-4)) return format("%g", v);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return format("%.*f", decimals, v);
}

/// The axis over the plotted values (already log10'd for a log axis), with about 6 ticks.
inline Axis make_axis(const std::vector<double>& v, bool log) {
  Axis a;
  a.log = log;
  double lo = INFINITY, hi = -INFINITY;
  for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo <= hi)) lo = 0, hi = 1;  // nothing to plot
  if (log) {
    a.lo = std::floor(lo);
    a.hi = std::max(std::ceil(hi), a.lo + 1);
    const double n = a.hi - a.lo;
    const double step = std::max(1.0, std::ceil(n / 8));
    for (double e = a.lo; e <= a.hi + 1e-9; e += step) {
      a.ticks.push_back(e);
      a.labels.push_back(format("%g", std::pow(10.0, e)));
    }
    return a;
  }
  if (hi - lo <= 1e-12 * std::max({std::abs(lo), std::abs(hi), 1e-300})) {
    // A flat line: give it room above and below.
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  const double step = nice_step((hi - lo) / 5);
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  // Ticks as lo + i * step, not by repeated addition, which would drift.
  const auto n = static_cast<long>(std::llround((a.hi - a.lo) / step));
  for (long i = 0; i <= n; ++i) {
    const double t = a.lo + static_cast<double>(i) * step;
    a.ticks.push_back(t);
    a.labels.push_back(tick_label(t, step));
  }
  return a;
}

/// The value as it is plotted on the axis, or NaN when it cannot be.
inline double to_axis(double v, bool log) {
  if (!std::isfinite(v)) return NAN;
  if (log) return v > 0 ? std::log10(v) : NAN;
  return v;
}

/// Colour of series i: a qualitative palette with enough contrast on white.
inline const char* series_colour(std::size_t i) {
  static const char* const palette[] = {"#1f6fb4", "#e6700b", "#2a9d3a", "#cf2e2e", "#8a5cc2",
                                        "#8c564b", "#d660b0", "#6f6f6f", "#a8a422", "#1aa6b8"};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

}  // namespace detail

/// The line chart as an SVG document: title on top, x_label under the x axis, y_label rotated
/// beside the y axis, one polyline per series and a legend on the right.
///
/// Throws shape_error when a series has xs and ys of different lengths (naming both),
/// config_error for a size that leaves no room to plot.
inline std::string line_chart_svg(const std::string& title, const std::string& x_label,
                                  const std::string& y_label, const std::vector<Series>& series,
                                  const ChartOptions& opt = {}) {
  using detail::px;
  using detail::xml_escape;
  PRETEXT_CHECK(opt.width >= 200 && opt.height >= 150, config_error,
                "pretext::eval::line_chart_svg: a ", opt.width, " x ", opt.height,
                " chart is too small; use at least 200 x 150 pixels");
  for (const Series& s : series)
    PRETEXT_CHECK(s.xs.empty() || s.xs.size() == s.ys.size(), shape_error,
                  "pretext::eval::line_chart_svg: series '", s.name, "' has ", s.xs.size(),
                  " x values but ", s.ys.size(),
                  " y values; give one x per y, or no xs for 0, 1, 2, ...");
  auto x_of = [](const Series& s, std::size_t i) {
    return s.xs.empty() ? static_cast<double>(i) : s.xs[i];
  };
  std::vector<double> xv, yv;
  for (const Series& s : series)
    for (std::size_t i = 0; i < s.ys.size(); ++i) {
      const double x = detail::to_axis(x_of(s, i), opt.log_x);
      const double y = detail::to_axis(s.ys[i], opt.log_y);
      if (std::isfinite(x) && std::isfinite(y)) xv.push_back(x), yv.push_back(y);
    }
  const auto ax = detail::make_axis(xv, opt.log_x), ay = detail::make_axis(yv, opt.log_y);

  // Plot area: room for the title above, tick labels and x_label below, y tick labels and
  // y_label on the left, the legend on the right.
  const double W = opt.width, H = opt.height;
  std::size_t legend_chars = 0;
  for (const Series& s : series) legend_chars = std::max(legend_chars, s.name.size());
  const double legend_w =
      series.empty() ? 20 : 40 + 7.0 * static_cast<double>(std::min<std::size_t>(legend_chars, 30));
  const double left = 78, right = W - legend_w, top = 44, bottom = H - 56;
  PRETEXT_CHECK(right - left >= 60 && bottom - top >= 60, config_error,
                "pretext::eval::line_chart_svg: the legend leaves no room to plot in a ", W, " x ",
                H, " chart; widen it or shorten the series names");
  auto X = [&](double v) { return left + (v - ax.lo) / (ax.hi - ax.lo) * (right - left); };
  auto Y = [&](double v) { return bottom - (v - ay.lo) / (ay.hi - ay.lo) * (bottom - top); };

  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(W) + "\" height=\"" + px(H) +
       "\" viewBox=\"0 0 " + px(W) + " " + px(H) +
       "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + px(W) + "\" height=\"" + px(H) + "\" fill=\"white\"/>\n";
  s += "<text x=\"" + px((left + right) / 2) +
       "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
       xml_escape(title) + "</text>\n";
  // Grid and ticks.
  s += "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double t : ax.ticks)
    s += "<line x1=\"" + px(X(t)) + "\" y1=\"" + px(top) + "\" x2=\"" + px(X(t)) + "\" y2=\"" +
         px(bottom) + "\"/>\n";
  for (double t : ay.ticks)
    s += "<line x1=\"" + px(left) + "\" y1=\"" + px(Y(t)) + "\" x2=\"" + px(right) + "\" y2=\"" +
         px(Y(t)) + "\"/>\n";
  s += "</g>\n";
  s += "<g stroke=\"#333333\" stroke-width=\"1\">\n";
  s += "<line x1=\"" + px(left) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(right) + "\" y2=\"" +
       px(bottom) + "\"/>\n";
  s += "<line x1=\"" + px(left) + "\" y1=\"" + px(top) + "\" x2=\"" + px(left) + "\" y2=\"" +
       px(bottom) + "\"/>\n";
  for (double t : ax.ticks)
    s += "<line x1=\"" + px(X(t)) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(X(t)) + "\" y2=\"" +
         px(bottom + 5) + "\"/>\n";
  for (double t : ay.ticks)
    s += "<line x1=\"" + px(left - 5) + "\" y1=\"" + px(Y(t)) + "\" x2=\"" + px(left) + "\" y2=\"" +
         px(Y(t)) + "\"/>\n";
  s += "</g>\n";
  s += "<g fill=\"#333333\">\n";
  for (std::size_t i = 0; i < ax.ticks.size(); ++i)
    s += "<text x=\"" + px(X(ax.ticks[i])) + "\" y=\"" + px(bottom + 19) +
         "\" text-anchor=\"middle\">" + xml_escape(ax.labels[i]) + "</text>\n";
  for (std::size_t i = 0; i < ay.ticks.size(); ++i)
    s += "<text x=\"" + px(left - 8) + "\" y=\"" + px(Y(ay.ticks[i]) + 4) +
         "\" text-anchor=\"end\">" + xml_escape(ay.labels[i]) + "</text>\n";
  s += "</g>\n";
  s += "<text x=\"" + px((left + right) / 2) + "\" y=\"" + px(H - 14) +
       "\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(x_label) + "</text>\n";
  s += "<text x=\"18\" y=\"" + px((top + bottom) / 2) +
       "\" text-anchor=\"middle\" font-size=\"13\" "
       "transform=\"rotate(-90 18 " +
       px((top + bottom) / 2) + ")\">" + xml_escape(y_label) + "</text>\n";

  // Lines: a run of plottable points is one polyline; an unplottable point ends the run.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& sr = series[k];
    const char* colour = detail::series_colour(k);
    s += "<g class=\"series\" stroke=\"" + std::string(colour) + "\" fill=\"" + colour + "\">\n";
    std::string run;
    std::size_t run_points = 0;
    auto flush = [&] {
      if (run_points >= 2)
        s += "<polyline fill=\"none\" stroke-width=\"2\" points=\"" + run + "\"/>\n";
      run.clear();
      run_points = 0;
    };
    const bool dots = opt.markers && sr.ys.size() <= 40;
    for (std::size_t i = 0; i < sr.ys.size(); ++i) {
      const double x = detail::to_axis(x_of(sr, i), opt.log_x);
      const double y = detail::to_axis(sr.ys[i], opt.log_y);
      if (!std::isfinite(x) || !std::isfinite(y)) {
        flush();
        continue;
      }
      run += (run_points ? " " : "") + px(X(x)) + "," + px(Y(y));
      ++run_points;
      if (dots)
        s += "<circle cx=\"" + px(X(x)) + "\" cy=\"" + px(Y(y)) + "\" r=\"3\" stroke=\"none\"/>\n";
    }
    flush();
    s += "</g>\n";
  }

  // Legend, beside the plot so that it never hides a curve.
  s += "<g class=\"legend\">\n";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const double y = top + 8 + 20 * static_cast<double>(k);
    const char* colour = detail::series_colour(k);
    s += "<line x1=\"" + px(right + 12) + "\" y1=\"" + px(y) + "\" x2=\"" + px(right + 34) +
         "\" y2=\"" + px(y) + "\" stroke=\"" + colour + "\" stroke-width=\"3\"/>\n";
    s += "<text x=\"" + px(right + 40) + "\" y=\"" + px(y + 4) + "\">" +
         xml_escape(series[k].name) + "</text>\n";
  }
  s += "</g>\n</svg>\n";
  return s;
}

/// Writes line_chart_svg(...) to path atomically (io_error naming the file when it cannot).
inline void write_line_chart_svg(const std::string& path, const std::string& title,
                                 const std::string& x_label, const std::string& y_label,
                                 const std::vector<Series>& series,
                                 const ChartOptions& options = {}) {
  const std::string doc = line_chart_svg(title, x_label, y_label, series, options);
  io::detail::write_file_atomic(path, doc.data(), doc.size(),
                                "pretext::eval::write_line_chart_svg");
}

/// The results table as an SVG document: the title, a shaded header row (method, labels,
/// metric, seeds) and one row per result, numbers right-aligned.
inline std::string table_svg(const ResultTable& table) {
  using detail::px;
  using detail::xml_escape;
  const auto cells = table.cells();
  const std::size_t ncol = cells.front().size();
  // Column widths from the longest cell, at about 7.5 px per character of 13 px text.
  std::vector<double> colw(ncol, 0);
  for (const auto& row : cells)
    for (std::size_t k = 0; k < ncol; ++k)
      colw[k] = std::max(colw[k], 7.5 * static_cast<double>(detail::display_width(row[k])) + 24);
  const double row_h = 26, pad = 16, title_h = table.title().empty() ? 0 : 34;
  double W = 2 * pad;
  for (double w : colw) W += w;
  W = std::max(W, 7.5 * static_cast<double>(detail::display_width(table.title())) + 2 * pad);
  const double H = 2 * pad + title_h + row_h * static_cast<double>(cells.size());

  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(W) + "\" height=\"" + px(H) +
       "\" viewBox=\"0 0 " + px(W) + " " + px(H) +
       "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"13\">\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + px(W) + "\" height=\"" + px(H) + "\" fill=\"white\"/>\n";
  if (title_h > 0)
    s += "<text x=\"" + px(pad) + "\" y=\"" + px(pad + 18) +
         "\" font-size=\"16\" font-weight=\"bold\">" + xml_escape(table.title()) + "</text>\n";
  double table_w = 0;
  for (double w : colw) table_w += w;
  for (std::size_t r = 0; r < cells.size(); ++r) {
    const double y = pad + title_h + row_h * static_cast<double>(r);
    if (r == 0 || r % 2 == 0)
      s += "<rect x=\"" + px(pad) + "\" y=\"" + px(y) + "\" width=\"" + px(table_w) +
           "\" height=\"" + px(row_h) + "\" fill=\"" + (r == 0 ? "#dde6f0" : "#f4f6f8") + "\"/>\n";
    double x = pad;
    for (std::size_t k = 0; k < ncol; ++k) {
      const bool left_aligned = k == 0;
      const double tx = left_aligned ? x + 12 : x + colw[k] - 12;
      s += "<text x=\"" + px(tx) + "\" y=\"" + px(y + 17) + "\" text-anchor=\"" +
           (left_aligned ? "start" : "end") + "\"" + (r == 0 ? " font-weight=\"bold\"" : "") + ">" +
           xml_escape(cells[r][k]) + "</text>\n";
      x += colw[k];
    }
  }
  const double y_end = pad + title_h + row_h * static_cast<double>(cells.size());
  s += "<line x1=\"" + px(pad) + "\" y1=\"" + px(pad + title_h + row_h) + "\" x2=\"" +
       px(pad + table_w) + "\" y2=\"" + px(pad + title_h + row_h) +
       "\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
  s += "<line x1=\"" + px(pad) + "\" y1=\"" + px(y_end) + "\" x2=\"" + px(pad + table_w) +
       "\" y2=\"" + px(y_end) + "\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
  s += "</svg>\n";
  return s;
}

/// Writes table_svg(table) to path atomically.
inline void write_table_svg(const std::string& path, const ResultTable& table) {
  const std::string doc = table_svg(table);
  io::detail::write_file_atomic(path, doc.data(), doc.size(), "pretext::eval::write_table_svg");
}

}  // namespace pretext::eval
