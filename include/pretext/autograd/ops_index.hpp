// SPDX-License-Identifier: Apache-2.0
// Differentiable token gather/scatter for masked-prediction objectives (MAE, BERT): gather_tokens,
// scatter_tokens, replace_tokens, gather_rows and concat.
//
// Letters: B batch, N tokens, K kept (or selected) tokens, D width, M rows.
//   gather_tokens  x (B, N, D), idx (B, K)                 -> (B, K, D)
//   scatter_tokens src (B, K, D), idx (B, K), fill (D), n  -> (B, n, D)
//   replace_tokens x (B, N, D), mask (B, N), token (D)     -> (B, N, D)
//   gather_rows    x (M, D), idx (K)                       -> (K, D)
//   concat         xs[i] (..., L_i, ...)                   -> (..., sum L_i, ...)
// Index tensors are int64 (masks uint8) and are copied when the op runs, so changing them
// afterwards does not change the backward pass.
#pragma once

#include <algorithm>  // std::min, std::max, std::fill
#include <array>
#include <cstdint>
#include <cstring>  // std::memcpy of rows
#include <initializer_list>
#include <span>
#include <tuple>
#include <vector>

#include "pretext/autograd/variable.hpp"
#include "pretext/backend/cpu/threading.hpp"
#include "pretext/core/tensor.hpp"

namespace pretext {

namespace autograd::detail {

/// Calls fn(lo, hi) over [0, rows) in parallel, in chunks of roughly 32K elements of width d.
template <class Fn>
void for_rows(index_t rows, index_t d, Fn&& fn) {
  parallel_for(0, rows, (index_t{1} << 15) / std::max<index_t>(d, 1), std::forward<Fn>(fn));
}

/// dst row k = src row rows[k], for k in [0, k_count); rows of width d, both contiguous.
template <class T>
void gather_rows_kernel(T* dst, const T* src, const std::int64_t* rows, index_t k_count,
                        index_t d) {
  for_rows(k_count, d, [&](index_t lo, index_t hi) {
    for (index_t k = lo; k < hi; ++k)
      std::memcpy(dst + k * d, src + rows[k] * d, static_cast<std::size_t>(d) * sizeof(T));
  });
}

/// dst row rows[k] += src row k. Serial: repeated rows accumulate.
template <class T>
void scatter_add_rows_kernel(T* dst, const T* src, const std::int64_t* rows, index_t k_count,
                             index_t d) {
  for (index_t k = 0; k < k_count; ++k) {
    T* o = dst + rows[k] * d;
    const T* s = src + k * d;
    for (index_t j = 0; j < d; ++j) o[j] += s[j];
  }
}

/// The shared op behind gather_tokens and gather_rows: x viewed as contiguous (M, D) rows,
/// out (K, D) viewed as out_shape, out row k = x row rows[k]. rows (K) must be validated.
template <floating T, int RX, std::size_t NO>
Var<T, static_cast<int>(NO)> gather_flat_rows(const char* name, const Var<T, RX>& x,
                                              Tensor<std::int64_t, 1> rows,
                                              const std::array<index_t, NO>& out_shape) {
  constexpr int RO = static_cast<int>(NO);
  const index_t d = x.size(RX - 1);
  const Tensor<T, RX> xc = x.data().contiguous();
  Tensor<T, RO> out(out_shape);
  gather_rows_kernel(out.data(), xc.data(), rows.data(), rows.numel(), d);
  return record(
      name, std::move(out),
      [rows = std::move(rows), shape = x.shape(), d](const Tensor<T, RO>& g, const auto&) {
        auto gx = Tensor<T, RX>::zeros(shape);
        const Tensor<T, RO> gc = g.contiguous();
        scatter_add_rows_kernel(gx.data(), gc.data(), rows.data(), rows.numel(), d);
        return gx;
      },
      x);
}

/// One concat node over 1 to Node::max_inputs inputs (axis already normalised, shapes checked).
/// Unused input slots hold undefined Vars, which record treats as constants.
template <floating T, int R>
Var<T, R> concat_group(std::span<const Var<T, R>> xs, int axis) {
  constexpr std::size_t G = Node::max_inputs;
  static_assert(G == 4, "pretext::concat: concat_group passes exactly four inputs to record");
  std::array<Var<T, R>, G> in{};
  std::array<index_t, G> start{}, len{};
  Shape<R> shape = xs[0].shape();
  const auto a = static_cast<std::size_t>(axis);
  shape[a] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    in[i] = xs[i];
    start[i] = shape[a];
    len[i] = xs[i].size(axis);
    shape[a] += len[i];
  }
  Tensor<T, R> out(shape);
  for (std::size_t i = 0; i < xs.size(); ++i)
    out.narrow(axis, start[i], len[i]).copy_(xs[i].data());
  return record(
      "concat", std::move(out),
      [axis, start, len](const Tensor<T, R>& g, const std::array<bool, G>& need) {
        auto part = [&](std::size_t i) {
          return need[i] ? g.narrow(axis, start[i], len[i]) : Tensor<T, R>();
        };
        return std::tuple(part(0), part(1), part(2), part(3));
      },
      in[0], in[1], in[2], in[3]);
}

}  // namespace autograd::detail

/// Rows of x at idx, per batch: x (B, N, D), idx (B, K) with values in [0, N) -> (B, K, D),
/// out[b, k, :] = x[b, idx[b, k], :]. Indices may repeat (their gradients add up). The MAE
/// encoder's "keep the visible patches" step.
template <floating T>
Var<T, 3> gather_tokens(const Var<T, 3>& x, const Tensor<std::int64_t, 2>& idx) {
  const index_t B = x.size(0), N = x.size(1), D = x.size(2), K = idx.size(1);
  PRETEXT_CHECK(idx.size(0) == B, shape_error, "pretext::gather_tokens: x is ",
                detail::shape_string(x.shape()), " but idx is ", detail::shape_string(idx.shape()),
                "; give one row of token indices per batch element");
  const Tensor<std::int64_t, 2> ic = idx.contiguous();
  Tensor<std::int64_t, 1> rows(Shape<1>{B * K});  // flat row of x (B * N, D)
  for (index_t b = 0; b < B; ++b)
    for (index_t k = 0; k < K; ++k) {
      const std::int64_t i = ic.data()[b * K + k];
      PRETEXT_CHECK(i >= 0 && i < N, index_error, "pretext::gather_tokens: idx[", b, ", ", k,
                    "] = ", i, " is outside [0, ", N, ") for x ", detail::shape_string(x.shape()),
                    " and idx ", detail::shape_string(idx.shape()));
      rows.data()[b * K + k] = b * N + i;
    }
  return autograd::detail::gather_flat_rows("gather_tokens", x, std::move(rows), Shape<3>{B, K, D});
}

/// Rows of x at idx: x (M, D), idx (K) with values in [0, M) -> (K, D), out[k, :] = x[idx[k], :].
/// Indices may repeat. For example a vocabulary projection at the masked positions only.
template <floating T>
Var<T, 2> gather_rows(const Var<T, 2>& x, const Tensor<std::int64_t, 1>& idx) {
  const index_t M = x.size(0), D = x.size(1), K = idx.size(0);
  Tensor<std::int64_t, 1> rows(Shape<1>{K});
  rows.copy_(idx);  // a private copy, whatever idx's strides
  for (index_t k = 0; k < K; ++k)
    PRETEXT_CHECK(rows.data()[k] >= 0 && rows.data()[k] < M, index_error,
                  "pretext::gather_rows: idx[", k, "] = ", rows.data()[k], " is outside [0, ", M,
                  ") for x ", detail::shape_string(x.shape()), " and idx ",
                  detail::shape_string(idx.shape()));
  return autograd::detail::gather_flat_rows("gather_rows", x, std::move(rows), Shape<2>{K, D});
}

/// The inverse of gather_tokens with a fill row: src (B, K, D), idx (B, K) with distinct values
/// per row in [0, n), fill (D) -> (B, n, D), out[b, idx[b, k], :] = src[b, k, :] and every other
/// row = fill (the learned mask token of an MAE decoder). Throws index_error on a repeated index.
template <floating T>
Var<T, 3> scatter_tokens(const Var<T, 3>& src, const Tensor<std::int64_t, 2>& idx,
                         const Var<T, 1>& fill, index_t n) {
  const index_t B = src.size(0), K = src.size(1), D = src.size(2);
  PRETEXT_CHECK(idx.size(0) == B && idx.size(1) == K, shape_error,
                "pretext::scatter_tokens: src is ", detail::shape_string(src.shape()),
                " but idx is ", detail::shape_string(idx.shape()),
                "; idx must be (B, K) for src (B, K, D)");
  PRETEXT_CHECK(fill.size(0) == D, shape_error, "pretext::scatter_tokens: fill is ",
                detail::shape_string(fill.shape()), " but src is ",
                detail::shape_string(src.shape()), "; fill must have src's width D");
  PRETEXT_CHECK(n >= K, shape_error, "pretext::scatter_tokens: cannot place ", K,
                " distinct tokens per row of src ", detail::shape_string(src.shape()),
                " into n = ", n, " positions");
  // from[b, j]: the row k of src that lands at position j, or -1 for fill. (B, n)
  auto from = Tensor<std::int64_t, 2>::full(Shape<2>{B, n}, -1);
  const Tensor<std::int64_t, 2> ic = idx.contiguous();
  Tensor<std::int64_t, 1> rows(Shape<1>{B * K});  // flat output row (B * n) of src row (b, k)
  for (index_t b = 0; b < B; ++b)
    for (index_t k = 0; k < K; ++k) {
      const std::int64_t j = ic.data()[b * K + k];
      PRETEXT_CHECK(j >= 0 && j < n, index_error, "pretext::scatter_tokens: idx[", b, ", ", k,
                    "] = ", j, " is outside [0, ", n, ") for idx ",
                    detail::shape_string(idx.shape()));
      std::int64_t& f = from.data()[b * n + j];
      PRETEXT_CHECK(f < 0, index_error, "pretext::scatter_tokens: idx[", b, ", ", k, "] = ", j,
                    " repeats idx[", b, ", ", f, "] in idx ", detail::shape_string(idx.shape()),
                    "; the indices of a row must be distinct");
      f = k;
      rows.data()[b * K + k] = b * n + j;
    }
  const Tensor<T, 3> sc = src.data().contiguous();
  const Tensor<T, 1> fc = fill.data().contiguous();
  Tensor<T, 3> out(Shape<3>{B, n, D});
  autograd::detail::for_rows(B * n, D, [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r) {
      const std::int64_t k = from.data()[r];
      const T* s = k < 0 ? fc.data() : sc.data() + ((r / n) * K + k) * D;
      std::memcpy(out.data() + r * D, s, static_cast<std::size_t>(D) * sizeof(T));
    }
  });
  return autograd::detail::record(
      "scatter_tokens", std::move(out),
      [from = std::move(from), rows = std::move(rows), B, K, D](const Tensor<T, 3>& g,
                                                                const std::array<bool, 2>& need) {
        const Tensor<T, 3> gc = g.contiguous();
        Tensor<T, 3> gsrc;
        Tensor<T, 1> gfill;
        if (need[0]) {
          gsrc = Tensor<T, 3>(Shape<3>{B, K, D});
          autograd::detail::gather_rows_kernel(gsrc.data(), gc.data(), rows.data(), B * K, D);
        }
        if (need[1]) {
          gfill = Tensor<T, 1>::zeros(Shape<1>{D});
          for (index_t r = 0; r < from.numel(); ++r) {
            if (from.data()[r] >= 0) continue;
            const T* s = gc.data() + r * D;
            for (index_t j = 0; j < D; ++j) gfill.data()[j] += s[j];
          }
        }
        return std::tuple(std::move(gsrc), std::move(gfill));
      },
      src, fill);
}

/// x with the rows where mask is nonzero replaced by token: x (B, N, D), mask (B, N), token (D)
/// -> (B, N, D). BERT's [MASK] substitution; the replaced rows pass no gradient to x.
template <floating T>
Var<T, 3> replace_tokens(const Var<T, 3>& x, const Tensor<std::uint8_t, 2>& mask,
                         const Var<T, 1>& token) {
  const index_t B = x.size(0), N = x.size(1), D = x.size(2);
  PRETEXT_CHECK(mask.size(0) == B && mask.size(1) == N, shape_error,
                "pretext::replace_tokens: x is ", detail::shape_string(x.shape()), " but mask is ",
                detail::shape_string(mask.shape()), "; mask must be (B, N) for x (B, N, D)");
  PRETEXT_CHECK(token.size(0) == D, shape_error, "pretext::replace_tokens: token is ",
                detail::shape_string(token.shape()), " but x is ", detail::shape_string(x.shape()),
                "; token must have x's width D");
  Tensor<std::uint8_t, 2> m(Shape<2>{B, N});
  m.copy_(mask);  // a private copy for backward
  const Tensor<T, 3> xc = x.data().contiguous();
  const Tensor<T, 1> tc = token.data().contiguous();
  Tensor<T, 3> out(Shape<3>{B, N, D});
  autograd::detail::for_rows(B * N, D, [&](index_t lo, index_t hi) {
    for (index_t r = lo; r < hi; ++r)
      std::memcpy(out.data() + r * D, m.data()[r] ? tc.data() : xc.data() + r * D,
                  static_cast<std::size_t>(D) * sizeof(T));
  });
  return autograd::detail::record(
      "replace_tokens", std::move(out),
      [m = std::move(m), D](const Tensor<T, 3>& g, const std::array<bool, 2>& need) {
        const Tensor<T, 3> gc = g.contiguous();
        Tensor<T, 3> gx;
        Tensor<T, 1> gt;
        if (need[0]) {
          gx = Tensor<T, 3>(gc.shape());
          autograd::detail::for_rows(m.numel(), D, [&](index_t lo, index_t hi) {
            for (index_t r = lo; r < hi; ++r) {
              T* o = gx.data() + r * D;
              if (m.data()[r])
                std::fill(o, o + D, T(0));
              else
                std::memcpy(o, gc.data() + r * D, static_cast<std::size_t>(D) * sizeof(T));
            }
          });
        }
        if (need[1]) {
          gt = Tensor<T, 1>::zeros(Shape<1>{D});
          for (index_t r = 0; r < m.numel(); ++r) {
            if (!m.data()[r]) continue;
            const T* s = gc.data() + r * D;
            for (index_t j = 0; j < D; ++j) gt.data()[j] += s[j];
          }
        }
        return std::tuple(std::move(gx), std::move(gt));
      },
      x, token);
}

/// The inputs joined along axis (negative counts from the end, as torch.cat); every other extent
/// must agree. The gradient of each input is its part of the output gradient. A node takes at
/// most Node::max_inputs inputs, so more than four inputs are joined as a tree of nodes of four
/// (each element is copied once per level, ceil(log4(count)) levels).
template <floating T, int R>
requires(R >= 1) Var<T, R> concat(const std::vector<Var<T, R>>& xs, int axis) {
  PRETEXT_CHECK(!xs.empty(), config_error,
                "pretext::concat: the list of inputs is empty; give at least one");
  const int a = normalize_axis(axis, R, "pretext::concat");
  for (std::size_t i = 1; i < xs.size(); ++i)
    for (int d = 0; d < R; ++d)
      PRETEXT_CHECK(d == a || xs[i].size(d) == xs[0].size(d), shape_error,
                    "pretext::concat: input 0 is ", detail::shape_string(xs[0].shape()),
                    " but input ", i, " is ", detail::shape_string(xs[i].shape()),
                    "; joining along axis ", axis, ", all other extents must match");
  constexpr std::size_t G = autograd::detail::Node::max_inputs;
  if (xs.size() <= G) return autograd::detail::concat_group<T, R>(std::span(xs), a);
  std::vector<Var<T, R>> level = xs, next;
  while (level.size() > 1) {
    next.clear();
    for (std::size_t i = 0; i < level.size(); i += G) {
      const std::size_t c = std::min(G, level.size() - i);
      if (c == 1)
        next.push_back(level[i]);  // an odd one out moves up a level without a copy
      else
        next.push_back(autograd::detail::concat_group<T, R>(std::span(level).subspan(i, c), a));
    }
    std::swap(level, next);
  }
  return level[0];
}

/// concat({a, b, c}, axis).
template <floating T, int R>
requires(R >= 1) Var<T, R> concat(std::initializer_list<Var<T, R>> xs, int axis) {
  return concat(std::vector<Var<T, R>>(xs), axis);
}

/// a and b joined along axis.
template <floating T, int R>
requires(R >= 1) Var<T, R> concat(const Var<T, R>& a, const Var<T, R>& b, int axis) {
  return concat(std::vector<Var<T, R>>{a, b}, axis);
}

}  // namespace pretext
