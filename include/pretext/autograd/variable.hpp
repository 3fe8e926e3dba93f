// SPDX-License-Identifier: Apache-2.0
// Var<T, R>: a tensor that records the operations applied to it, and the backward pass.
//
//   Var<float, 2> w(uniform<float>({10, 784}, gen), /*requires_grad=*/true);
//   Var<float, 0> loss = cross_entropy(matmul(x, w.t()), labels);
//   loss.backward();          // w.grad() now holds dloss/dw, shape (10, 784)
//
// A Var is a cheap handle (a tensor and a shared pointer to its node); copies share the node, so a
// leaf's gradient is visible through every copy. Plain tensors stay plain: only code that works
// on Vars records anything.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/autograd/grad_mode.hpp"
#include "pretext/autograd/node.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext {

template <floating T, int R, device D = Cpu>
class Var;

template <class X>
struct is_var : std::false_type {};
template <class T, int R, class D>
struct is_var<Var<T, R, D>> : std::true_type {};
/// Var<T, R, D> for any T, R, D.
template <class X>
concept var_like = is_var<std::remove_cvref_t<X>>::value;

namespace autograd::detail {
/// Runs the backward pass from root, whose output gradient is already set.
inline void run_backward(const std::shared_ptr<Node>& root, bool retain_graph);
}  // namespace autograd::detail

template <floating T, int R, device D>
class Var {
  static_assert(std::is_same_v<D, Cpu>, "pretext::Var: autograd runs on CPU tensors for now");

 public:
  using value_type = T;
  using device_type = D;
  static constexpr int rank = R;
  using tensor_type = Tensor<T, R, D>;
  using Hook = typename autograd::detail::Leaf<T, R>::Hook;

  Var() = default;
  /// A leaf over `data` (shared, not copied). With requires_grad, backward() accumulates the
  /// gradient with respect to it into grad().
  explicit Var(tensor_type data, bool requires_grad = false) : data_(std::move(data)) {
    if (requires_grad) make_leaf();
  }

  /// The value. Writing into it in place after an operation saved it fails that backward.
  const tensor_type& data() const noexcept { return data_; }
  bool defined() const noexcept { return data_.defined(); }
  const Shape<R>& shape() const noexcept { return data_.shape(); }
  index_t size(int axis) const { return data_.size(axis); }
  index_t numel() const noexcept { return data_.numel(); }
  T item() const { return data_.item(); }

  bool requires_grad() const noexcept { return node_ != nullptr; }
  /// True for variables the user made (with or without requires_grad), false for results of
  /// recorded operations.
  bool is_leaf() const noexcept { return !node_ || node_->is_leaf(); }

  /// Turns a leaf's gradient tracking on or off (PyTorch's requires_grad_).
  Var& requires_grad_(bool on = true) {
    PRETEXT_CHECK(is_leaf(), error,
                  "pretext::Var::requires_grad_: only a leaf can change it; "
                  "this variable is the result of '",
                  node_->name(), "'; use detach() first");
    if (on && !node_) make_leaf();
    if (!on) node_.reset();
    return *this;
  }

  /// The accumulated gradient of a leaf (undefined until a backward pass reaches it).
  const tensor_type& grad() const {
    static const tensor_type none;
    if (!node_) return none;
    PRETEXT_CHECK(node_->is_leaf(), error,
                  "pretext::Var::grad: gradients are kept for leaves "
                  "only; this variable is the result of '",
                  node_->name(), "'; register a hook on a leaf or compute with the leaf instead");
    return leaf().grad;
  }
  /// Replaces a leaf's gradient (optimizer tests, gradient surgery); undefined clears it.
  void set_grad(tensor_type g) const {
    PRETEXT_CHECK(node_ && node_->is_leaf(), error,
                  "pretext::Var::set_grad: needs a leaf that requires grad");
    PRETEXT_CHECK(!g.defined() || g.shape() == shape(), shape_error,
                  "pretext::Var::set_grad: gradient shape ", detail::shape_string(g.shape()),
                  " differs from the variable's ", detail::shape_string(shape()));
    leaf().grad = std::move(g);
  }
  /// Forgets the accumulated gradient (the next backward starts from nothing).
  void zero_grad() const {
    if (node_ && node_->is_leaf()) leaf().grad = tensor_type();
  }
  /// Adds a gradient hook on a leaf (see Leaf::Hook); data-parallel all-reduce is one.
  void register_hook(Hook hook) const {
    PRETEXT_CHECK(node_ && node_->is_leaf(), error,
                  "pretext::Var::register_hook: hooks go on leaves that require grad");
    leaf().hooks.push_back(std::move(hook));
  }

  /// The same value, cut from the graph (shares storage; nothing flows back through it).
  Var detach() const { return Var(data_); }

  /// Backward from a scalar (one element): d(this)/d(leaf) accumulates into every leaf's grad.
  /// The graph is freed afterwards unless retain_graph.
  void backward(bool retain_graph = false) const {
    PRETEXT_CHECK(numel() == 1, shape_error, "pretext::Var::backward: the output has shape ",
                  detail::shape_string(shape()),
                  "; backward() without a gradient needs a single element (reduce it to a "
                  "scalar loss, or pass the output gradient)");
    backward(tensor_type::ones(shape()), retain_graph);
  }
  /// Backward with a given gradient of the same shape as this variable.
  void backward(const tensor_type& grad_output, bool retain_graph = false) const {
    PRETEXT_CHECK(node_, error,
                  "pretext::Var::backward: this variable does not require grad (no input of "
                  "its computation did, or it was computed under NoGrad)");
    PRETEXT_CHECK(grad_output.shape() == shape(), shape_error,
                  "pretext::Var::backward: gradient shape ",
                  detail::shape_string(grad_output.shape()), " differs from the output's ",
                  detail::shape_string(shape()));
    node_->accumulate(grad_output);
    autograd::detail::run_backward(node_, retain_graph);
  }

  /// The graph node (null when no gradient is tracked). For autograd internals.
  const std::shared_ptr<autograd::detail::Slot<T, R>>& node() const noexcept { return node_; }
  /// A result of a recorded operation. For autograd internals.
  static Var from_node(tensor_type data, std::shared_ptr<autograd::detail::Slot<T, R>> node) {
    Var v(std::move(data));
    v.node_ = std::move(node);
    return v;
  }

 private:
  void make_leaf() {
    node_ = std::allocate_shared<autograd::detail::Leaf<T, R>>(
        autograd::detail::PoolAllocator<autograd::detail::Leaf<T, R>>{}, data_.shape());
  }
  autograd::detail::Leaf<T, R>& leaf() const {
    return static_cast<autograd::detail::Leaf<T, R>&>(*node_);
  }

  tensor_type data_;
  std::shared_ptr<autograd::detail::Slot<T, R>> node_;
};

namespace autograd::detail {

inline void run_backward(const std::shared_ptr<Node>& root, bool retain_graph) {
  // Topological order without recursion: an iterative depth-first search lists every reachable
  // node after all of its inputs (post-order); running that list backwards visits each node
  // before its inputs. `order` owns the nodes, so releasing a node's inputs during the pass
  // cannot free one that still has to run. The vectors are per thread and keep their capacity,
  // so steady-state passes do not allocate.
  struct Frame {
    const std::shared_ptr<Node>* node;
    int next_input;
  };
  thread_local std::vector<std::shared_ptr<Node>> order;
  thread_local std::vector<Frame> stack;
  static std::atomic<std::uint64_t> passes{0};
  const std::uint64_t pass = passes.fetch_add(1, std::memory_order_relaxed) + 1;
  struct Cleanup {
    bool ok = false;
    ~Cleanup() {
      if (!ok)
        for (auto& n : order) n->clear_grad();
      order.clear();
      stack.clear();
    }
  } cleanup;

  root->mark = pass;
  stack.push_back({&root, 0});
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next_input < Node::max_inputs) {
      const auto& in = (*f.node)->input(f.next_input++);
      if (in && in->mark != pass) {
        in->mark = pass;
        stack.push_back({&in, 0});  // f may dangle from here on; it is not used again
      }
      continue;
    }
    order.push_back(*f.node);
    stack.pop_back();
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    if (n.has_grad()) n.backward();
    if (!retain_graph) n.release();
  }
  cleanup.ok = true;
}

/// Records an operation: the result `out` gets a node whose backward is fn (see OpNode) when
/// gradients are enabled and some input requires one; otherwise it is a plain constant.
template <class Fn, floating T, int R, var_like... Inputs>
Var<T, R> record(const char* name, Tensor<T, R> out, Fn&& fn, const Inputs&... inputs) {
  check_finite(out, name, "the output of");
  if (!grad_enabled() || !(inputs.requires_grad() || ...)) return Var<T, R>(std::move(out));
  using NodeT = OpNode<T, R, std::decay_t<Fn>, std::remove_cvref_t<Inputs>...>;
  auto node =
      std::allocate_shared<NodeT>(PoolAllocator<NodeT>{}, name, out.shape(), std::forward<Fn>(fn));
  int i = 0;
  ((node->set_input(i++, inputs.node())), ...);
  return Var<T, R>::from_node(std::move(out), std::move(node));
}

/// A tensor saved for backward (checks in-place modification when used).
template <class T, int R>
Saved<T, R> save(Tensor<T, R> t) noexcept {
  return Saved<T, R>(std::move(t));
}

}  // namespace autograd::detail
}  // namespace pretext
