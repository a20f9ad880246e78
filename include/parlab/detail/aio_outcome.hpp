#pragma once
/// \file
/// A call's or a task's value or exception kept in an Outcome (invoke_captured, capture,
/// keep_outcome), and taken out again (unwrap).

#include "parlab/outcome.hpp"

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace parlab::aio::detail {

/// The value of an outcome, moved out, or its exception rethrown.
template <class T>
T unwrap(Outcome<T>&& outcome) {
  if constexpr (std::is_void_v<T>) {
    outcome.rethrow();
  } else {
    return std::move(outcome).value();
  }
}

/// Runs `call` and keeps its value or exception.
template <class R, class Call>
Outcome<R> invoke_captured(Call& call) {
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      return Outcome<void>::success();
    } else {
      return Outcome<R>::success(call());
    }
  } catch (...) {
    return Outcome<R>::failure(std::current_exception());
  }
}

/// Runs `task` and keeps its value or exception.
template <class T>
boost::asio::awaitable<Outcome<T>> capture(boost::asio::awaitable<T> task) {
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      co_return Outcome<void>::success();
    } else {
      T value = co_await std::move(task);
      co_return Outcome<T>::success(std::move(value));
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_return Outcome<T>::failure(std::move(error));
}

/// Runs `task` and stores its outcome in `*out`.
template <class T>
boost::asio::awaitable<void> keep_outcome(boost::asio::awaitable<T> task, std::optional<Outcome<T>>* out) {
  Outcome<T> outcome = co_await capture(std::move(task));
  out->emplace(std::move(outcome));
}

}  // namespace parlab::aio::detail
