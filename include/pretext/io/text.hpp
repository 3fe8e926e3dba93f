// SPDX-License-Identifier: Apache-2.0
// Plain files: read a whole file as bytes or text, split it into lines, write one atomically.
//
// The other readers (npy, wav, csv) load a file with detail::read_file and parse the bytes in
// memory, so every parser also has a from-bytes entry point that tests and fuzz targets call
// without touching the disk. Needs only POSIX (no zlib).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>  // std::strerror
#include <string>
#include <string_view>
#include <vector>

#include "pretext/core/error.hpp"
#include "pretext/io/atomic_write.hpp"

namespace pretext::io {
namespace detail {

/// The whole content of `path` as bytes. `who` names the calling reader in messages
/// ("pretext::io::read_npy"). Throws io_error when the file is missing, a directory or unreadable.
inline std::string read_file(const std::string& path, const char* who) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  PRETEXT_CHECK(fd >= 0, io_error, who, ": cannot open '", path, "': ", std::strerror(errno),
                "; check the path");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    pretext::detail::fail<io_error>(who, ": cannot read '", path,
                                    "': ", dir ? "it is a directory" : "fstat failed",
                                    "; pass the path of a regular file");
  }
  std::string out;
  // Regular files report their size; pipes and /proc files report 0 and grow as they are read.
  if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      pretext::detail::fail<io_error>(who, ": reading '", path, "' failed: ", std::strerror(err));
    }
    out.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fd);
  return out;
}

/// Splits text into lines at "\n", dropping a "\r" before it (Windows line ends). A final
/// newline does not start an empty last line; a last line without one is kept.
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (end == std::string_view::npos) end = text.size();
    std::size_t stop = end;
    if (stop > start && text[stop - 1] == '\r') --stop;
    lines.emplace_back(text.substr(start, stop - start));
    start = next;
  }
  return lines;
}

}  // namespace detail

/// The whole file as a string (bytes as stored; no newline or encoding conversion).
/// Throws io_error naming the file when it is missing, a directory or unreadable.
inline std::string read_text(const std::string& path) {
  return detail::read_file(path, "pretext::io::read_text");
}

/// The file's lines without their line ends ("\n" or "\r\n"). A final newline does not add an
/// empty line; empty lines inside the file are kept. Throws io_error like read_text.
inline std::vector<std::string> read_lines(const std::string& path) {
  return detail::split_lines(detail::read_file(path, "pretext::io::read_lines"));
}

/// Writes `text` to `path` atomically (temporary file, then rename). Throws io_error on failure.
inline void write_text(const std::string& path, std::string_view text) {
  detail::write_file_atomic(path, text.data(), text.size(), "pretext::io::write_text");
}

}  // namespace pretext::io
