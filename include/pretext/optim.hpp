// SPDX-License-Identifier: Apache-2.0
// Optimizers (SGD, AdamW, LARS), parameter groups, schedules, gradient clipping and EMA.
// (Saving optimizer state lives in pretext/optim/state_io.hpp, which needs the io target.)
#pragma once

#include "pretext/optim/adamw.hpp"
#include "pretext/optim/clip.hpp"
#include "pretext/optim/ema.hpp"
#include "pretext/optim/lars.hpp"
#include "pretext/optim/optimizer.hpp"
#include "pretext/optim/schedule.hpp"
#include "pretext/optim/sgd.hpp"
