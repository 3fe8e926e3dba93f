// SPDX-License-Identifier: Apache-2.0
// pretext version, defined once here (CMake reads it from this file).
#pragma once

#define PRETEXT_VERSION_MAJOR 0
#define PRETEXT_VERSION_MINOR 1
#define PRETEXT_VERSION_PATCH 0

namespace pretext {
inline constexpr int version_major = PRETEXT_VERSION_MAJOR;
inline constexpr int version_minor = PRETEXT_VERSION_MINOR;
inline constexpr int version_patch = PRETEXT_VERSION_PATCH;
}  // namespace pretext
