// SPDX-License-Identifier: Apache-2.0
// Reference-counted element storage shared by a tensor and all its views.
//
// The count lives in a 64-byte header in front of the elements, in the same block from the
// caching allocator, so making a tensor costs one cached allocation and no control-block malloc
// (std::shared_ptr would add one per tensor).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "pretext/config.hpp"
#include "pretext/core/allocator.hpp"
#include "pretext/core/device.hpp"
#include "pretext/core/dtype.hpp"

namespace pretext {
namespace detail {

struct alignas(alignment) StorageHeader {
  std::atomic<std::int64_t> refs{1};
  std::size_t block_bytes = 0;  // header + elements, as passed to the allocator
  // Bumped by every in-place write through the tensor API; autograd compares it with the value
  // it saw when it saved the tensor, as PyTorch's version counter does.
  std::atomic<std::uint64_t> version{0};
};
static_assert(sizeof(StorageHeader) == alignment);

template <class Device>
struct DeviceAllocator {
  // Dependent on Device so the assertion fires only when a CUDA tensor is really allocated.
  static_assert(std::is_same_v<Device, Cpu> || PRETEXT_CUDA,
                "pretext: CUDA tensors need the CUDA backend; configure with -DPRETEXT_CUDA=ON");
  static void* allocate(std::size_t n) { return host_allocate(n); }
  static void deallocate(void* p, std::size_t n) noexcept { host_deallocate(p, n); }
};

}  // namespace detail

/// A block of `size()` elements of T on Device, shared by reference count.
template <element T, device Device = Cpu>
class Storage {
 public:
  Storage() = default;
  explicit Storage(std::size_t n) {
    const std::size_t bytes = sizeof(detail::StorageHeader) + n * sizeof(T);
    void* p = detail::DeviceAllocator<Device>::allocate(bytes);
    h_ = new (p) detail::StorageHeader();
    h_->block_bytes = bytes;
  }
  Storage(const Storage& o) noexcept : h_(o.h_) {
    if (h_) h_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  Storage(Storage&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Storage& operator=(Storage o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~Storage() { release(); }

  T* data() const noexcept {
    return h_ ? reinterpret_cast<T*>(reinterpret_cast<char*>(h_) + sizeof(detail::StorageHeader))
              : nullptr;
  }
  std::size_t size() const noexcept {
    return h_ ? (h_->block_bytes - sizeof(detail::StorageHeader)) / sizeof(T) : 0;
  }
  /// Number of tensors sharing this storage (for tests and copy-on-write decisions).
  std::int64_t use_count() const noexcept {
    return h_ ? h_->refs.load(std::memory_order_relaxed) : 0;
  }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  /// How many in-place writes this storage has seen (0 when undefined).
  std::uint64_t version() const noexcept {
    return h_ ? h_->version.load(std::memory_order_relaxed) : 0;
  }
  /// Records an in-place write; called by every in-place operation.
  void bump_version() const noexcept {
    if (h_) h_->version.fetch_add(1, std::memory_order_relaxed);
  }
  bool same(const Storage& o) const noexcept { return h_ == o.h_; }

 private:
  void release() noexcept {
    if (h_ && h_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const std::size_t bytes = h_->block_bytes;
      h_->~StorageHeader();
      detail::DeviceAllocator<Device>::deallocate(h_, bytes);
    }
    h_ = nullptr;
  }
  detail::StorageHeader* h_ = nullptr;
};

}  // namespace pretext
