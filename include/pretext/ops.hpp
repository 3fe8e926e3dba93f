// SPDX-License-Identifier: Apache-2.0
// ops/: tensor operations (elementwise with broadcasting, reductions, row kernels, matmul,
// fused updates), each checking its arguments once and then calling a backend kernel.
#pragma once

#include "pretext/ops/elementwise.hpp"
#include "pretext/ops/fused.hpp"
#include "pretext/ops/matmul.hpp"
#include "pretext/ops/reduce.hpp"
#include "pretext/ops/rowwise.hpp"
