// SPDX-License-Identifier: Apache-2.0
// The module convention. A module is a class deriving from Module<Self, T> that lists what it
// owns in one member template:
//
//   template <class V> void visit(V& v) {
//     v.param("weight", weight);   // Var<T, R>: a trainable parameter
//     v.buffer("running_mean", m); // Tensor<T, R>: state saved with the module, not trained
//     v.module("fc1", fc1);        // a child module: its names get the prefix "fc1."
//   }
//
// From that one list the base derives PyTorch's module API: named_parameters() with dotted
// names ("blocks.0.attn.qkv.weight"), parameters(), buffers, train()/eval(), zero_grad(),
// num_parameters() and a deep copy (clone(), for EMA teachers). Nothing is virtual: a visitor is
// a template argument, so walking a model compiles to straight-line code.
#pragma once

#include "pretext/autograd/variable.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pretext::nn {

/// A width known only at run time: Linear<dynamic, dynamic>(in, out).
inline constexpr index_t dynamic = -1;

template <class Self>
class Module;

/// A module is a class deriving from Module<itself>.
template <class M>
concept module = std::derived_from<M, Module<M>>;

/// The element type of a module's parameters: its value_type, or float for modules that own no
/// parameters (activations, dropout).
template <class M>
struct param_type {
  using type = float;
};
template <class M>
requires requires {
  typename M::value_type;
}
struct param_type<M> {
  using type = typename M::value_type;
};
template <class M>
using param_type_t = typename param_type<M>::type;

namespace detail {

template <class T, std::size_t... R>
auto var_ptr_variant(std::index_sequence<R...>) -> std::variant<Var<T, static_cast<int>(R)>*...>;
template <class T, std::size_t... R>
auto tensor_ptr_variant(std::index_sequence<R...>)
    -> std::variant<Tensor<T, static_cast<int>(R)>*...>;

/// Joins a prefix and a name with a dot ("" + "weight" = "weight"). An empty name adds nothing:
/// v.module("", inner) makes a wrapper whose state dict is inner's.
inline std::string dotted(std::string_view prefix, std::string_view name) {
  std::string s(prefix);
  if (name.empty()) return s;
  if (!s.empty()) s += '.';
  s += name;
  return s;
}

}  // namespace detail

/// A named reference to one parameter of a module, whatever its rank. Parameters are contiguous,
/// so data() and grad() give flat views that alias them: optimizers work on those.
template <floating T>
class ParamRef {
 public:
  using var_variant = decltype(detail::var_ptr_variant<T>(
      std::make_index_sequence<pretext::detail::max_rank + 1>{}));

  template <int R>
  ParamRef(std::string name, Var<T, R>* v) : name_(std::move(name)), var_(v) {}

  const std::string& name() const noexcept { return name_; }
  int rank() const {
    return std::visit([](auto* v) { return static_cast<int>(v->shape().size()); }, var_);
  }
  std::vector<index_t> shape() const {
    return std::visit(
        [](auto* v) { return std::vector<index_t>(v->shape().begin(), v->shape().end()); }, var_);
  }
  index_t numel() const {
    return std::visit([](auto* v) { return v->numel(); }, var_);
  }
  /// The values, flat (aliases the parameter: writing into it changes the model).
  Tensor<T, 1> data() const {
    return std::visit([](auto* v) { return v->data().reshape({v->numel()}); }, var_);
  }
  /// The accumulated gradient, flat; undefined when no backward pass reached the parameter.
  Tensor<T, 1> grad() const {
    return std::visit(
        [](auto* v) {
          const auto& g = v->grad();
          return g.defined() ? g.contiguous().reshape({v->numel()}) : Tensor<T, 1>();
        },
        var_);
  }
  /// Replaces the gradient (given flat; reshaped to the parameter's shape).
  void set_grad(const Tensor<T, 1>& g) const {
    std::visit(
        [&](auto* v) {
          using V = std::remove_pointer_t<decltype(v)>;
          v->set_grad(g.defined() ? g.reshape(v->shape()) : typename V::tensor_type());
        },
        var_);
  }
  void zero_grad() const {
    std::visit([](auto* v) { v->zero_grad(); }, var_);
  }
  bool requires_grad() const {
    return std::visit([](auto* v) { return v->requires_grad(); }, var_);
  }
  /// Calls f(Var<T, R>&) on the parameter itself.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](auto* v) -> decltype(auto) { return f(*v); }, var_);
  }

 private:
  std::string name_;
  var_variant var_;
};

/// A named reference to one buffer (running statistics and the like).
template <floating T>
class BufferRef {
 public:
  using tensor_variant = decltype(detail::tensor_ptr_variant<T>(
      std::make_index_sequence<pretext::detail::max_rank + 1>{}));

  template <int R>
  BufferRef(std::string name, Tensor<T, R>* t) : name_(std::move(name)), t_(t) {}

  const std::string& name() const noexcept { return name_; }
  std::vector<index_t> shape() const {
    return std::visit(
        [](auto* t) { return std::vector<index_t>(t->shape().begin(), t->shape().end()); }, t_);
  }
  Tensor<T, 1> data() const {
    return std::visit([](auto* t) { return t->reshape({t->numel()}); }, t_);
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](auto* t) -> decltype(auto) { return f(*t); }, t_);
  }

 private:
  std::string name_;
  tensor_variant t_;
};

namespace detail {

/// Walks a module tree keeping the dotted prefix; Fn is called for each parameter, buffer and
/// module (with its full name).
template <class OnParam, class OnBuffer, class OnModule>
class Walker {
 public:
  Walker(OnParam p, OnBuffer b, OnModule m) : on_param_(p), on_buffer_(b), on_module_(m) {}

  template <class T, int R>
  void param(std::string_view name, Var<T, R>& v) {
    on_param_(dotted(prefix_, name), v);
  }
  template <class T, int R>
  void buffer(std::string_view name, Tensor<T, R>& t) {
    on_buffer_(dotted(prefix_, name), t);
  }
  template <class M>
  void module(std::string_view name, M& m) {
    const std::size_t keep = prefix_.size();
    prefix_ = dotted(prefix_, name);
    walk(m);
    prefix_.resize(keep);
  }
  template <class M>
  void walk(M& m) {
    on_module_(prefix_, m);
    m.visit(*this);
  }

 private:
  OnParam on_param_;
  OnBuffer on_buffer_;
  OnModule on_module_;
  std::string prefix_;
};

/// Does nothing with whatever it is given: the default of walk's callbacks.
struct Ignore {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};

template <class M, class OnParam, class OnBuffer = Ignore, class OnModule = Ignore>
void walk(M& m, OnParam p, OnBuffer b = {}, OnModule mod = {}) {
  Walker<OnParam, OnBuffer, OnModule> w(p, b, mod);
  w.walk(m);
}

}  // namespace detail

/// The base of every module (CRTP): Self lists its parameters, buffers and children in visit().
/// Modules with parameters define value_type (their element type).
template <class Self>
class Module {
 public:
  // Return types are deduced (auto): Self is incomplete where this base is instantiated, and its
  // value_type only becomes visible when a member is used.

  /// Every trainable parameter with its dotted name, in declaration order.
  auto named_parameters() {
    std::vector<ParamRef<param_type_t<Self>>> out;
    detail::walk(self(), [&](const std::string& name, auto& v) { out.emplace_back(name, &v); });
    return out;
  }
  /// The same list (PyTorch has both names).
  auto parameters() { return named_parameters(); }
  /// The parameters that train (requires_grad): what an optimizer gets when part of the module
  /// is frozen (EMA teachers, a frozen encoder).
  auto trainable_parameters() {
    auto out = named_parameters();
    std::erase_if(out, [](const auto& p) { return !p.requires_grad(); });
    return out;
  }
  /// Every buffer with its dotted name.
  auto named_buffers() {
    std::vector<BufferRef<param_type_t<Self>>> out;
    detail::walk(self(), detail::Ignore{},
                 [&](const std::string& name, auto& t) { out.emplace_back(name, &t); });
    return out;
  }
  /// The number of trainable scalars.
  index_t num_parameters() {
    index_t n = 0;
    detail::walk(self(), [&](const std::string&, auto& v) { n += v.numel(); });
    return n;
  }
  /// Training mode (dropout active, batch statistics in batch norm) for this module and below.
  Self& train(bool on = true) {
    detail::walk(self(), detail::Ignore{}, detail::Ignore{},
                 [on](const std::string&, auto& m) { m.set_mode_(on); });
    return self();
  }
  /// Evaluation mode: train(false).
  Self& eval() { return train(false); }
  bool is_training() const noexcept { return training_; }
  /// Sets this module's mode only (train() sets the whole tree).
  void set_mode_(bool training) noexcept { training_ = training; }
  /// Forgets every parameter's gradient.
  void zero_grad() {
    detail::walk(self(), [](const std::string&, auto& v) { v.zero_grad(); });
  }
  /// Turns gradient tracking of every parameter on or off (freezing an encoder).
  Self& requires_grad_(bool on = true) {
    detail::walk(self(), [on](const std::string&, auto& v) { v.requires_grad_(on); });
    return self();
  }
  /// A deep copy: the same structure with its own parameter and buffer storage (an EMA teacher
  /// starts as one). Parameters keep their requires_grad; gradients are not copied.
  Self clone() const {
    Self copy(static_cast<const Self&>(*this));
    detail::walk(
        copy,
        [](const std::string&, auto& v) {
          using V = std::remove_cvref_t<decltype(v)>;
          v = V(v.data().clone(), v.requires_grad());
        },
        [](const std::string&, auto& t) { t = t.clone(); });
    return copy;
  }

 private:
  Self& self() noexcept { return static_cast<Self&>(*this); }

  bool training_ = true;
};

/// A module that owns nothing (activations and the like): an empty visit.
template <class Self>
class Stateless : public Module<Self> {
 public:
  template <class V>
  void visit(V&) {}
};

}  // namespace pretext::nn
