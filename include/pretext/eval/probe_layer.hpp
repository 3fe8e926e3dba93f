// SPDX-License-Identifier: Apache-2.0
// A fitted linear probe as one nn::Linear on the raw (unstandardised) features: the start of
// "linear probe, then fine-tune" (LP-FT, Kumar et al. 2022), where fine-tuning begins from the
// probe's head instead of a random one, so the first gradient steps do not tear up the features
// to fit a head that knows nothing yet; and a way to serve the probe as a layer.
//
//   standardised features  s = (f - mean) / scale           f (N, D); mean, scale (D)
//   probe logits           z = s W^T + b                    W (C, D), b (C)
//                            = f (W / scale)^T + (b - (W / scale) mean)
//   so the layer has weight W' = W / scale (per column) and bias b' = b - W' mean.
// A probe fitted with ProbeOptions::power != 1 reads sign(f) |f|^p, not f: no layer on raw
// features gives its logits, and probe_as_linear refuses it.
#pragma once

#include "pretext/eval/features.hpp"
#include "pretext/eval/linear_probe.hpp"
#include "pretext/nn/linear.hpp"

namespace pretext::eval {

/// The probe `model`, fitted on features standardised by `standardizer`, folded into a
/// Linear<In, Out> (D -> C) that maps raw features to the same logits. In and Out may be
/// nn::dynamic; static ones must equal D and C (config_error otherwise). The folding runs in
/// double, so the logits match the probe's to float rounding.
///
/// Throws config_error when the model is not fitted, shape_error when the standardizer's width
/// is not the model's.
template <index_t In = nn::dynamic, index_t Out = nn::dynamic, floating T>
nn::Linear<In, Out, T> probe_as_linear(const Standardizer<T>& standardizer,
                                       const LogisticRegression<T>& model) {
  PRETEXT_CHECK(model.fitted(), config_error,
                "pretext::eval::probe_as_linear: the model is not fitted; call fit() first");
  const index_t C = model.weight().size(0), D = model.weight().size(1);
  PRETEXT_CHECK(standardizer.mean.size(0) == D && standardizer.scale.size(0) == D, shape_error,
                "pretext::eval::probe_as_linear: the standardizer has ", standardizer.mean.size(0),
                " features but the model was fitted on ", D, " (weight ",
                pretext::detail::shape_string(model.weight().shape()),
                "); give the standardizer the model was fitted with");
  Generator unused(0);  // the constructor draws weights that are overwritten below
  nn::Linear<In, Out, T> layer(D, C, unused);
  const auto w = model.weight().contiguous();
  const T* mean = standardizer.mean.data();
  const T* scale = standardizer.scale.data();
  T* out_w = layer.weight.data().data();
  T* out_b = layer.bias.data().data();
  for (index_t c = 0; c < C; ++c) {
    double b = static_cast<double>(model.bias().data()[c]);
    for (index_t j = 0; j < D; ++j) {
      const double v = static_cast<double>(w.data()[c * D + j]) / static_cast<double>(scale[j]);
      out_w[c * D + j] = static_cast<T>(v);
      b -= v * static_cast<double>(mean[j]);
    }
    out_b[c] = static_cast<T>(b);
  }
  return layer;
}

/// A probe from fit_linear_probe as one Linear<In, Out> on raw features (see above). Throws
/// config_error for a probe fitted with ProbeOptions::power != 1 (not linear in raw features).
template <index_t In = nn::dynamic, index_t Out = nn::dynamic, floating T>
nn::Linear<In, Out, T> probe_as_linear(const LinearProbe<T>& probe) {
  PRETEXT_CHECK(probe.power == 1, config_error,
                "pretext::eval::probe_as_linear: the probe maps its features by signed_power "
                "with power ",
                probe.power,
                ", which no linear layer on raw features reproduces; fit it with "
                "ProbeOptions::power = 1 to fold it");
  return probe_as_linear<In, Out>(probe.standardizer, probe.model);
}

}  // namespace pretext::eval
