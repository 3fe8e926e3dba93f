// SPDX-License-Identifier: Apache-2.0
// io/: file readers (IDX for now). Needs zlib: link the pretext::io target.
#pragma once

#include "pretext/io/idx.hpp"
#include "pretext/io/safetensors.hpp"
#include "pretext/nn/state_dict.hpp"
#include "pretext/optim/state_io.hpp"
