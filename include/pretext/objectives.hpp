// SPDX-License-Identifier: Apache-2.0
// Pre-training objectives, each a module satisfying train::Objective for the batches of its
// adapter: masked prediction (MAE, BERT / SimMIM), autoencoding (plain, denoising, variational)
// and next-token prediction, plus the parts they are built from (masking policies, noise).
#pragma once

#include "pretext/modality.hpp"
#include "pretext/pretext.hpp"  // layers and optimizers to build the parts from
#include "pretext/objectives/autoencoding.hpp"
#include "pretext/objectives/baselines.hpp"
#include "pretext/objectives/collapse.hpp"
#include "pretext/objectives/contrastive.hpp"
#include "pretext/objectives/joint_embedding.hpp"
#include "pretext/objectives/masked_prediction.hpp"
#include "pretext/objectives/next_token.hpp"
#include "pretext/objectives/parts.hpp"
