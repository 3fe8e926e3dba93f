// SPDX-License-Identifier: Apache-2.0
// Atomic file writes: the bytes go to "path.tmp-<pid>" beside the target, are flushed to disk,
// and the temporary is renamed over the target. A crash leaves the old file or the new one,
// never half of one. Used by safetensors, the text writer and checkpoints. Needs only POSIX.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>  // std::strerror
#include <string>
#include <vector>

#include "pretext/core/error.hpp"

namespace pretext::io::detail {

/// A run of bytes to write; chunks are written in order, so a header and several tensors need
/// no concatenated copy.
struct ByteChunk {
  const void* data;
  std::size_t size;
};

/// Writes the chunks, in order, to `path` atomically. `who` names the caller in messages
/// ("pretext::io::safetensors"). Throws io_error naming the file; the temporary is removed.
inline void write_file_atomic(const std::string& path, const std::vector<ByteChunk>& chunks,
                              const char* who) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  PRETEXT_CHECK(f, io_error, who, ": cannot create '", tmp, "': ", std::strerror(errno),
                "; check that the folder exists and is writable");
  bool ok = true;
  for (const ByteChunk& c : chunks)
    ok = ok && (c.size == 0 || std::fwrite(c.data, 1, c.size, f) == c.size);
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(::fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    pretext::detail::fail<io_error>(who, ": writing '", path, "' failed: ", std::strerror(err),
                                    "; the previous file, if any, is unchanged");
  }
}

inline void write_file_atomic(const std::string& path, const void* data, std::size_t n,
                              const char* who) {
  write_file_atomic(path, std::vector<ByteChunk>{{data, n}}, who);
}

}  // namespace pretext::io::detail
