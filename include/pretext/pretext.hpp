// SPDX-License-Identifier: Apache-2.0
// The umbrella header: everything in pretext that needs only Eigen and xsimd.
// Other parts are included on their own: pretext/io.hpp (zlib, json), pretext/data.hpp (datasets,
// loaders), pretext/train.hpp (trainer, checkpoints; needs io), pretext/eval.hpp (probes, kNN).
#pragma once

#include "pretext/autograd.hpp"
#include "pretext/backend/cpu.hpp"
#include "pretext/core.hpp"
#include "pretext/nn.hpp"
#include "pretext/ops.hpp"
#include "pretext/optim.hpp"
