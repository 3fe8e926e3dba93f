// SPDX-License-Identifier: Apache-2.0
// train/: the Objective concept, the trainer (progress, metrics log, callbacks, checkpoints,
// resume, signals, NaN detection) and supervised classification. Needs the pretext::io target
// (checkpoints are safetensors).
#pragma once

#include "pretext/train/callback.hpp"
#include "pretext/train/checkpoint.hpp"
#include "pretext/train/classifier.hpp"
#include "pretext/train/finetune.hpp"
#include "pretext/train/metrics_log.hpp"
#include "pretext/train/objective.hpp"
#include "pretext/train/progress.hpp"
#include "pretext/train/signals.hpp"
#include "pretext/train/trainer.hpp"
