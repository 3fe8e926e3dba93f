// SPDX-License-Identifier: Apache-2.0
// core/: tensors, shapes, storage, the caching allocator, reproducible random numbers, errors.
#pragma once

#include "pretext/config.hpp"
#include "pretext/core/allocator.hpp"
#include "pretext/core/device.hpp"
#include "pretext/core/dtype.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/random.hpp"
#include "pretext/core/shape.hpp"
#include "pretext/core/storage.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/version.hpp"
