// SPDX-License-Identifier: Apache-2.0
// Whether operations on variables record themselves for backward, per thread.
#pragma once

namespace pretext {

namespace autograd::detail {
inline bool& grad_enabled_flag() noexcept {
  thread_local bool enabled = true;
  return enabled;
}
inline bool& anomaly_flag() noexcept {
  thread_local bool on = false;
  return on;
}
}  // namespace autograd::detail

/// True when operations on variables are recorded on this thread (the default).
inline bool grad_enabled() noexcept {
  return autograd::detail::grad_enabled_flag();
}

/// Sets whether operations on this thread are recorded; prefer the scoped NoGrad guard.
inline void set_grad_enabled(bool on) noexcept {
  autograd::detail::grad_enabled_flag() = on;
}

/// Turns recording off for its scope and restores the previous mode on exit (also on throw):
///   { pretext::NoGrad guard; auto feats = encoder(x); }   // no graph, no saved tensors
class NoGrad {
 public:
  NoGrad() noexcept : previous_(grad_enabled()) { set_grad_enabled(false); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
  ~NoGrad() { set_grad_enabled(previous_); }

 private:
  bool previous_;
};

/// Turns recording back on inside a NoGrad scope, for its own scope.
class EnableGrad {
 public:
  EnableGrad() noexcept : previous_(grad_enabled()) { set_grad_enabled(true); }
  EnableGrad(const EnableGrad&) = delete;
  EnableGrad& operator=(const EnableGrad&) = delete;
  ~EnableGrad() { set_grad_enabled(previous_); }

 private:
  bool previous_;
};

/// Whether anomaly detection is on for this thread (see DetectAnomaly).
inline bool anomaly_detection_enabled() noexcept {
  return autograd::detail::anomaly_flag();
}

/// Anomaly detection for its scope, as torch.autograd.detect_anomaly: every recorded operation
/// checks its output, and every backward step its input gradients, for NaN and infinity, and
/// throws numeric_error naming the operation. It costs a pass over each tensor, so it is meant
/// for finding the op behind a NaN (the trainer reruns a failing step under it), not for speed.
class DetectAnomaly {
 public:
  DetectAnomaly() noexcept : previous_(anomaly_detection_enabled()) {
    autograd::detail::anomaly_flag() = true;
  }
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;
  ~DetectAnomaly() { autograd::detail::anomaly_flag() = previous_; }

 private:
  bool previous_;
};

}  // namespace pretext
