// SPDX-License-Identifier: Apache-2.0
// The umbrella header: everything in pretext that needs only Eigen and xsimd.
// Heavier parts (io/, and later data/, CUDA, MPI) are included on their own.
#pragma once

#include "pretext/autograd.hpp"
#include "pretext/backend/cpu.hpp"
#include "pretext/core.hpp"
#include "pretext/nn.hpp"
#include "pretext/ops.hpp"
#include "pretext/optim.hpp"
