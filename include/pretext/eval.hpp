// SPDX-License-Identifier: Apache-2.0
// eval/: judging a pre-trained encoder on frozen features (N, D): feature extraction,
// standardisation and signed power normalisation, the linear probe (logistic regression with
// L-BFGS) and its fold into an nn::Linear (probe_as_linear: where LP-FT starts fine-tuning;
// probes without power normalisation only), weighted kNN, label
// splits, mean ± std over seeds, results tables and SVG charts. Needs only what the core needs
// (plus POSIX for the atomic file writes).
#pragma once

#include "pretext/eval/features.hpp"
#include "pretext/eval/knn.hpp"
#include "pretext/eval/labels.hpp"
#include "pretext/eval/lbfgs.hpp"
#include "pretext/eval/linear_probe.hpp"
#include "pretext/eval/plot.hpp"
#include "pretext/eval/probe_layer.hpp"
#include "pretext/eval/summary.hpp"
