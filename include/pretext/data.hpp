// SPDX-License-Identifier: Apache-2.0
// data/: datasets (tensors, subsets, per-sample transforms), collation into batches, the
// seeded prefetching DataLoader, and index sets (class-balanced fractions, train/val splits).
// Depends only on core/.
#pragma once

#include "pretext/data/seed.hpp"
#include "pretext/data/dataset.hpp"
#include "pretext/data/collate.hpp"
#include "pretext/data/loader.hpp"
#include "pretext/data/subset.hpp"
