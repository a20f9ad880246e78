#pragma once
/// \file
/// parlab::aio with the pools, without blocking the loop thread: await a pool's AsyncResult
/// (wrap_future), the next result of an imap / imap_unordered (anext), and run one call on a pool
/// (run_in_executor). For Pool, ProcessPool and MpiPool alike. The machinery is in
/// detail/aio_bridge.hpp.

#include "parlab/aio.hpp"
#include "parlab/async_result.hpp"
#include "parlab/detail/aio_bridge.hpp"
#include "parlab/detail/stop.hpp"
#include "parlab/futures.hpp"
#include "parlab/pool.hpp"

#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace parlab::aio {

namespace detail {

/// Arms `result`'s on_ready notification; the Stop withdraws it and cancels the work.
template <class T>
PoolBridge::Arm arm_result(AsyncResult<T> result) {
  return [result = std::move(result)](std::function<void()> notify) -> PoolBridge::Stop {
    const auto id = parlab::detail::ResultAccess::state(result).on_ready(std::move(notify));
    return [result, id]() mutable {
      if (id != 0) parlab::detail::ResultAccess::state(result).remove_on_ready(id);
      result.cancel();
    };
  };
}

/// The coroutine behind wrap_future and run_in_executor: waits on the loop for `result`, then
/// returns its value (moved out when `take`, or when T cannot be copied) or rethrows its error.
template <class T>
Task<T> await_result(AsyncResult<T> result, bool take) {
  if (!result.ready()) {
    auto wait = wait_notified(arm_result(result));
    co_await std::move(wait);
  }
  if constexpr (std::is_void_v<T>) {
    result.get();
  } else {
    if constexpr (std::is_copy_constructible_v<T>) {
      if (!take) co_return result.get();
    }
    co_return std::move(result).get();
  }
}

/// The coroutine behind anext.
template <class R>
Task<std::optional<R>> next_result(ImapResult<R>* results) {
  if (!results->notify_when_available(nullptr)) {
    auto wait = wait_notified([results](const std::function<void()>& notify) -> PoolBridge::Stop {
      if (results->notify_when_available(notify)) notify();  // arrived since the check above
      return [results] { results->notify_when_available(nullptr); };
    });
    co_await std::move(wait);
  }
  co_return results->next();  // returns at once now
}

}  // namespace detail

/// Awaits a pool's result on the loop (Python's `await asyncio.wrap_future(future)`): the calling
/// task is suspended, the loop runs its other tasks, and when a pool thread completes the result
/// the task resumes on the loop thread with the value (a copy; moved out if T cannot be copied)
/// or the task's exception, with its type. A result already ready gives its value at once.
/// Cancelling the awaiting task (wait_for, a failing gather...) resumes it at once with
/// operation_aborted and cancels the work (AsyncResult::cancel()); so does the loop ending while
/// it waits. Any pool's result: Pool, ProcessPool, MpiPool. Throws std::invalid_argument for an
/// empty AsyncResult.
template <class T>
[[nodiscard]] Task<T> wrap_future(AsyncResult<T> result) {
  if (!result.valid())
    throw std::invalid_argument("parlab: aio::wrap_future needs a result, not an empty AsyncResult");
  return detail::await_result(std::move(result), false);
}

/// Runs f(args...) on `pool` and awaits its result from the loop (Python's
/// `await loop.run_in_executor(executor, func, *args)`): pool.apply_async(f, args...), submitted at
/// once, then wrap_future. f and the arguments follow the pool's rules: copied into the task; on a
/// ProcessPool or an MpiPool, a plain function or a captureless lambda with arguments and a result
/// that cross a process (checked at compile time by the pool). An f whose first parameter is a
/// std::stop_token gets one, which cancelling the awaiting task requests (Pool).
template <class Backend, class F, class... Args>
requires parlab::detail::InvocableOnCopiesWithStop<F, Args...>
[[nodiscard]] auto run_in_executor(BasicPool<Backend>& pool, F&& f, Args&&... args) {
  auto result = pool.apply_async(std::forward<F>(f), std::forward<Args>(args)...);
  using T = typename decltype(result)::value_type;
  return detail::await_result<T>(std::move(result), true);
}

/// The next result of an imap / imap_unordered, awaited on the loop (Python's
/// `await anext(aiterator)`, the step of `async for`): nullopt after the last; a failed item
/// throws its TaskError. The loop runs its other tasks while the pool computes. Cancelling the
/// awaiting task resumes it with operation_aborted and leaves the imap running (a later anext
/// still gets every result). `results` must outlive the await; one consumer at a time.
template <class R>
[[nodiscard]] Task<std::optional<R>> anext(ImapResult<R>& results) {
  return detail::next_result(&results);
}

}  // namespace parlab::aio
