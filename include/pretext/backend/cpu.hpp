// SPDX-License-Identifier: Apache-2.0
// backend/cpu/: raw-pointer CPU kernels (SIMD via xsimd) and the shared thread pool.
#pragma once

#include "pretext/backend/cpu/activation.hpp"
#include "pretext/backend/cpu/conv.hpp"
#include "pretext/backend/cpu/elementwise.hpp"
#include "pretext/backend/cpu/functors.hpp"
#include "pretext/backend/cpu/fused.hpp"
#include "pretext/backend/cpu/gemm.hpp"
#include "pretext/backend/cpu/reduce.hpp"
#include "pretext/backend/cpu/rowwise.hpp"
#include "pretext/backend/cpu/simd.hpp"
#include "pretext/backend/cpu/threading.hpp"
