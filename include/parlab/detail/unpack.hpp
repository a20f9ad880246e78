#pragma once
/// \file
/// Unpack: turns f(a, b, ...) into a call on one tuple, for starmap and apply.

#include <tuple>
#include <utility>

namespace parlab::detail {

/// Turns f(a, b, ...) into g(tuple): starmap's items and apply's arguments are tuples.
template <class F>
struct Unpack {
  F f;
  template <class Tuple>
  decltype(auto) operator()(Tuple&& args) {
    return std::apply(f, std::forward<Tuple>(args));
  }
};

}  // namespace parlab::detail
