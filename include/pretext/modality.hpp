// SPDX-License-Identifier: Apache-2.0
// Modalities: adapters that turn raw batches into token sequences (B, N, P) or ids (B, N) and
// back (images, signals, text, tabular rows), masking policies over those tokens, and view
// augmenters for joint-embedding pre-training.
#pragma once

#include "pretext/modality/adapter.hpp"
#include "pretext/modality/augment.hpp"
#include "pretext/modality/image.hpp"
#include "pretext/modality/masking.hpp"
#include "pretext/modality/signal.hpp"
#include "pretext/modality/tabular.hpp"
#include "pretext/modality/text.hpp"
