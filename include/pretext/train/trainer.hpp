// SPDX-License-Identifier: Apache-2.0
// One trainer for every Objective: draw a batch, forward to a scalar loss, backward, clip,
// schedule, optimizer step, after_step (teachers, queues), then progress, metrics log, callbacks
// and checkpoints. Gradient accumulation sums the gradients of `accumulate` micro-batches, each
// loss scaled by 1 / accumulate, before one optimizer step. Objectives whose loss couples the
// batch (BatchCoupledObjective: contrastive negatives, batch statistics) instead get the exact
// cached-embedding path of cached_embeddings.hpp: the loss of all micro-batches together.
//
//   train::Trainer trainer(objective, loader, optimizer, optim::WarmupCosineSchedule{200, total},
//                          {.epochs = 10, .clip_grad_norm = 1.0, .log_path = "log.jsonl",
//                           .checkpoint_path = "run.ckpt", .checkpoint_every = 500});
//   if (resuming) trainer.load_checkpoint("run.ckpt");
//   auto result = trainer.fit();
//
// The loader hands out batches forever (next() wraps into the next epoch) and reports and seeks
// its position, as data::DataLoader does. SIGINT or SIGTERM during fit() finishes the current
// step, writes the checkpoint and returns with result.interrupted set. A NaN or infinite loss or
// gradient stops the run with numeric_error naming the step; the step is then replayed under
// autograd anomaly detection to name the operation that produced it.
#pragma once

#include "pretext/optim/clip.hpp"
#include "pretext/optim/schedule.hpp"
#include "pretext/train/cached_embeddings.hpp"
#include "pretext/train/callback.hpp"
#include "pretext/train/checkpoint.hpp"
#include "pretext/train/metrics_log.hpp"
#include "pretext/train/objective.hpp"
#include "pretext/train/progress.hpp"
#include "pretext/train/signals.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace pretext::train {

struct TrainerOptions {
  int epochs = 1;                  ///< run length when max_steps is 0
  long max_steps = 0;              ///< optimizer steps in the run; 0: epochs * steps per epoch
  int accumulate = 1;              ///< micro-batches per optimizer step
  bool exact_accumulation = true;  ///< batch-coupled losses over all micro-batches at once
  double clip_grad_norm = 0;       ///< clip the global gradient norm to this; 0: off
  long log_every = 50;             ///< steps between metrics lines / plain progress lines
  /// Steps between the steps whose objective reports metrics (StepContext::metrics is null on
  /// the others); the last step of every log window and of the run always reports, and a log
  /// line averages the reports of its window. Collapse statistics cost an eigen-decomposition of
  /// a (D, D) matrix: with D = 512, computing them every step cost VICReg and Barlow Twins a fifth
  /// to a half of the demo's pre-training time (README). 1: every step.
  long metrics_every = 10;
  std::string log_path = {};         ///< JSON-lines metrics; empty: none
  std::string checkpoint_path = {};  ///< empty: no checkpoints
  long checkpoint_every = 0;   ///< steps between checkpoints; 0: only at the end and on signal
  bool handle_signals = true;  ///< SIGINT/SIGTERM: checkpoint and return
  bool progress = true;        ///< the progress line on stderr
  bool check_finite = true;    ///< stop on NaN/Inf loss or gradients
  std::uint64_t seed = 0;      ///< seeds the objective's Generator
  std::string name = "train";  ///< shown in the progress line
};

namespace detail {

/// Samples in a batch: the first axis of the batch, or of its first element when it is a pair
/// or tuple.
template <class B>
index_t batch_rows(const B& b) {
  if constexpr (requires { b.size(0); })
    return b.size(0);
  else if constexpr (requires { std::get<0>(b); })
    return batch_rows(std::get<0>(b));
  else
    return 1;
}

}  // namespace detail

template <class Obj, class Loader, class Opt, class Schedule = optim::ConstantSchedule>
class Trainer {
  using T = typename Opt::value_type;
  using Batch = std::remove_cvref_t<decltype(std::declval<Loader&>().next())>;
  static_assert(Objective<Obj, Batch>,
                "pretext::train::Trainer: the objective must be a module with "
                "`Var<T, 0> loss(const Batch&, StepContext&)` for the loader's batch type");

 public:
  Trainer(Obj& objective, Loader& loader, Opt& optimizer, Schedule schedule = {},
          TrainerOptions options = {})
      : obj_(objective),
        loader_(loader),
        opt_(optimizer),
        schedule_(std::move(schedule)),
        o_(std::move(options)),
        rng_(o_.seed),
        params_(objective.parameters()) {
    PRETEXT_CHECK(o_.accumulate >= 1, config_error, "pretext::train::Trainer: accumulate ",
                  o_.accumulate, " must be at least 1");
    PRETEXT_CHECK(o_.epochs >= 1 || o_.max_steps > 0, config_error,
                  "pretext::train::Trainer: give epochs >= 1 or max_steps > 0 (epochs ", o_.epochs,
                  ", max_steps ", o_.max_steps, ")");
    PRETEXT_CHECK(o_.clip_grad_norm >= 0, config_error, "pretext::train::Trainer: clip_grad_norm ",
                  o_.clip_grad_norm, " must be >= 0 (0 turns clipping off)");
    PRETEXT_CHECK(o_.metrics_every >= 1, config_error, "pretext::train::Trainer: metrics_every ",
                  o_.metrics_every, " must be at least 1 (1: metrics on every step)");
    total_ = o_.max_steps > 0 ? o_.max_steps
                              : static_cast<long>(o_.epochs) *
                                    static_cast<long>(loader_.batches_per_epoch() / o_.accumulate);
    PRETEXT_CHECK(total_ > 0, config_error, "pretext::train::Trainer: the run has no steps (",
                  loader_.batches_per_epoch(), " batches per epoch, accumulate ", o_.accumulate,
                  "); use a smaller batch or accumulation, or set max_steps");
  }

  void add_callback(Callback& cb) { callbacks_.push_back(&cb); }
  /// Asks fit() to stop after the current step (a checkpoint is written if a path is set).
  void request_stop() noexcept { stop_requested_ = true; }

  long step() const noexcept { return step_; }
  long total_steps() const noexcept { return total_; }
  Generator& generator() noexcept { return rng_; }

  void save_checkpoint(const std::string& path) {
    train::save_checkpoint(path, obj_, opt_, loader_, step_, rng_);
  }
  /// Restores model, optimizer, step, random streams and loader position; fit() then continues.
  void load_checkpoint(const std::string& path) {
    step_ = train::load_checkpoint(path, obj_, opt_, loader_, rng_);
  }

  /// Trains until total_steps() (or a stop request); see the file comment.
  TrainResult fit() {
    StopOnSignal signals(o_.handle_signals);
    MetricsLog log(o_.log_path);
    ProgressBar bar(o_.name, o_.log_every);
    const auto t0 = std::chrono::steady_clock::now();
    const long first_step = step_;
    TrainResult result;
    Window window;
    obj_.train();
    while (step_ < total_) {
      if (stop_requested_ || signals.requested()) {
        result.interrupted = true;
        break;
      }
      const StepOutcome s = one_step();
      ++step_;
      const double secs = seconds_since(t0);
      samples_ += s.samples;
      StepInfo info{step_,
                    total_,
                    s.epoch,
                    s.loss,
                    s.grad_norm,
                    s.lr_scale,
                    secs,
                    secs > 0 ? static_cast<double>(samples_) / secs : 0,
                    &metrics_.items()};
      window.add(s.loss, metrics_.items());
      for (Callback* cb : callbacks_) cb->on_step_end(info);
      if (o_.progress)
        bar.update(step_, total_, s.epoch, s.loss, info.samples_per_second, secs,
                   step_ - first_step);
      if (is_log_step(step_)) {
        const auto averaged = window.averages();
        info.loss = window.mean_loss();
        info.metrics = &averaged;
        result.loss_curve.emplace_back(step_, info.loss);
        result.last_loss = info.loss;
        write_log(log, info, averaged);
        for (Callback* cb : callbacks_) cb->on_log(info);
        window = Window{};
      }
      if (!o_.checkpoint_path.empty() && o_.checkpoint_every > 0 &&
          step_ % o_.checkpoint_every == 0)
        save_checkpoint(o_.checkpoint_path);
    }
    if (o_.progress && result.interrupted) bar.finish();
    if (!o_.checkpoint_path.empty()) save_checkpoint(o_.checkpoint_path);
    result.steps = step_;
    result.seconds = seconds_since(t0);
    if (result.last_loss == 0 && window.count > 0) result.last_loss = window.mean_loss();
    for (Callback* cb : callbacks_) cb->on_train_end(result);
    return result;
  }

 private:
  struct StepOutcome {
    double loss = 0, grad_norm = 0, lr_scale = 1;
    std::int64_t epoch = 0;
    index_t samples = 0;
  };

  /// Loss and metric sums between two log points; each metric is averaged over the steps that
  /// reported it (metrics_every).
  struct Window {
    struct Sum {
      std::string name;
      double sum = 0;
      long count = 0;
    };
    double loss_sum = 0;
    long count = 0;
    std::vector<Sum> sums;
    void add(double loss, const std::vector<std::pair<std::string, double>>& metrics) {
      loss_sum += loss;
      ++count;
      for (const auto& [name, v] : metrics) {
        Sum* hit = nullptr;  // a loop, not find_if: clang 14 cannot capture a structured binding
        for (Sum& m : sums)
          if (m.name == name) {
            hit = &m;
            break;
          }
        if (!hit) hit = &sums.emplace_back(Sum{name});
        hit->sum += v, ++hit->count;
      }
    }
    double mean_loss() const { return count ? loss_sum / static_cast<double>(count) : 0; }
    std::vector<std::pair<std::string, double>> averages() const {
      std::vector<std::pair<std::string, double>> out;
      for (const Sum& s : sums) out.emplace_back(s.name, s.sum / static_cast<double>(s.count));
      return out;
    }
  };

  /// Where the objective reports this step's metrics: every metrics_every-th step and the last
  /// step of each log window and of the run; null on the others.
  StepMetrics* step_metrics() {
    const long n = step_ + 1;  // the step being taken, counted from 1
    return n % o_.metrics_every == 0 || is_log_step(n) ? &metrics_ : nullptr;
  }
  /// Whether step n (counted from 1) ends a log window: every log_every-th and the last.
  bool is_log_step(long n) const { return n % std::max(1L, o_.log_every) == 0 || n == total_; }

  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  /// Forward and backward of every micro-batch of the step; returns the mean loss. Sets
  /// `failure` (and stops) when a loss is not finite.
  double forward_backward(StepOutcome& s, std::string& failure) {
    if constexpr (BatchCoupledObjective<Obj, Batch>)
      if (o_.accumulate > 1 && o_.exact_accumulation) return cached_step(s, failure);
    double loss_sum = 0;
    for (int micro = 0; micro < o_.accumulate; ++micro) {
      const auto pos = loader_.position();
      const Batch batch = loader_.next();
      s.epoch = pos.epoch;
      s.samples += detail::batch_rows(batch);
      StepContext ctx{step_, total_, pos.epoch, micro, &rng_, step_metrics()};
      Var<T, 0> loss = obj_.loss(batch, ctx);
      const double value = static_cast<double>(loss.item());
      if (o_.check_finite && !std::isfinite(value)) {
        failure = pretext::detail::cat("the loss is ", value, " at step ", step_ + 1, " (epoch ",
                                       pos.epoch + 1, ", batch ", pos.batch + 1, ")");
        return value;
      }
      loss_sum += value;
      if (o_.accumulate > 1) loss = loss * static_cast<T>(1.0 / o_.accumulate);
      loss.backward();
    }
    return loss_sum / o_.accumulate;
  }

  /// The cached-embedding path: one loss over the embeddings of all micro-batches.
  double cached_step(StepOutcome& s, std::string& failure) {
    const auto first = loader_.position();
    std::vector<Batch> batches;
    std::vector<std::int64_t> epochs;
    for (int micro = 0; micro < o_.accumulate; ++micro) {
      epochs.push_back(loader_.position().epoch);
      batches.push_back(loader_.next());
      s.samples += detail::batch_rows(batches.back());
    }
    s.epoch = epochs.back();
    const double value = cached_embedding_backward(
        obj_, batches,
        [&](std::size_t i) {
          return StepContext{step_, total_, epochs[i], static_cast<int>(i), &rng_, step_metrics()};
        },
        1.0);
    if (o_.check_finite && !std::isfinite(value))
      failure = pretext::detail::cat("the loss is ", value, " at step ", step_ + 1, " (epoch ",
                                     first.epoch + 1, ", batches ", first.batch + 1, " to ",
                                     first.batch + o_.accumulate, ")");
    return value;
  }

  StepOutcome one_step() {
    // Where the step starts, so that a failing step can be replayed exactly.
    const auto start_pos = loader_.position();
    const std::uint64_t rng_offset = rng_.offset(), default_offset = default_generator().offset();
    StepOutcome s;
    metrics_.clear();
    opt_.zero_grad();
    std::string failure;
    s.loss = forward_backward(s, failure);
    if (failure.empty()) {
      if (o_.clip_grad_norm > 0)
        s.grad_norm = optim::clip_grad_norm_(params_, o_.clip_grad_norm);
      else if (o_.check_finite)
        s.grad_norm = optim::grad_norm(params_);
      if (o_.check_finite && !std::isfinite(s.grad_norm))
        failure = pretext::detail::cat("the gradient norm is ", s.grad_norm, " at step ", step_ + 1,
                                       " (epoch ", start_pos.epoch + 1, ", batch ",
                                       start_pos.batch + 1, ")");
    }
    if (!failure.empty()) {
      loader_.seek(start_pos);
      rng_.set_offset(rng_offset);
      default_generator().set_offset(default_offset);
      fail_with_culprit(failure);
    }
    s.lr_scale = schedule_(step_);
    opt_.set_lr_scale(s.lr_scale);
    opt_.step();
    if constexpr (HasAfterStep<Obj>) {
      StepContext ctx{step_, total_, s.epoch, 0, &rng_, step_metrics()};
      obj_.after_step(ctx);
    }
    return s;
  }

  /// Replays the failed step under anomaly detection and throws numeric_error with what it
  /// found. The loader and generators were put back to the start of the step by the caller.
  [[noreturn]] void fail_with_culprit(const std::string& failure) {
    std::string culprit =
        "anomaly detection found no autograd operation producing it (it may come from data or "
        "from code outside autograd)";
    try {
      DetectAnomaly anomaly;
      opt_.zero_grad();
      StepOutcome s;
      std::string again;
      forward_backward(s, again);
    } catch (const numeric_error& e) {
      culprit = e.what();
    }
    pretext::detail::fail<numeric_error>(
        "pretext::train::Trainer: ", failure, "; ", culprit,
        ". Try a lower learning rate, gradient clipping (clip_grad_norm) or a longer warm-up");
  }

  void write_log(MetricsLog& log, const StepInfo& info,
                 const std::vector<std::pair<std::string, double>>& metrics) {
    if (!log.enabled()) return;
    std::vector<std::pair<std::string, double>> fields{
        {"step", static_cast<double>(info.step)},
        {"epoch", static_cast<double>(info.epoch)},
        {"loss", info.loss},
        {"grad_norm", info.grad_norm},
        {"lr_scale", info.lr_scale},
        {"seconds", info.seconds},
        {"samples_per_second", info.samples_per_second}};
    for (const auto& m : metrics) fields.push_back(m);
    log.write(fields);
  }

  Obj& obj_;
  Loader& loader_;
  Opt& opt_;
  Schedule schedule_;
  TrainerOptions o_;
  Generator rng_;
  std::vector<nn::ParamRef<T>> params_;
  std::vector<Callback*> callbacks_;
  StepMetrics metrics_;
  long step_ = 0, total_ = 0;
  long long samples_ = 0;
  bool stop_requested_ = false;
};

}  // namespace pretext::train
