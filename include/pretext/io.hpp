// SPDX-License-Identifier: Apache-2.0
// io/: file readers and writers (IDX, safetensors, npy, WAV, CSV, text). Needs zlib and
// nlohmann-json: link the pretext::io target.
#pragma once

#include "pretext/io/idx.hpp"
#include "pretext/io/safetensors.hpp"
#include "pretext/nn/state_dict.hpp"
#include "pretext/optim/state_io.hpp"
#include "pretext/io/npy.hpp"
#include "pretext/io/wav.hpp"
#include "pretext/io/csv.hpp"
#include "pretext/io/text.hpp"
