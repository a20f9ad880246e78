#pragma once
/// \file
/// gather's and wait_for's machinery: tasks spawned into a parallel group, each storing its value
/// in a slot, and the first error in completion order.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace parlab::aio::detail {

/// A task's value type where void becomes std::monostate (for tuples and slots).
template <class T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// What gather(std::vector<Task<T>>) returns: std::vector<T>, or nothing for void tasks.
template <class T>
using gather_result_t = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

/// Runs `task` and stores its value in `*slot`; exceptions propagate (to the parallel group).
template <class T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> task, std::optional<value_t<T>>* slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    slot->emplace();
  } else {
    T value = co_await std::move(task);
    slot->emplace(std::move(value));
  }
}

/// A task spawned as one operation of a parallel group.
using SpawnedTask =
    decltype(boost::asio::co_spawn(std::declval<boost::asio::any_io_executor>(),
                                   std::declval<boost::asio::awaitable<void>>(), boost::asio::deferred));

/// Spawns every task on `executor`, storing values into `slots`.
template <class T>
std::vector<SpawnedTask> spawn_all(const boost::asio::any_io_executor& executor,
                                   std::vector<boost::asio::awaitable<T>>& tasks,
                                   std::vector<std::optional<value_t<T>>>& slots) {
  std::vector<SpawnedTask> spawned;
  spawned.reserve(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i)
    spawned.push_back(boost::asio::co_spawn(executor, store_result<T>(std::move(tasks[i]), &slots[i]),
                                            boost::asio::deferred));
  return spawned;
}

/// Rethrows the first exception in completion order, if any.
void rethrow_first(const std::vector<std::size_t>& order, const std::vector<std::exception_ptr>& errors);

/// The values of filled slots.
template <class T>
std::vector<T> take_values(std::vector<std::optional<T>>& slots) {
  std::vector<T> values;
  values.reserve(slots.size());
  for (auto& slot : slots)
    values.push_back(std::move(*slot));
  return values;
}

/// A parallel group of the tasks of a tuple, storing values into `slots`.
template <class... Ts, std::size_t... I>
auto spawn_tuple(const boost::asio::any_io_executor& executor,
                 std::tuple<boost::asio::awaitable<Ts>...>& tasks,
                 std::tuple<std::optional<value_t<Ts>>...>& slots, std::index_sequence<I...> /*indices*/) {
  return boost::asio::experimental::make_parallel_group(
      boost::asio::co_spawn(executor, store_result<Ts>(std::move(std::get<I>(tasks)), &std::get<I>(slots)),
                            boost::asio::deferred)...);
}

/// Rethrows the first exception in completion order of a variadic parallel group's result.
template <class Result, std::size_t... I>
void rethrow_first_of(const Result& result, std::index_sequence<I...> /*indices*/) {
  const auto& order = std::get<0>(result);
  const std::array<std::exception_ptr, sizeof...(I)> errors{std::get<I + 1>(result)...};
  for (std::size_t index : order)
    if (errors[index]) std::rethrow_exception(errors[index]);
}

}  // namespace parlab::aio::detail
