// SPDX-License-Identifier: Apache-2.0
// Forward declarations of pretext's main types, for headers that only name them.
#pragma once

#include <cstdint>

namespace pretext {

using index_t = std::int64_t;
struct Cpu;
struct Cuda;
class Generator;
class error;
class shape_error;
class io_error;
class config_error;
class index_error;
class cuda_error;

}  // namespace pretext
