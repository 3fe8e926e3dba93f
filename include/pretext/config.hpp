// SPDX-License-Identifier: Apache-2.0
// Feature macros. CMake sets PRETEXT_CUDA / PRETEXT_MPI on the target when those parts are on;
// everything else here derives from the compiler's own macros.
#pragma once

#include <cstddef>  // std::size_t

// PRETEXT_DEBUG_CHECKS: element access and internal invariants are checked. On by default in
// builds without NDEBUG (debug), off in release, overridable by defining it to 0 or 1.
#ifndef PRETEXT_DEBUG_CHECKS
#ifdef NDEBUG
#define PRETEXT_DEBUG_CHECKS 0
#else
#define PRETEXT_DEBUG_CHECKS 1
#endif
#endif

#ifndef PRETEXT_CUDA
#define PRETEXT_CUDA 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PRETEXT_ALWAYS_INLINE inline __attribute__((always_inline))
#define PRETEXT_NOINLINE __attribute__((noinline))
#define PRETEXT_RESTRICT __restrict__
#else
#define PRETEXT_ALWAYS_INLINE inline
#define PRETEXT_NOINLINE
#define PRETEXT_RESTRICT
#endif

namespace pretext {
/// Alignment of every tensor allocation, in bytes: one cache line, and enough for AVX-512 loads.
inline constexpr std::size_t alignment = 64;
}  // namespace pretext
