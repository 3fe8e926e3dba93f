// SPDX-License-Identifier: Apache-2.0
// Writing small JSON documents by hand (metrics lines, result tables) without pulling
// nlohmann-json into headers that do not otherwise need it: a string literal with escapes and a
// number that reads back as the same double.
#pragma once

#include <charconv>  // std::to_chars: shortest round-trip doubles
#include <cmath>
#include <cstdio>
#include <string>

namespace pretext::io {

/// A JSON string literal for s, quotes included: quotes, backslashes and control characters are
/// escaped; UTF-8 passes through.
inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

/// The shortest decimal that reads back as the same double; null for NaN and infinity (JSON has
/// no such numbers).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace pretext::io
