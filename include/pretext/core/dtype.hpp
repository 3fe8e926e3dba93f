// SPDX-License-Identifier: Apache-2.0
// Element types a tensor may hold, and the subset kernels compute with.
#pragma once

#include <cstdint>
#include <type_traits>

namespace pretext {

/// Element types a tensor can store: floating point for values, integers for indices and masks.
/// (bf16 storage will join this list; it computes in float.)
template <class T>
concept element =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::uint8_t>;

/// Element types the arithmetic kernels compute with.
template <class T>
concept floating = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// The name safetensors and PyTorch use for T.
template <element T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>)
    return "float32";
  else if constexpr (std::is_same_v<T, double>)
    return "float64";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "int64";
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return "int32";
  else
    return "uint8";
}

}  // namespace pretext
