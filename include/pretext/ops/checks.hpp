// SPDX-License-Identifier: Apache-2.0
// Compile-time checks shared by the tensor operations: each names the operation in its message,
// which becomes the first line of the compiler's error.
#pragma once

#include <type_traits>

#include "pretext/core/dtype.hpp"
#include "pretext/core/tensor.hpp"

/// Both tensor types A and B have the same element type and device.
#define PRETEXT_STATIC_CHECK_SAME_KIND(op, A, B)                                  \
  static_assert(std::is_same_v<typename A::value_type, typename B::value_type>,   \
                "pretext::" op                                                    \
                ": operands must have the same element type; "                    \
                "convert one first");                                             \
  static_assert(std::is_same_v<typename A::device_type, typename B::device_type>, \
                "pretext::" op ": operands must be on the same device")

/// Tensor type A computes in floating point (float or double).
#define PRETEXT_STATIC_CHECK_FLOATING(op, A)                 \
  static_assert(::pretext::floating<typename A::value_type>, \
                "pretext::" op ": needs a float or double tensor")

/// Tensor type A lives on the CPU (the only backend built so far).
#define PRETEXT_STATIC_CHECK_CPU(op, A)                                  \
  static_assert(std::is_same_v<typename A::device_type, ::pretext::Cpu>, \
                "pretext::" op ": only CPU tensors are supported in this build")
