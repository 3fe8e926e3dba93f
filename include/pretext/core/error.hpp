// SPDX-License-Identifier: Apache-2.0
// The exception hierarchy and the checks that throw it.
//
// Every run-time failure a user can cause throws a subclass of pretext::error whose message names
// the operation, the shapes or the file involved, and what to do about it.
#pragma once

#include <sstream>  // message building: g++ 12 has no std::format
#include <stdexcept>
#include <string>
#include <utility>

#include "pretext/config.hpp"

namespace pretext {

/// Base of every exception pretext throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shapes that do not fit the operation (dynamic sizes; static ones fail to compile).
class shape_error : public error {
 public:
  using error::error;
};

/// A file that cannot be read or written, or whose content is malformed.
class io_error : public error {
 public:
  using error::error;
};

/// Bad configuration: an out-of-range option, a thread count of zero, an unsupported setting.
class config_error : public error {
 public:
  using error::error;
};

/// An index outside a tensor's bounds.
class index_error : public error {
 public:
  using error::error;
};

/// A NaN or infinity where a finite number is needed: a loss or gradient during training, or an
/// operation's output under autograd anomaly detection.
class numeric_error : public error {
 public:
  using error::error;
};

/// A failure reported by the CUDA runtime or a CUDA library.
class cuda_error : public error {
 public:
  using error::error;
};

namespace detail {

/// Concatenates anything streamable into a string; used only on error paths.
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

/// Throws Error with the concatenated message. Kept out of line of the callers' hot paths.
template <class Error, class... Args>
[[noreturn]] __attribute__((noinline, cold)) void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace detail
}  // namespace pretext

/// Checks a precondition a user can violate; throws ErrorType with the streamed message parts.
/// Always on, in every build type.
#define PRETEXT_CHECK(cond, ErrorType, ...)            \
  do {                                                 \
    if (__builtin_expect(!(cond), 0)) {                \
      ::pretext::detail::fail<ErrorType>(__VA_ARGS__); \
    }                                                  \
  } while (false)

/// Checks an internal invariant in debug builds only (PRETEXT_DEBUG_CHECKS).
#if PRETEXT_DEBUG_CHECKS
#define PRETEXT_ASSERT(cond)                                                               \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ::pretext::detail::fail<::pretext::error>("pretext internal error: ", #cond, " at ", \
                                                __FILE__, ":", __LINE__);                  \
    }                                                                                      \
  } while (false)
#else
#define PRETEXT_ASSERT(cond) ((void)0)
#endif
