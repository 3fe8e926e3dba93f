// SPDX-License-Identifier: Apache-2.0
// Tensor<T, Rank, Device>: an n-dimensional strided view of shared storage.
//
// Element type, rank and device are part of the type; extents and strides are run-time values.
// Views (slice, narrow, select, permute, transpose, expand, reshape when the strides allow it)
// share storage with the tensor they come from: writing through one is seen by the other, as in
// PyTorch. Copying a Tensor object copies the view, not the elements; clone() copies elements.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <type_traits>
#include <utility>
#include <vector>

#include "pretext/config.hpp"
#include "pretext/core/copy.hpp"
#include "pretext/core/device.hpp"
#include "pretext/core/dtype.hpp"
#include "pretext/core/error.hpp"
#include "pretext/core/shape.hpp"
#include "pretext/core/storage.hpp"

namespace pretext {

template <element T, int Rank, device Device = Cpu>
class Tensor;

/// True for any Tensor specialisation.
template <class X>
inline constexpr bool is_tensor_v = false;
template <class T, int R, class D>
inline constexpr bool is_tensor_v<Tensor<T, R, D>> = true;

/// A Tensor of any element type, rank and device.
template <class X>
concept tensor_like = is_tensor_v<std::remove_cvref_t<X>>;

template <element T, int Rank, device Device>
class Tensor {
  static_assert(Rank >= 0 && Rank <= detail::max_rank,
                "pretext::Tensor: rank must be between 0 and 8");

 public:
  using value_type = T;
  using device_type = Device;
  using shape_type = Shape<Rank>;
  using strides_type = Strides<Rank>;
  static constexpr int rank = Rank;

  /// An undefined tensor: no storage, all extents 0. defined() is false.
  Tensor() = default;

  /// A contiguous tensor of the given shape with uninitialised elements (see zeros() for zeros).
  explicit Tensor(const shape_type& shape)
      : storage_(static_cast<std::size_t>(checked_numel(shape))),
        data_(storage_.data()),
        shape_(shape),
        strides_(contiguous_strides(shape)) {}

  /// A view of `storage` starting at element `offset` with the given shape and strides.
  Tensor(Storage<T, Device> storage, index_t offset, const shape_type& shape,
         const strides_type& strides)
      : storage_(std::move(storage)),
        data_(storage_.data() + offset),
        shape_(shape),
        strides_(strides) {}

  // ---- factories -------------------------------------------------------------------------

  static Tensor empty(const shape_type& shape) { return Tensor(shape); }
  static Tensor full(const shape_type& shape, T value) {
    Tensor t(shape);
    t.fill_(value);
    return t;
  }
  static Tensor zeros(const shape_type& shape) { return full(shape, T(0)); }
  static Tensor ones(const shape_type& shape) { return full(shape, T(1)); }
  /// A contiguous tensor holding `values` in row-major order; their count must equal the shape's.
  static Tensor from(const shape_type& shape, std::initializer_list<T> values) {
    return from(shape, values.begin(), values.size());
  }
  static Tensor from(const shape_type& shape, const std::vector<T>& values) {
    return from(shape, values.data(), values.size());
  }
  static Tensor from(const shape_type& shape, const T* values, std::size_t count) {
    PRETEXT_CHECK(static_cast<index_t>(count) == numel_of(shape), shape_error,
                  "pretext::Tensor::from: ", count, " values do not fill shape ",
                  detail::shape_string(shape), " (", numel_of(shape), " elements)");
    Tensor t(shape);
    std::copy(values, values + count, t.data());
    return t;
  }

  // ---- shape and layout ------------------------------------------------------------------

  bool defined() const noexcept { return static_cast<bool>(storage_); }
  const shape_type& shape() const noexcept { return shape_; }
  const strides_type& strides() const noexcept { return strides_; }
  /// Extent of axis `axis`; negative axes count from the end.
  index_t size(int axis) const {
    return shape_[static_cast<std::size_t>(normalize_axis(axis, Rank, "pretext::Tensor::size"))];
  }
  index_t stride(int axis) const {
    return strides_[static_cast<std::size_t>(
        normalize_axis(axis, Rank, "pretext::Tensor::stride"))];
  }
  index_t numel() const noexcept { return numel_of(shape_); }
  bool empty() const noexcept { return numel() == 0; }
  /// Pointer to the first element of the view (the storage offset is already applied).
  T* data() const noexcept { return data_; }
  const Storage<T, Device>& storage() const noexcept { return storage_; }
  index_t storage_offset() const noexcept { return data_ - storage_.data(); }
  /// In-place writes seen by the storage this tensor views (see Storage::version).
  std::uint64_t version() const noexcept { return storage_.version(); }
  /// Marks an in-place write; the in-place operations call it, code writing through data() may.
  void bump_version() const noexcept { storage_.bump_version(); }
  /// Row-major contiguous: elements are dense and in order (extent-1 axes may have any stride).
  bool is_contiguous() const noexcept {
    index_t expect = 1;
    for (int i = Rank - 1; i >= 0; --i) {
      const auto u = static_cast<std::size_t>(i);
      if (shape_[u] != 1 && strides_[u] != expect) return false;
      expect *= shape_[u];
    }
    return true;
  }
  template <int R2>
  bool shares_storage(const Tensor<T, R2, Device>& o) const noexcept {
    return storage_.same(o.storage_);
  }

  // ---- element access ----------------------------------------------------------------------

  /// Element at the given indices; bounds are checked only with PRETEXT_DEBUG_CHECKS.
  template <class... I>
  requires(std::is_integral_v<I>&&...) T& operator()(I... idx) const {
    static_assert(sizeof...(I) == Rank,
                  "pretext::Tensor::operator(): the number of indices differs from the rank");
    static_assert(std::is_same_v<Device, Cpu>,
                  "pretext::Tensor::operator(): element access needs a CPU tensor");
#if PRETEXT_DEBUG_CHECKS
    check_indices(std::array<index_t, sizeof...(I)>{static_cast<index_t>(idx)...});
#endif
    return data_[offset_of(std::array<index_t, sizeof...(I)>{static_cast<index_t>(idx)...})];
  }

  /// Element at the given indices, always bounds-checked (throws index_error).
  template <class... I>
  requires(std::is_integral_v<I>&&...) T& at(I... idx) const {
    static_assert(sizeof...(I) == Rank,
                  "pretext::Tensor::at: the number of indices differs from the rank");
    const std::array<index_t, sizeof...(I)> ix{static_cast<index_t>(idx)...};
    check_indices(ix);
    return data_[offset_of(ix)];
  }

  /// The single element of a tensor with one element (any rank).
  T item() const {
    PRETEXT_CHECK(numel() == 1, shape_error, "pretext::Tensor::item: tensor of shape ",
                  detail::shape_string(shape_), " has ", numel(),
                  " elements; item() needs exactly one");
    return *data_;
  }

  // ---- views -------------------------------------------------------------------------------

  /// Elements start, start+step, ... before end along axis (Python slice semantics, step > 0;
  /// start and end are clamped, negative values count from the end).
  Tensor slice(int axis, index_t start, index_t end, index_t step = 1) const {
    const auto a = static_cast<std::size_t>(normalize_axis(axis, Rank, "pretext::Tensor::slice"));
    PRETEXT_CHECK(step > 0, index_error, "pretext::Tensor::slice: step ", step,
                  " must be positive");
    const index_t n = shape_[a];
    auto clamp = [n](index_t v) { return std::clamp<index_t>(v < 0 ? v + n : v, 0, n); };
    start = clamp(start);
    end = std::max(clamp(end), start);
    Tensor v = *this;
    v.data_ += start * strides_[a];
    v.shape_[a] = (end - start + step - 1) / step;
    v.strides_[a] = strides_[a] * step;
    return v;
  }

  /// `length` elements from `start` along axis; throws index_error when out of range.
  Tensor narrow(int axis, index_t start, index_t length) const {
    const auto a = static_cast<std::size_t>(normalize_axis(axis, Rank, "pretext::Tensor::narrow"));
    PRETEXT_CHECK(start >= 0 && length >= 0 && start + length <= shape_[a], index_error,
                  "pretext::Tensor::narrow: range [", start, ", ", start + length,
                  ") is outside axis ", a, " of shape ", detail::shape_string(shape_));
    Tensor v = *this;
    v.data_ += start * strides_[a];
    v.shape_[a] = length;
    return v;
  }

  /// The slice at `index` along axis, with that axis removed.
  Tensor<T, Rank - 1, Device> select(int axis, index_t index) const requires(Rank >= 1) {
    const auto a = static_cast<std::size_t>(normalize_axis(axis, Rank, "pretext::Tensor::select"));
    const index_t n = shape_[a];
    PRETEXT_CHECK(index >= -n && index < n, index_error, "pretext::Tensor::select: index ", index,
                  " is out of range for axis ", a, " of shape ", detail::shape_string(shape_));
    if (index < 0) index += n;
    Shape<Rank - 1> s{};
    Strides<Rank - 1> st{};
    for (std::size_t i = 0, j = 0; i < Rank; ++i)
      if (i != a) s[j] = shape_[i], st[j++] = strides_[i];
    return {storage_, storage_offset() + index * strides_[a], s, st};
  }

  /// Reorders the axes: axis i of the result is axis order[i] of this tensor.
  Tensor permute(const std::array<int, Rank>& order) const {
    std::array<bool, Rank> seen{};
    Tensor v = *this;
    for (std::size_t i = 0; i < Rank; ++i) {
      const int a = normalize_axis(order[i], Rank, "pretext::Tensor::permute");
      PRETEXT_CHECK(!seen[static_cast<std::size_t>(a)], index_error,
                    "pretext::Tensor::permute: axis ", a, " appears twice in the order");
      seen[static_cast<std::size_t>(a)] = true;
      v.shape_[i] = shape_[static_cast<std::size_t>(a)];
      v.strides_[i] = strides_[static_cast<std::size_t>(a)];
    }
    return v;
  }

  /// Swaps two axes.
  Tensor transpose(int a0, int a1) const {
    const auto i = static_cast<std::size_t>(normalize_axis(a0, Rank, "pretext::Tensor::transpose"));
    const auto j = static_cast<std::size_t>(normalize_axis(a1, Rank, "pretext::Tensor::transpose"));
    Tensor v = *this;
    std::swap(v.shape_[i], v.shape_[j]);
    std::swap(v.strides_[i], v.strides_[j]);
    return v;
  }

  /// The transpose of a matrix.
  Tensor t() const {
    static_assert(Rank == 2, "pretext::Tensor::t: needs a rank-2 tensor; use transpose(a, b)");
    return transpose(0, 1);
  }

  /// Broadcasts to `shape` (NumPy rules, new axes on the left) without copying: broadcast axes
  /// get stride 0. Such a view must not be written to.
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> expand(const std::array<index_t, N>& shape) const {
    constexpr int NewRank = static_cast<int>(N);
    static_assert(NewRank >= Rank, "pretext::Tensor::expand: cannot expand to a lower rank");
    Strides<NewRank> st{};
    constexpr int lead = NewRank - Rank;
    for (int i = 0; i < NewRank; ++i) {
      const auto u = static_cast<std::size_t>(i);
      if (i < lead) {
        st[u] = 0;
        continue;
      }
      const auto k = static_cast<std::size_t>(i - lead);
      PRETEXT_CHECK(shape_[k] == shape[u] || shape_[k] == 1, shape_error,
                    "pretext::Tensor::expand: cannot expand shape ", detail::shape_string(shape_),
                    " to ", detail::shape_string(shape), "; only extent-1 axes can grow");
      st[u] = shape_[k] == shape[u] ? strides_[k] : 0;
    }
    return {storage_, storage_offset(), shape, st};
  }
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> expand(const index_t (&shape)[N]) const {
    return expand(to_shape(shape));
  }

  /// Same elements in a new shape; one extent may be -1 (inferred). A view when the strides
  /// allow it, otherwise a contiguous copy (as torch.reshape).
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> reshape(const std::array<index_t, N>& shape) const {
    constexpr int NewRank = static_cast<int>(N);
    const auto s = infer_shape<NewRank>(shape, "pretext::Tensor::reshape");
    if (auto st = view_strides<NewRank>(s)) return {storage_, storage_offset(), s, *st};
    return contiguous().reshape(s);
  }
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> reshape(const index_t (&shape)[N]) const {
    return reshape(to_shape(shape));
  }

  /// As reshape, but never copies: throws shape_error when the strides do not allow a view.
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> view(const std::array<index_t, N>& shape) const {
    constexpr int NewRank = static_cast<int>(N);
    const auto s = infer_shape<NewRank>(shape, "pretext::Tensor::view");
    auto st = view_strides<NewRank>(s);
    PRETEXT_CHECK(st.has_value(), shape_error, "pretext::Tensor::view: a tensor of shape ",
                  detail::shape_string(shape_), " and strides ", detail::shape_string(strides_),
                  " cannot be viewed as ", detail::shape_string(s),
                  "; call contiguous() first or use reshape()");
    return {storage_, storage_offset(), s, *st};
  }
  template <std::size_t N>
  Tensor<T, static_cast<int>(N), Device> view(const index_t (&shape)[N]) const {
    return view(to_shape(shape));
  }

  /// All elements as a rank-1 tensor (a view when possible).
  Tensor<T, 1, Device> flatten() const {
    return reshape(Shape<1>{numel()});
  }

  /// Inserts an extent-1 axis at position axis (in [-(Rank+1), Rank]).
  Tensor<T, Rank + 1, Device> unsqueeze(int axis) const {
    const auto a =
        static_cast<std::size_t>(normalize_axis(axis, Rank + 1, "pretext::Tensor::unsqueeze"));
    Shape<Rank + 1> s{};
    Strides<Rank + 1> st{};
    for (std::size_t i = 0, j = 0; i < Rank + 1; ++i) {
      if (i == a) {
        s[i] = 1;
        st[i] = a < Rank ? strides_[a] * shape_[a] : 1;
      } else {
        s[i] = shape_[j];
        st[i] = strides_[j++];
      }
    }
    return {storage_, storage_offset(), s, st};
  }

  /// Removes axis `axis`, which must have extent 1.
  Tensor<T, Rank - 1, Device> squeeze(int axis) const requires(Rank >= 1) {
    const auto a = static_cast<std::size_t>(normalize_axis(axis, Rank, "pretext::Tensor::squeeze"));
    PRETEXT_CHECK(shape_[a] == 1, shape_error, "pretext::Tensor::squeeze: axis ", a, " of shape ",
                  detail::shape_string(shape_), " has extent ", shape_[a], ", not 1");
    return select(static_cast<int>(a), 0);
  }

  // ---- copies ------------------------------------------------------------------------------

  /// This tensor when already contiguous, else a contiguous copy.
  Tensor contiguous() const {
    return is_contiguous() ? *this : clone();
  }

  /// A contiguous copy with its own storage.
  Tensor clone() const {
    Tensor out(shape_);
    detail::copy_strided(out.data_, out.strides_, data_, strides_, shape_);
    return out;
  }

  /// Copies src's elements into this view; src broadcasts to this shape. Returns *this.
  template <int R2>
  const Tensor& copy_(const Tensor<T, R2, Device>& src) const {
    static_assert(R2 <= Rank, "pretext::Tensor::copy_: the source has a higher rank");
    const auto b = broadcast_shapes(shape_, src.shape(), "pretext::Tensor::copy_");
    PRETEXT_CHECK(b == shape_, shape_error, "pretext::Tensor::copy_: source shape ",
                  detail::shape_string(src.shape()), " does not broadcast to ",
                  detail::shape_string(shape_));
    const auto s = src.expand(shape_);
    detail::copy_strided(data_, strides_, s.data(), s.strides(), shape_);
    bump_version();
    return *this;
  }

  /// Sets every element of this view to value. Returns *this.
  const Tensor& fill_(T value) const {
    Tensor<T, 0, Device> v(Shape<0>{});
    *v.data() = value;
    detail::copy_strided(data_, strides_, v.data(), strides_type{}, shape_);
    bump_version();
    return *this;
  }

  /// Elements in row-major order, copied into a std::vector (tests and small outputs).
  std::vector<T> to_vector() const {
    const Tensor c = contiguous();
    return std::vector<T>(c.data_, c.data_ + c.numel());
  }

 private:
  template <element, int, device>
  friend class Tensor;

  static index_t numel_of(const shape_type& s) {
    return pretext::numel(s);
  }

  static index_t checked_numel(const shape_type& s) {
    for (auto e : s)
      PRETEXT_CHECK(e >= 0, shape_error, "pretext::Tensor: negative extent in shape ",
                    detail::shape_string(s));
    return numel_of(s);
  }

  template <std::size_t N>
  static Shape<static_cast<int>(N)> to_shape(const index_t (&s)[N]) {
    Shape<static_cast<int>(N)> out{};
    std::copy(s, s + N, out.begin());
    return out;
  }

  template <std::size_t N>
  void check_indices(const std::array<index_t, N>& ix) const {
    for (std::size_t i = 0; i < N; ++i)
      PRETEXT_CHECK(ix[i] >= 0 && ix[i] < shape_[i], index_error, "pretext::Tensor: index ",
                    detail::shape_string(ix), " is out of bounds for shape ",
                    detail::shape_string(shape_));
  }

  template <std::size_t N>
  index_t offset_of(const std::array<index_t, N>& ix) const noexcept {
    index_t off = 0;
    for (std::size_t i = 0; i < N; ++i) off += ix[i] * strides_[i];
    return off;
  }

  template <int NewRank>
  Shape<NewRank> infer_shape(Shape<NewRank> s, const char* op) const {
    int infer = -1;
    index_t known = 1;
    for (int i = 0; i < NewRank; ++i) {
      const index_t e = s[static_cast<std::size_t>(i)];
      if (e == -1) {
        PRETEXT_CHECK(infer < 0, shape_error, op, ": more than one -1 in ",
                      detail::shape_string(s));
        infer = i;
      } else {
        PRETEXT_CHECK(e >= 0, shape_error, op, ": negative extent in ", detail::shape_string(s));
        known *= e;
      }
    }
    if (infer >= 0) {
      PRETEXT_CHECK(numel() != 0, shape_error, op, ": -1 in ", detail::shape_string(s),
                    " is ambiguous for a tensor with no elements; give every extent");
      PRETEXT_CHECK(known != 0 && numel() % known == 0, shape_error, op, ": cannot infer -1 in ",
                    detail::shape_string(s), " for ", numel(), " elements of shape ",
                    detail::shape_string(shape_));
      s[static_cast<std::size_t>(infer)] = numel() / known;
      known *= s[static_cast<std::size_t>(infer)];
    }
    PRETEXT_CHECK(known == numel(), shape_error, op, ": shape ", detail::shape_string(shape_), " (",
                  numel(), " elements) cannot become ", detail::shape_string(s), " (", known,
                  " elements)");
    return s;
  }

  // Strides that view this tensor's elements as shape s without a copy, if any exist. Old axes
  // are grouped into runs that are contiguous with one another; each run must be covered exactly
  // by a group of new axes, which then step through it with the run's innermost stride.
  template <int NewRank>
  std::optional<Strides<NewRank>> view_strides(const Shape<NewRank>& s) const {
    if (numel() == 0 || Rank == 0) return contiguous_strides(s);
    Strides<NewRank> st{};
    auto os = [&](int i) { return shape_[static_cast<std::size_t>(i)]; };
    auto ot = [&](int i) { return strides_[static_cast<std::size_t>(i)]; };
    int nd = NewRank - 1;
    index_t base = ot(Rank - 1), run_n = 1, view_n = 1;
    for (int od = Rank - 1; od >= 0; --od) {
      run_n *= os(od);
      const bool run_ends = od == 0 || (os(od - 1) != 1 && ot(od - 1) != run_n * base);
      if (!run_ends) continue;
      while (nd >= 0 && (view_n < run_n || s[static_cast<std::size_t>(nd)] == 1)) {
        st[static_cast<std::size_t>(nd)] = view_n * base;
        view_n *= s[static_cast<std::size_t>(nd)];
        --nd;
      }
      if (view_n != run_n) return std::nullopt;
      if (od > 0) base = ot(od - 1), run_n = 1, view_n = 1;
    }
    if (nd != -1) return std::nullopt;
    return st;
  }

  Storage<T, Device> storage_;
  T* data_ = nullptr;
  shape_type shape_{};
  strides_type strides_{};
};

// ---- free factories: the rank comes from the braced shape, e.g. zeros<float>({2, 3}) --------

template <element T, device D = Cpu, std::size_t N>
Tensor<T, static_cast<int>(N), D> empty(const index_t (&shape)[N]) {
  Shape<static_cast<int>(N)> s{};
  std::copy(shape, shape + N, s.begin());
  return Tensor<T, static_cast<int>(N), D>::empty(s);
}
template <element T, device D = Cpu, std::size_t N>
Tensor<T, static_cast<int>(N), D> full(const index_t (&shape)[N], T value) {
  auto t = empty<T, D>(shape);
  t.fill_(value);
  return t;
}
template <element T, device D = Cpu, std::size_t N>
Tensor<T, static_cast<int>(N), D> zeros(const index_t (&shape)[N]) {
  return full<T, D>(shape, T(0));
}
template <element T, device D = Cpu, std::size_t N>
Tensor<T, static_cast<int>(N), D> ones(const index_t (&shape)[N]) {
  return full<T, D>(shape, T(1));
}
/// A rank-0 tensor holding v.
template <element T, device D = Cpu>
Tensor<T, 0, D> scalar_tensor(T v) {
  return Tensor<T, 0, D>::full(Shape<0>{}, v);
}
/// 0, 1, ..., n-1.
template <element T>
Tensor<T, 1> arange(index_t n) {
  Tensor<T, 1> t(Shape<1>{n});
  for (index_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(i);
  return t;
}

/// Prints shape and, for up to 64 elements, the values in row-major order.
template <element T, int R, device D>
std::ostream& operator<<(std::ostream& os, const Tensor<T, R, D>& t) {
  os << "Tensor<" << dtype_name<T>() << ", " << R << ", " << D::name << ">"
     << detail::shape_string(t.shape());
  if (!t.defined() || t.numel() > 64 || !std::is_same_v<D, Cpu>) return os;
  os << " {";
  const auto v = t.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << +v[i];
  return os << "}";
}

}  // namespace pretext
