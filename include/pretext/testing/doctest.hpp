// SPDX-License-Identifier: Apache-2.0
// doctest helpers for users' own tests (needs doctest; not part of pretext.hpp).
//
//   PRETEXT_CHECK_GRADIENTS([](const Var<double, 2>& x) { return my_op(x); }, std::tuple{x});
//
// runs pretext::gradcheck and records one assertion that prints the report (worst element,
// analytic and numeric derivative) when it fails. Options go last, as for gradcheck.
#pragma once

#include <doctest/doctest.h>

#include "pretext/autograd/gradcheck.hpp"

#define PRETEXT_CHECK_GRADIENTS(...)                                          \
  do {                                                                        \
    const auto pretext_gradcheck_report_ = ::pretext::gradcheck(__VA_ARGS__); \
    INFO(pretext_gradcheck_report_.message);                                  \
    CHECK(pretext_gradcheck_report_.ok);                                      \
  } while (false)
