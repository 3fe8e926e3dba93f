// SPDX-License-Identifier: Apache-2.0
// Graph nodes of the define-by-run autograd.
//
// Every variable that requires a gradient points at one node: a Leaf for variables the user made,
// an OpNode for results of operations. A node knows the nodes of its inputs (at most
// Node::max_inputs), a sequence number that orders it after them, and the gradient accumulated
// for its output during a backward pass. Nodes are reference counted by the variables and nodes
// that use them, so a graph nobody can reach any more is freed at once, and they come from
// pretext's caching allocator, so a training step in steady state does not call malloc.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "pretext/autograd/grad_mode.hpp"
#include "pretext/core/allocator.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/ops/elementwise.hpp"

namespace pretext::autograd::detail {

/// std::allocator-compatible allocator over pretext's caching host allocator, for nodes.
template <class U>
struct PoolAllocator {
  using value_type = U;
  PoolAllocator() noexcept = default;
  template <class V>
  PoolAllocator(const PoolAllocator<V>&) noexcept {}  // NOLINT: rebinding must be implicit
  U* allocate(std::size_t n) { return static_cast<U*>(pretext::host_allocate(n * sizeof(U))); }
  void deallocate(U* p, std::size_t n) noexcept { pretext::host_deallocate(p, n * sizeof(U)); }
  template <class V>
  bool operator==(const PoolAllocator<V>&) const noexcept {
    return true;
  }
};

/// Under DetectAnomaly: throws numeric_error when t holds a NaN or an infinity. `what` says
/// whose values these are ("the output of 'log'").
template <class T, int R>
void check_finite(const Tensor<T, R>& t, const char* op, const char* what) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!anomaly_detection_enabled() || !t.defined()) return;
    const Tensor<T, R> c = t.contiguous();
    for (index_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(c.data()[i]))
        pretext::detail::fail<numeric_error>(
            "pretext::autograd (anomaly detection): ", what, " '", op, "' holds ", c.data()[i],
            " at flat index ", i, " of shape ", pretext::detail::shape_string(c.shape()),
            "; check that op's inputs (a log or division of zero, an overflow, a too large "
            "learning rate)");
  }
}

inline std::uint64_t next_sequence() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

/// A node of the graph, independent of element type and rank.
class Node {
 public:
  static constexpr int max_inputs = 4;

  Node() noexcept : seq_(next_sequence()) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node() { release_inputs(); }

  /// The operation's name, for error messages ("mul", "matmul", "leaf").
  virtual const char* name() const noexcept = 0;
  virtual bool is_leaf() const noexcept { return false; }
  /// Whether a gradient for this node's output arrived in the current backward pass.
  virtual bool has_grad() const noexcept = 0;
  /// Consumes the output gradient and adds the input gradients to the input nodes.
  virtual void backward() = 0;
  /// Drops the output gradient without using it (a backward pass that failed half-way).
  virtual void clear_grad() noexcept = 0;
  /// Frees what backward needs (saved tensors, links to inputs); the node cannot run again.
  virtual void release() noexcept {
    released_ = true;
    release_inputs();
  }

  bool released() const noexcept { return released_; }
  std::uint64_t sequence() const noexcept { return seq_; }
  const std::shared_ptr<Node>& input(int i) const noexcept {
    return inputs_[static_cast<std::size_t>(i)];
  }
  void set_input(int i, std::shared_ptr<Node> n) noexcept {
    inputs_[static_cast<std::size_t>(i)] = std::move(n);
  }

  std::uint64_t mark = 0;  ///< the backward pass that last visited this node (engine scratch)

 private:
  // A chain of 100,000 operations must not be freed by 100,000 nested destructor calls: inputs
  // whose last owner is this node go to a per-thread list that the outermost call drains.
  void release_inputs() noexcept {
    thread_local std::vector<std::shared_ptr<Node>> pending;
    thread_local bool draining = false;
    for (auto& in : inputs_) {
      if (!in) continue;
      try {
        pending.push_back(std::move(in));
      } catch (...) {
        in.reset();  // out of memory: fall back to recursion for this one
      }
    }
    if (draining) return;
    draining = true;
    while (!pending.empty()) {
      auto last = std::move(pending.back());
      pending.pop_back();
      last.reset();
    }
    draining = false;
  }

  std::array<std::shared_ptr<Node>, max_inputs> inputs_{};
  std::uint64_t seq_;
  bool released_ = false;
};

/// A node whose output is a Tensor<T, R>: it collects the output's gradient.
template <class T, int R>
class Slot : public Node {
 public:
  explicit Slot(const Shape<R>& shape) noexcept : shape_(shape) {}

  const Shape<R>& shape() const noexcept { return shape_; }
  bool has_grad() const noexcept final { return grad_.defined(); }
  void clear_grad() noexcept final {
    grad_ = Tensor<T, R>();
    owned_ = false;
  }

  /// Adds g to the output gradient. A gradient nobody else references (a fresh kernel result)
  /// is kept as is and later ones are added into it; a shared one is never written to.
  void accumulate(Tensor<T, R> g) {
    PRETEXT_CHECK(g.shape() == shape_, shape_error, "pretext::autograd: the gradient for '", name(),
                  "' has shape ", pretext::detail::shape_string(g.shape()),
                  " but its output has shape ", pretext::detail::shape_string(shape_));
    const bool exclusive = g.storage().use_count() == 1 && g.is_contiguous();
    if (!grad_.defined()) {
      grad_ = std::move(g);
      owned_ = exclusive;
    } else if (owned_) {
      add_(grad_, g);
    } else if (exclusive) {
      add_(g, grad_);
      grad_ = std::move(g);
      owned_ = true;
    } else {
      grad_ = add(grad_, g);
      owned_ = true;
    }
  }

 protected:
  /// Moves the output gradient out; `exclusive` tells whether nobody else references it.
  Tensor<T, R> take_grad(bool* exclusive = nullptr) noexcept {
    if (exclusive) *exclusive = owned_;
    owned_ = false;
    Tensor<T, R> g = std::move(grad_);
    grad_ = Tensor<T, R>();
    return g;
  }

 private:
  Shape<R> shape_;
  Tensor<T, R> grad_;
  bool owned_ = false;
};

/// The node of a variable the user created with requires_grad: it keeps the accumulated
/// gradient across backward passes and runs the gradient hooks.
template <class T, int R>
class Leaf final : public Slot<T, R> {
 public:
  /// A hook sees the gradient arriving at the leaf in one backward pass, before it is added to
  /// grad; it may return a replacement of the same shape, or an undefined tensor to keep it.
  using Hook = std::function<Tensor<T, R>(const Tensor<T, R>&)>;

  using Slot<T, R>::Slot;
  const char* name() const noexcept override { return "leaf"; }
  bool is_leaf() const noexcept override { return true; }
  void release() noexcept override {}  // leaves outlive every graph they take part in

  void backward() override {
    bool exclusive = false;
    Tensor<T, R> g = this->take_grad(&exclusive);
    for (const auto& hook : hooks) {
      Tensor<T, R> r = hook(g);
      if (!r.defined()) continue;
      PRETEXT_CHECK(r.shape() == g.shape(), shape_error,
                    "pretext::autograd: a gradient hook returned shape ",
                    pretext::detail::shape_string(r.shape()), " for a leaf of shape ",
                    pretext::detail::shape_string(g.shape()), "; return the same shape");
      g = std::move(r);
      exclusive = g.storage().use_count() == 1 && g.is_contiguous();
    }
    if (!grad.defined())
      grad = exclusive ? std::move(g) : g.clone();
    else
      add_(grad, g);
  }

  Tensor<T, R> grad;        ///< accumulated over backward passes until zeroed
  std::vector<Hook> hooks;  ///< run in registration order
};

/// A tensor saved for backward, with the storage version seen when it was saved.
template <class T, int R>
class Saved {
 public:
  Saved() = default;
  explicit Saved(Tensor<T, R> t) noexcept : t_(std::move(t)), version_(t_.version()) {}

  /// The tensor, after checking that nothing wrote into it in place since it was saved.
  const Tensor<T, R>& get(const char* op) const {
    PRETEXT_CHECK(t_.version() == version_, error, "pretext::autograd: a tensor that '", op,
                  "' saved for backward was modified in place afterwards (its version went from ",
                  version_, " to ", t_.version(),
                  "); modify a clone() instead, or do the in-place update before '", op, "'");
    return t_;
  }

 private:
  Tensor<T, R> t_;
  std::uint64_t version_ = 0;
};

/// The node of an operation's result. Fn computes the input gradients:
///   fn(const Tensor<T, R>& grad_out, const std::array<bool, N>& needed)
///     -> std::tuple<Tensor<T_i, R_i>...>  (or one Tensor when N == 1)
/// where an input whose entry in `needed` is false may get an undefined tensor.
template <class T, int R, class Fn, class... Inputs>
class OpNode final : public Slot<T, R> {
  static constexpr std::size_t N = sizeof...(Inputs);
  static_assert(N >= 1 && N <= Node::max_inputs, "pretext::autograd: too many inputs for a node");

 public:
  OpNode(const char* name, const Shape<R>& shape, Fn fn) : Slot<T, R>(shape), name_(name) {
    fn_.emplace(std::move(fn));
  }
  const char* name() const noexcept override { return name_; }
  void release() noexcept override {
    fn_.reset();
    Node::release();
  }

  void backward() override {
    PRETEXT_CHECK(fn_.has_value(), error, "pretext::autograd: backward reached '", name_,
                  "' a second time, but the first backward() freed its graph; pass "
                  "retain_graph = true to the first call to backward through it twice");
    const Tensor<T, R> g = this->take_grad();
    std::array<bool, N> needed{};
    for (std::size_t i = 0; i < N; ++i) needed[i] = this->input(static_cast<int>(i)) != nullptr;
    auto grads = (*fn_)(g, needed);
    if constexpr (N == 1 && !is_tuple<decltype(grads)>::value)
      dispatch<0>(std::tuple(std::move(grads)));
    else
      dispatch<0>(std::move(grads));
  }

 private:
  template <class X>
  struct is_tuple : std::false_type {};
  template <class... X>
  struct is_tuple<std::tuple<X...>> : std::true_type {};

  template <std::size_t I, class Tuple>
  void dispatch(Tuple&& grads) {
    if constexpr (I < N) {
      using In = std::tuple_element_t<I, std::tuple<Inputs...>>;
      auto& gi = std::get<I>(grads);
      if (Node* n = this->input(static_cast<int>(I)).get(); n && gi.defined()) {
        check_finite(gi, name_, "an input gradient computed by the backward of");
        static_cast<Slot<typename In::value_type, In::rank>*>(n)->accumulate(std::move(gi));
      }
      dispatch<I + 1>(std::forward<Tuple>(grads));
    }
  }

  const char* name_;
  std::optional<Fn> fn_;
};

}  // namespace pretext::autograd::detail
