// SPDX-License-Identifier: Apache-2.0
// Device tags: where a tensor's elements live. Part of the tensor's type, so a kernel for the
// wrong device fails to compile instead of failing at run time.
#pragma once

#include <type_traits>

namespace pretext {

/// Host memory; kernels in backend/cpu.
struct Cpu {
  static constexpr const char* name = "cpu";
};

/// NVIDIA GPU memory; kernels in backend/cuda, available only when built with PRETEXT_CUDA.
struct Cuda {
  static constexpr const char* name = "cuda";
};

/// A device tag type.
template <class D>
concept device = std::is_same_v<D, Cpu> || std::is_same_v<D, Cuda>;

}  // namespace pretext
