// SPDX-License-Identifier: Apache-2.0
// Modules: the module convention, layers, Sequential and initialisation. (Saving and loading
// state dicts lives in pretext/nn/state_dict.hpp, which needs the io target.)
#pragma once

#include "pretext/nn/activation.hpp"
#include "pretext/nn/attention.hpp"
#include "pretext/nn/conv.hpp"
#include "pretext/nn/dropout.hpp"
#include "pretext/nn/embedding.hpp"
#include "pretext/nn/heads.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/linear.hpp"
#include "pretext/nn/module.hpp"
#include "pretext/nn/norm.hpp"
#include "pretext/nn/patch.hpp"
#include "pretext/nn/pool.hpp"
#include "pretext/nn/positional.hpp"
#include "pretext/nn/sequential.hpp"
#include "pretext/nn/transformer.hpp"
