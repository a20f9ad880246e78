#pragma once
/// \file
/// make_source: the input of a map as a range the pool can index, borrowed or copied.

#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::detail {

/// A source the pool can index: the caller's random-access range itself, or a copy of it.
/// `Own` (async calls): lvalue containers are copied, as Python's list(iterable), so the caller
/// may let them go; views and rvalues are kept by value.
template <bool Own, class Range>
auto make_source(Range&& items) {
  using Raw = std::remove_cvref_t<Range>;
  constexpr bool indexable = std::ranges::random_access_range<Range> && std::ranges::sized_range<Range>;
  if constexpr (indexable && std::ranges::view<Raw>) {
    return Raw(items);
  } else if constexpr (indexable && !std::is_lvalue_reference_v<Range>) {
    return std::ranges::owning_view<Raw>(std::move(items));
  } else if constexpr (indexable && !Own) {
    return std::ranges::ref_view<std::remove_reference_t<Range>>(items);
  } else {
    std::vector<std::ranges::range_value_t<Range>> copy;
    if constexpr (std::ranges::sized_range<Range>) copy.reserve(std::ranges::size(items));
    for (auto&& item : items)
      copy.emplace_back(std::forward<decltype(item)>(item));
    return copy;
  }
}

}  // namespace parlab::detail
