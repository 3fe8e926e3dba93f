// SPDX-License-Identifier: Apache-2.0
// Sequential<Layers...>: layers applied in order, held in a flat tuple (no nested types), named
// "0", "1", ... as torch.nn.Sequential so state dicts match.
//
// Static widths are checked when the type is formed: a layer declares in_width / out_width
// (a number or `dynamic`); layers that declare neither keep the width (activations, dropout).
// Where the previous static output width differs from the next static input width, compilation
// fails in sequential_width_mismatch, whose first error line names the layer and both widths.
// Dynamic widths are checked by each layer when it runs (pretext::shape_error).
#pragma once

#include "pretext/nn/module.hpp"

#include <array>
#include <concepts>
#include <string>
#include <tuple>
#include <utility>

namespace pretext::nn {

namespace detail {

template <class L>
constexpr index_t in_width_of() {
  if constexpr (requires { L::in_width; })
    return L::in_width;
  else
    return dynamic;
}

/// The width after L given the width w before it.
template <class L>
constexpr index_t out_width_after(index_t w) {
  if constexpr (requires { L::out_width; })
    return L::out_width;
  else
    return w;
}

struct WidthMismatch {
  std::size_t layer = 0;  ///< index of the layer whose input does not fit
  index_t previous_out = dynamic, in = dynamic;
};

/// The first static mismatch along the chain, or layer == 0 when there is none.
template <class... Layers>
constexpr WidthMismatch first_width_mismatch() {
  constexpr std::array<index_t, sizeof...(Layers)> ins{in_width_of<Layers>()...};
  std::array<index_t (*)(index_t), sizeof...(Layers)> outs{&out_width_after<Layers>...};
  index_t w = dynamic;
  for (std::size_t i = 0; i < sizeof...(Layers); ++i) {
    if (w != dynamic && ins[i] != dynamic && w != ins[i]) return {i, w, ins[i]};
    w = outs[i](w);
  }
  return {};
}

/// Deleted on purpose: using it is the compile error for a width mismatch. The compiler prints
/// its template arguments, e.g. "use of deleted function ... [with long unsigned int Layer = 2;
/// long int PreviousOutput = 512; long int Input = 256]".
template <std::size_t Layer, index_t PreviousOutput, index_t Input>
void sequential_width_mismatch() = delete;

template <class... Layers>
constexpr bool check_widths() {
  constexpr WidthMismatch m = first_width_mismatch<Layers...>();
  if constexpr (m.layer != 0) sequential_width_mismatch<m.layer, m.previous_out, m.in>();
  return true;
}

/// Whether layer Next can run inside layer L's epilogue on input X. Both opt in by naming
/// their own exact type (nn::ReLU's `fused_in_epilogue`, nn::Linear's `takes_epilogue`), so
/// neither a derived class nor a layer whose call operator merely accepts a second argument is
/// fused by accident.
template <class L, class Next, class X>
concept fuses_next = std::same_as<typename Next::fused_in_epilogue, Next> &&
    std::same_as<typename L::takes_epilogue, L> && requires(const L& l, const X& x) {
  l(x, Next::epilogue);
};

/// The element type shared by the layers that own parameters (float when none do).
template <class... Layers>
struct common_param_type {
  using type = float;
};
template <class L, class... Rest>
struct common_param_type<L, Rest...> {
  using type = std::conditional_t < requires { typename L::value_type; }
  , param_type_t<L>, typename common_param_type<Rest...>::type > ;
};

}  // namespace detail

template <class... Layers>
class Sequential : public Module<Sequential<Layers...>> {
  static_assert(sizeof...(Layers) >= 1, "pretext::nn::Sequential: needs at least one layer");
  static_assert(detail::check_widths<Layers...>());  // fails inside on a static width mismatch

 public:
  using value_type = typename detail::common_param_type<Layers...>::type;
  static constexpr index_t in_width =
      detail::in_width_of<std::tuple_element_t<0, std::tuple<Layers...>>>();
  static constexpr index_t out_width = [] {
    index_t w = in_width;
    ((w = detail::out_width_after<Layers>(w)), ...);
    return w;
  }();
  static constexpr std::size_t size = sizeof...(Layers);

  explicit Sequential(Layers... layers) : layers_(std::move(layers)...) {}
  Sequential() requires(std::is_default_constructible_v<Layers>&&...) = default;

  template <class V>
  void visit(V& v) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (v.module(std::to_string(I), std::get<I>(layers_)), ...);
    }
    (std::index_sequence_for<Layers...>{});
  }

  /// Applies every layer in order; the rank may change on the way (Flatten).
  template <class X>
  auto operator()(const X& x) const {
    return apply<0>(x);
  }

  template <std::size_t I>
  auto& get() noexcept {
    return std::get<I>(layers_);
  }
  template <std::size_t I>
  const auto& get() const noexcept {
    return std::get<I>(layers_);
  }

 private:
  template <std::size_t I>
  using layer_t = std::tuple_element_t<I, std::tuple<Layers...>>;

  template <std::size_t I, class X>
  auto apply(const X& x) const {
    if constexpr (I + 1 == sizeof...(Layers)) {
      return std::get<I>(layers_)(x);
    } else if constexpr (detail::fuses_next<layer_t<I>, layer_t<I + 1>, X>) {
      // Layer I + 1 runs in layer I's epilogue (Linear then ReLU): the same values, one pass
      // and one graph node less.
      auto y = std::get<I>(layers_)(x, layer_t<I + 1>::epilogue);
      if constexpr (I + 2 == sizeof...(Layers))
        return y;
      else
        return apply<I + 2>(y);
    } else {
      return apply<I + 1>(std::get<I>(layers_)(x));
    }
  }

  std::tuple<Layers...> layers_;
};

}  // namespace pretext::nn
