// SPDX-License-Identifier: Apache-2.0
// A repeated forward + backward makes no malloc calls once warm: nodes and tensors come from the
// caching allocator, the engine's work lists keep their capacity.
//
// Counts every global operator new of this test binary (test_allocator.cpp replaces it) and the
// caching allocator's trips to the system allocator.
#include "reference.hpp"

using namespace pretext;

TEST_CASE("steady-state forward and backward allocate nothing from the system") {
  Generator g(5);
  Var<float, 2> w1(normal<float>({32, 16}, g), true), w2(normal<float>({4, 32}, g), true);
  Var<float, 1> b1(normal<float>({32}, g), true), b2(normal<float>({4}, g), true);
  Var<float, 1> gamma(Tensor<float, 1>::ones({32}), true),
      beta(Tensor<float, 1>::zeros({32}), true);
  const Var<float, 2> x(normal<float>({8, 16}, g));
  const auto labels = Tensor<std::int64_t, 1>::from({8}, {0, 1, 2, 3, 0, 1, 2, 3});
  auto step = [&] {
    const auto h = layer_norm(linear(x, w1, b1, cpu::Activation::gelu), gamma, beta);
    const auto logits = linear(h, w2, b2);
    auto loss = cross_entropy(logits, labels) + 0.1f * mean(square(softmax(logits)));
    loss.backward();
    for (const auto* p : {&w1, &w2}) p->zero_grad();
    for (const auto* p : {&b1, &b2, &gamma, &beta}) p->zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();  // warm the caches
  const long news = test::operator_new_calls();
  const auto sys = allocator_stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(test::operator_new_calls() - news == 0);
  CHECK(allocator_stats().system_allocations - sys == 0);
}
