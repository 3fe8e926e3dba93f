// SPDX-License-Identifier: Apache-2.0
// Reverse-mode automatic differentiation: Var, backward, NoGrad, differentiable ops, losses and
// gradcheck.
#pragma once

#include "pretext/autograd/grad_mode.hpp"
#include "pretext/autograd/gradcheck.hpp"
#include "pretext/autograd/losses.hpp"
#include "pretext/autograd/node.hpp"
#include "pretext/autograd/ops_batch_norm.hpp"
#include "pretext/autograd/ops_conv.hpp"
#include "pretext/autograd/ops_index.hpp"
#include "pretext/autograd/ops_linalg.hpp"
#include "pretext/autograd/ops_pointwise.hpp"
#include "pretext/autograd/ops_reduce.hpp"
#include "pretext/autograd/ops_rowwise.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/autograd/variable.hpp"
