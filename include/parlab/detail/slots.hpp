#pragma once
/// \file
/// Where a map puts each item's result: ResultSlots (map), OutcomeSlots (map_outcomes),
/// OutputSlots (map_into), and the result types of a map call.

#include "parlab/outcome.hpp"

#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::detail {

/// Result of calling F on the elements of Range.
template <class F, class Range>
using map_result_t = std::decay_t<std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>>;

/// What map returns for element results R: std::vector<R>, or nothing for void.
template <class R>
using map_output_t = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

/// Per-index result storage that workers fill without locks; take() hands over the vector.
template <class R>
class ResultSlots {
  // vector<bool> packs bits and cannot be written from several threads; optional<bool> can.
  static constexpr bool direct = std::is_default_constructible_v<R> && !std::is_same_v<R, bool>;
  using Slot = std::conditional_t<direct, R, std::optional<R>>;

 public:
  using Output = std::vector<R>;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = false;
  explicit ResultSlots(std::size_t n) : slots_(n) {}
  void set(std::size_t i, R&& value) { slots_[i] = std::move(value); }
  std::vector<R> take() {
    if constexpr (direct) {
      return std::move(slots_);
    } else {
      std::vector<R> out;
      out.reserve(slots_.size());
      for (auto& slot : slots_)
        out.push_back(std::move(*slot));
      return out;
    }
  }

 private:
  std::vector<Slot> slots_;
};
/// No storage: the function returns nothing.
template <>
class ResultSlots<void> {
 public:
  using Output = void;
  static constexpr bool stores = false;
  static constexpr bool keeps_errors = false;
  explicit ResultSlots(std::size_t /*n*/) {}
};

/// Every item's outcome, value or error (map_outcomes): a failed item does not fail the call.
template <class R>
class OutcomeSlots {
 public:
  using Output = std::vector<Outcome<R>>;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = true;
  explicit OutcomeSlots(std::size_t n) : slots_(n) {}
  template <class... V>
  void set(std::size_t i, V&&... value) {
    slots_[i] = Outcome<R>::success(std::forward<V>(value)...);
  }
  void set_error(std::size_t i, std::exception_ptr error) {
    slots_[i] = Outcome<R>::failure(std::move(error));
  }
  Output take() { return std::move(slots_); }

 private:
  Output slots_;
};

/// Writes results into the caller's random-access output (map_into).
template <class It>
class OutputSlots {
 public:
  using Output = void;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = false;
  explicit OutputSlots(It first) : first_(first) {}
  template <class V>
  void set(std::size_t i, V&& value) {
    first_[static_cast<std::iter_difference_t<It>>(i)] = std::forward<V>(value);
  }

 private:
  It first_;
};

}  // namespace parlab::detail
