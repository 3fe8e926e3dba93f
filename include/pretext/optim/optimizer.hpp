// SPDX-License-Identifier: Apache-2.0
// What every optimizer shares: parameter groups with their own hyper-parameters, per-parameter
// state tensors, a step counter, and a learning-rate scale that schedules set each step.
//
// An optimizer Derived derives from Optimizer<Derived, T, Options, Slots> and provides
//   static constexpr std::array state_names{"exp_avg", ...};   // per-parameter state slots
//   void update(const Options&, const ParamRef<T>&, Tensor<T,1>* state, long step, bool fresh);
// The base walks the groups, skips parameters without a gradient, creates zeroed state on first
// use (fresh = true that once) and calls update with flat views (parameters are contiguous).
#pragma once

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/nn/module.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

namespace pretext::optim {

using nn::ParamRef;

/// Parameters sharing hyper-parameters. base_lr is options.lr as given; the schedule scales it.
template <floating T, class Options>
struct ParamGroup {
  std::vector<ParamRef<T>> params;
  Options options;
  double base_lr = options.lr;
};

/// Splits parameters into two groups: those of rank >= 2 (weights of Linear, Conv, Embedding)
/// keep `options`; those of rank <= 1 (biases, norm scales and shifts) get weight decay 0 and,
/// for optimizers with layer-wise adaptation (LARS), no adaptation. The usual recipe of ViT,
/// BERT, SimCLR and BYOL.
template <floating T, class Options>
std::vector<ParamGroup<T, Options>> decay_groups(const std::vector<ParamRef<T>>& params,
                                                 const Options& options) {
  ParamGroup<T, Options> decay{{}, options}, plain{{}, options};
  plain.options.weight_decay = 0;
  if constexpr (requires { options.exclude_from_adaptation; })
    plain.options.exclude_from_adaptation = true;
  for (const auto& p : params) (p.rank() >= 2 ? decay : plain).params.push_back(p);
  std::vector<ParamGroup<T, Options>> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!plain.params.empty()) groups.push_back(std::move(plain));
  return groups;
}

template <class Derived, floating T, class Options, std::size_t Slots>
class Optimizer {
 public:
  using value_type = T;
  using options_type = Options;
  using group_type = ParamGroup<T, Options>;
  static constexpr std::size_t num_slots = Slots;  ///< == Derived::state_names.size()

  /// One group with the given options.
  Optimizer(std::vector<ParamRef<T>> params, Options options) {
    add_param_group(std::move(params), options);
  }
  /// Several groups (see decay_groups).
  explicit Optimizer(std::vector<group_type> groups) {
    for (auto& g : groups) add_param_group(std::move(g.params), g.options);
  }

  void add_param_group(std::vector<ParamRef<T>> params, Options options) {
    Derived::check(options);
    for (const auto& p : params)
      for (const auto& g : groups_)
        for (const auto& q : g.params)
          PRETEXT_CHECK(q.name() != p.name() || q.data().data() != p.data().data(), config_error,
                        "pretext::optim: parameter '", p.name(),
                        "' is in more than one parameter group");
    group_type g{std::move(params), options};
    g.base_lr = options.lr;
    state_.emplace_back(g.params.size());
    groups_.push_back(std::move(g));
  }

  /// One update of every parameter that has a gradient.
  void step() {
    ++step_;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      const auto& g = groups_[gi];
      for (std::size_t pi = 0; pi < g.params.size(); ++pi) {
        const auto& p = g.params[pi];
        auto& slots = state_[gi][pi];
        if (!p.grad().defined()) continue;
        bool fresh = false;
        for (auto& s : slots)
          if (!s.defined()) {
            s = Tensor<T, 1>::zeros(Shape<1>{p.numel()});
            fresh = true;
          }
        derived().update(g.options, p, slots.data(), step_, fresh);
        p.data().bump_version();
      }
    }
  }

  /// Forgets every gradient.
  void zero_grad() {
    for (auto& g : groups_)
      for (auto& p : g.params) p.zero_grad();
  }

  /// Sets every group's learning rate to base_lr * scale (what a schedule returns).
  void set_lr_scale(double scale) {
    for (auto& g : groups_) g.options.lr = g.base_lr * scale;
  }
  double lr(std::size_t group = 0) const { return groups_.at(group).options.lr; }
  long steps_taken() const noexcept { return step_; }

  std::vector<group_type>& param_groups() noexcept { return groups_; }
  const std::vector<group_type>& param_groups() const noexcept { return groups_; }

  /// Every state tensor that exists, named "<parameter>.<slot>" (e.g. "0.weight.exp_avg"), flat.
  std::vector<std::pair<std::string, Tensor<T, 1>>> state_tensors() const {
    std::vector<std::pair<std::string, Tensor<T, 1>>> out;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t pi = 0; pi < groups_[gi].params.size(); ++pi)
        for (std::size_t s = 0; s < num_slots; ++s)
          if (state_[gi][pi][s].defined())
            out.emplace_back(groups_[gi].params[pi].name() + "." + Derived::state_names[s],
                             state_[gi][pi][s]);
    return out;
  }
  /// Sets the step counter and the state tensors by name (the inverse of state_tensors()); find
  /// returns the flat tensor for a name or an undefined one when absent.
  template <class Find>
  void load_state(long steps, Find&& find) {
    step_ = steps;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t pi = 0; pi < groups_[gi].params.size(); ++pi)
        for (std::size_t s = 0; s < num_slots; ++s) {
          const auto& p = groups_[gi].params[pi];
          const std::string name = p.name() + "." + Derived::state_names[s];
          Tensor<T, 1> t = find(name);
          PRETEXT_CHECK(!t.defined() || t.numel() == p.numel(), shape_error,
                        "pretext::optim: state '", name, "' has ", t.numel(),
                        " elements but the parameter has ", p.numel());
          state_[gi][pi][s] = t.defined() ? t.clone() : Tensor<T, 1>();
        }
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  std::vector<group_type> groups_;
  std::vector<std::vector<std::array<Tensor<T, 1>, num_slots>>> state_;
  long step_ = 0;
};

}  // namespace pretext::optim
