// SPDX-License-Identifier: Apache-2.0
// Linear<In, Out>: y (..., Out) = x (..., In) W^T + b, with W (Out, In) and b (Out) named
// "weight" and "bias" as in torch.nn.Linear, so state dicts move both ways. Widths are template
// arguments when known (checked at compile time in Sequential) or `dynamic` and given to the
// constructor. Default initialisation is PyTorch's: U(-1/sqrt(In), 1/sqrt(In)) for both.
#pragma once

#include "pretext/autograd/ops_linalg.hpp"
#include "pretext/autograd/ops_view.hpp"
#include "pretext/nn/init.hpp"
#include "pretext/nn/module.hpp"

namespace pretext::nn {

namespace detail {

/// The width a constructor was given, checked against a static one.
inline index_t resolve_width(const char* layer, const char* what, index_t fixed, index_t given) {
  PRETEXT_CHECK(given > 0, config_error, "pretext::nn::", layer, ": ", what, " ", given,
                " must be positive");
  PRETEXT_CHECK(fixed == dynamic || fixed == given, config_error, "pretext::nn::", layer, ": ",
                what, " is ", fixed, " in the type but ", given,
                " was given; pass the same or make it dynamic");
  return given;
}

/// Flattens (..., D) to (M, D) and back: layers written for matrices serve any rank >= 2.
template <class T, int R, class F>
Var<T, R> on_rows(const Var<T, R>& x, F&& f) {
  if constexpr (R == 2) {
    return f(x);
  } else {
    std::array<index_t, 2> rows{x.numel() / x.size(R - 1), x.size(R - 1)};
    const Var<T, 2> y = f(reshape(x, rows));
    std::array<index_t, R> out{};
    for (int i = 0; i < R - 1; ++i) out[i] = x.size(i);
    out[R - 1] = y.size(1);
    return reshape(y, out);
  }
}

}  // namespace detail

template <index_t In, index_t Out, floating T = float>
class Linear : public Module<Linear<In, Out, T>> {
  static_assert(In == dynamic || In > 0, "pretext::nn::Linear: In must be positive or dynamic");
  static_assert(Out == dynamic || Out > 0, "pretext::nn::Linear: Out must be positive or dynamic");

 public:
  using value_type = T;
  /// Sequential may hand this layer the next layer's epilogue (see nn::ReLU); a class derived
  /// from Linear names Linear here, not itself, so it is never fused.
  using takes_epilogue = Linear;
  static constexpr index_t in_width = In;
  static constexpr index_t out_width = Out;

  /// Static widths, PyTorch's initialisation from g.
  explicit Linear(Generator& g, bool bias = true) requires(In != dynamic && Out != dynamic)
      : Linear(In, Out, g, bias) {}
  /// Static widths, PyTorch's initialisation from the default generator.
  Linear() requires(In != dynamic && Out != dynamic) : Linear(In, Out, default_generator()) {}
  /// Run-time widths (they must equal the static ones where those are given).
  Linear(index_t in, index_t out, Generator& g, bool bias = true)
      : in_(detail::resolve_width("Linear", "in_features", In, in)),
        out_(detail::resolve_width("Linear", "out_features", Out, out)) {
    Tensor<T, 2> w(Shape<2>{out_, in_});
    init::kaiming_uniform_(w, g, std::sqrt(5.0));
    weight = Var<T, 2>(w, true);
    if (bias) {
      Tensor<T, 1> b(Shape<1>{out_});
      init::bias_uniform_(b, g, static_cast<double>(in_));
      this->bias = Var<T, 1>(b, true);
    }
  }
  Linear(index_t in, index_t out, bool bias = true) : Linear(in, out, default_generator(), bias) {}

  template <class V>
  void visit(V& v) {
    v.param("weight", weight);
    if (bias.defined()) v.param("bias", bias);
  }

  index_t in_features() const noexcept { return in_; }
  index_t out_features() const noexcept { return out_; }
  bool has_bias() const noexcept { return bias.defined(); }

  /// x (..., In) -> (..., Out); act is fused into the GEMM's epilogue where it can be.
  template <int R>
  Var<T, R> operator()(const Var<T, R>& x, cpu::Activation act = cpu::Activation::none) const
      requires(R >= 2) {
    PRETEXT_CHECK(x.size(R - 1) == in_, shape_error, "pretext::nn::Linear: input of shape ",
                  pretext::detail::shape_string(x.shape()), " has ", x.size(R - 1),
                  " features but the layer takes ", in_, " (weight ",
                  pretext::detail::shape_string(weight.shape()), ")");
    return detail::on_rows(x, [&](const Var<T, 2>& m) {
      return bias.defined() ? linear(m, weight, bias, act) : linear(m, weight, act);
    });
  }

  Var<T, 2> weight;  ///< (Out, In)
  Var<T, 1> bias;    ///< (Out), undefined without bias

 private:
  index_t in_, out_;
};

}  // namespace pretext::nn
