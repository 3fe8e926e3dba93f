// SPDX-License-Identifier: Apache-2.0
// A module's parameters and buffers to and from safetensors, under their dotted names and in
// PyTorch's layouts, so `torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))`
// reads what save_state_dict writes, and the other way round. Writing is atomic (a temporary
// file renamed into place). Needs the pretext::io target (nlohmann-json).
#pragma once

#include "pretext/io/safetensors.hpp"
#include "pretext/nn/module.hpp"

#include <set>
#include <string>

namespace pretext::nn {

namespace detail {
inline std::string extents_string(const std::vector<index_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}
}  // namespace detail

/// Adds m's parameters and buffers to a writer as "<prefix><name>" (a checkpoint holds a model
/// under "model." next to the optimizer's state).
template <module M>
void add_state_dict(io::SafetensorsWriter& w, M& m, const std::string& prefix = "") {
  for (const auto& p : m.named_parameters())
    p.visit([&](const auto& v) { w.add(prefix + p.name(), v.data().contiguous()); });
  for (const auto& b : m.named_buffers())
    b.visit([&](const auto& t) { w.add(prefix + b.name(), t.contiguous()); });
}

template <module M>
void save_state_dict(M& m, const std::string& path) {
  io::SafetensorsWriter w;
  add_state_dict(w, m);
  w.write(path);
}

/// Copies the tensors "<prefix><name>" of an open file into m's parameters and buffers (in
/// place: optimizers holding them stay valid). strict: every name must be present and no other
/// name under the prefix may appear (PyTorch's BatchNorm counter "num_batches_tracked" is always
/// allowed and ignored).
template <module M>
void load_state_dict(M& m, const io::SafetensorsFile& f, const std::string& prefix,
                     bool strict = true) {
  const std::string& path = f.path();
  std::set<std::string> used;
  auto fetch = [&](const std::string& local, const auto& dst) {
    using Dst = std::remove_cvref_t<decltype(dst)>;
    const std::string name = prefix + local;
    if (!f.contains(name)) {
      PRETEXT_CHECK(!strict, io_error, "pretext::nn::load_state_dict: '", path, "' has no tensor '",
                    name, "'; pass strict = false to keep the current value");
      return;
    }
    used.insert(name);
    const auto& e = f.entry(name);
    std::vector<index_t> want(dst.shape().begin(), dst.shape().end());
    std::vector<index_t> have(e.shape.begin(), e.shape.end());
    PRETEXT_CHECK(want == have, shape_error, "pretext::nn::load_state_dict: '", name, "' in '",
                  path, "' has shape ", detail::extents_string(have), " but the module's is ",
                  detail::extents_string(want));
    dst.copy_(f.template get<typename Dst::value_type, Dst::rank>(name));
  };
  for (const auto& p : m.named_parameters())
    p.visit([&](const auto& v) { fetch(p.name(), v.data()); });
  for (const auto& b : m.named_buffers()) b.visit([&](const auto& t) { fetch(b.name(), t); });
  if (!strict) return;
  for (const auto& [name, entry] : f.entries()) {
    if (!name.starts_with(prefix)) continue;
    const bool counter = name.ends_with("num_batches_tracked");
    PRETEXT_CHECK(used.count(name) || counter, io_error, "pretext::nn::load_state_dict: '", path,
                  "' has tensor '", name,
                  "', which the module does not have; pass strict = false to ignore it");
  }
}

/// Loads a file written by save_state_dict (or by PyTorch: safetensors.torch.save_file).
template <module M>
void load_state_dict(M& m, const std::string& path, bool strict = true) {
  load_state_dict(m, io::SafetensorsFile::open(path), "", strict);
}

}  // namespace pretext::nn
