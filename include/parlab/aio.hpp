#pragma once
/// \file
/// parlab::aio — Python's asyncio on Boost.Asio awaitables: one single-threaded event loop
/// (run), gather, to_thread, Semaphore, sleep, wait_for and as_completed. The machinery is in
/// detail/aio_*.hpp.

#include "parlab/detail/aio_gather.hpp"
#include "parlab/detail/aio_loop.hpp"
#include "parlab/detail/aio_outcome.hpp"
#include "parlab/detail/aio_parked.hpp"
#include "parlab/detail/aio_parked_line.hpp"
#include "parlab/detail/aio_thread.hpp"
#include "parlab/detail/invocable.hpp"
#include "parlab/errors.hpp"
#include "parlab/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/cancellation_condition.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::aio {

/// A coroutine of the event loop, Python's `async def` (an alias: every asio awaitable is a Task).
template <class T = void>
using Task = boost::asio::awaitable<T>;

/// The executor of the event loop, as `co_await aio::this_loop()` returns it.
using Executor = boost::asio::any_io_executor;

/// `co_await aio::this_loop()` gives the running loop's executor (asyncio.get_running_loop()).
constexpr boost::asio::this_coro::executor_t this_loop() noexcept { return boost::asio::this_coro::executor; }

/// Settings of the loop that run() creates.
struct LoopOptions {
  /// Threads of the loop's default executor, which runs to_thread calls. 0 = Python's rule,
  /// default_executor_threads().
  std::size_t executor_threads = 0;
  /// Ctrl-C (SIGINT) cancels the main task and run() then throws parlab::KeyboardInterrupt; a second
  /// Ctrl-C stops the loop at once. Taken only while SIGINT has its default disposition (the
  /// program installed no handler of its own, and no other loop is handling it).
  bool handle_sigint = true;
  /// What receives the exception of a task of create_task (aio_tasks.hpp) that nobody retrieved,
  /// when its last handle dies or the loop ends (asyncio's loop.set_exception_handler). Empty: one
  /// line "parlab: aio: Task exception was never retrieved: <what()>" on stderr.
  std::function<void(std::exception_ptr)> exception_handler = nullptr;
};

/// Python's size of the default executor: min(32, cpu_count() + 4).
[[nodiscard]] std::size_t default_executor_threads();

/// The value or the exception of one task (gather with return_exceptions): parlab::Outcome.
using parlab::Outcome;

/// Tag of gather(tasks, return_exceptions): per-task outcomes instead of the first error.
struct ReturnExceptions {
  explicit ReturnExceptions() = default;
};
/// asyncio.gather(..., return_exceptions=True).
inline constexpr ReturnExceptions return_exceptions{};

/// Runs `main` on a new event loop on the calling thread (asyncio.run) and returns its value or
/// rethrows its exception. When `main` completes, the loop stops: tasks of create_task still running
/// are cancelled and the loop runs until they have ended (at most 1 s), exceptions of tasks nobody
/// retrieved go to LoopOptions::exception_handler, other pending tasks are destroyed without being
/// resumed, and the default executor is joined (to_thread calls still running are waited for).
/// Ctrl-C cancels `main`; once it has finished, run throws parlab::KeyboardInterrupt
/// (LoopOptions::handle_sigint). Throws std::logic_error when called from a thread already running
/// a loop.
template <class T>
T run(Task<T> main, LoopOptions options = {}) {
  std::optional<Outcome<T>> outcome;
  if (detail::run_loop(detail::keep_outcome(std::move(main), &outcome), std::move(options)))
    detail::end_interrupted(outcome ? outcome->error() : nullptr, outcome.has_value());
  if (!outcome)
    throw std::logic_error("parlab: aio::run: the event loop stopped before the main task finished");
  return detail::unwrap(std::move(*outcome));
}

/// run() with a callable returning the main task: `aio::run([]() -> Task<int> { ... })`. The callable
/// (and what it captures) lives until run returns.
template <detail::TaskFactory F>
auto run(F main, LoopOptions options = {}) {
  return run(std::invoke(main), std::move(options));
}

/// Suspends the calling task for `delay` (asyncio.sleep); sleep(0s) lets other tasks run. Throws
/// boost::system::system_error (operation_aborted) when the task is cancelled meanwhile.
template <class Rep, class Period>
Task<void> sleep(std::chrono::duration<Rep, Period> delay) {
  return detail::sleep_for(std::chrono::ceil<std::chrono::steady_clock::duration>(delay));
}

/// Runs the tasks concurrently and returns their values in input order (asyncio.gather). The first
/// task to fail cancels the others, gather waits for them to finish, then rethrows that first
/// exception. An empty vector gives an empty result.
template <class T>
Task<detail::gather_result_t<T>> gather(std::vector<Task<T>> tasks) {
  std::vector<std::optional<detail::value_t<T>>> slots(tasks.size());
  if (!tasks.empty()) {
    auto executor = co_await boost::asio::this_coro::executor;
    auto group = boost::asio::experimental::make_parallel_group(detail::spawn_all(executor, tasks, slots));
    auto wait = group.async_wait(boost::asio::experimental::wait_for_one_error(), boost::asio::use_awaitable);
    auto result = co_await std::move(wait);
    detail::rethrow_first(std::get<0>(result), std::get<1>(result));
  }
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    co_return detail::take_values(slots);
  }
}

/// gather(tasks, return_exceptions): waits for every task and returns each one's Outcome in input
/// order; a failure cancels nothing.
template <class T>
Task<std::vector<Outcome<T>>> gather(std::vector<Task<T>> tasks, ReturnExceptions /*tag*/) {
  std::vector<std::optional<detail::value_t<T>>> slots(tasks.size());
  std::vector<Outcome<T>> outcomes;
  if (tasks.empty()) co_return outcomes;
  auto executor = co_await boost::asio::this_coro::executor;
  auto group = boost::asio::experimental::make_parallel_group(detail::spawn_all(executor, tasks, slots));
  auto wait = group.async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
  auto result = co_await std::move(wait);
  const auto& errors = std::get<1>(result);
  outcomes.reserve(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (errors[i]) {
      outcomes.push_back(Outcome<T>::failure(errors[i]));
    } else if constexpr (std::is_void_v<T>) {
      outcomes.push_back(Outcome<void>::success());
    } else {
      outcomes.push_back(Outcome<T>::success(std::move(*slots[i])));
    }
  }
  co_return outcomes;
}

/// gather(a, b, ...) of tasks of different types: a tuple of their values (std::monostate for
/// void tasks), with the error behaviour of gather(std::vector).
template <class... Ts>
requires(sizeof...(Ts) > 0) Task<std::tuple<detail::value_t<Ts>...>> gather(Task<Ts>... tasks) {
  std::tuple<Task<Ts>...> pending{std::move(tasks)...};
  std::tuple<std::optional<detail::value_t<Ts>>...> slots;
  auto executor = co_await boost::asio::this_coro::executor;
  auto group = detail::spawn_tuple(executor, pending, slots, std::index_sequence_for<Ts...>{});
  auto wait = group.async_wait(boost::asio::experimental::wait_for_one_error(), boost::asio::use_awaitable);
  auto result = co_await std::move(wait);
  detail::rethrow_first_of(result, std::index_sequence_for<Ts...>{});
  co_return std::apply([](auto&... slot) { return std::tuple<detail::value_t<Ts>...>(std::move(*slot)...); },
                       slots);
}

/// Runs f(args...) on the loop's default executor, a thread pool of LoopOptions::executor_threads
/// threads, and resumes the calling task on the loop with its value or exception (asyncio.to_thread).
/// `f` and the arguments are decay-copied, as Python passes objects (std::ref shares one).
/// Cancelling the task resumes it at once with operation_aborted; the call itself cannot be stopped
/// and runs to the end, its result discarded.
template <class F, class... Args>
requires parlab::detail::InvocableOnCopies<F, Args...>
auto to_thread(F&& f, Args&&... args) {
  using R = std::decay_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>>;
  auto call = [fn = std::forward<F>(f), tuple = std::make_tuple(std::forward<Args>(args)...)]() mutable -> R {
    return std::apply(fn, std::move(tuple));
  };
  return detail::run_on_thread<R>(std::move(call));
}

/// Waits for `task` at most `timeout` (asyncio.wait_for). On timeout the task is cancelled, waited
/// for, and parlab::TimeoutError is thrown (unless the task still returned a value meanwhile).
template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> task, std::chrono::duration<Rep, Period> timeout) {
  const auto limit = std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
  std::optional<detail::value_t<T>> slot;
  auto executor = co_await boost::asio::this_coro::executor;
  auto group = boost::asio::experimental::make_parallel_group(
      boost::asio::co_spawn(executor, detail::store_result<T>(std::move(task), &slot), boost::asio::deferred),
      boost::asio::co_spawn(executor, detail::sleep_for(limit), boost::asio::deferred));
  auto wait = group.async_wait(boost::asio::experimental::wait_for_one(), boost::asio::use_awaitable);
  auto result = co_await std::move(wait);
  const std::size_t first = std::get<0>(result)[0];
  if (first == 0 && std::get<1>(result)) std::rethrow_exception(std::get<1>(result));
  if (first == 1 && std::get<2>(result))
    std::rethrow_exception(std::get<2>(result));  // cancelled from outside
  if (!slot) throw TimeoutError("parlab: aio::wait_for timed out " + detail::describe_timeout(limit));
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    co_return std::move(*slot);
  }
}

/// asyncio.Semaphore: at most `value` holders at a time; waiters are served first come, first
/// served. Not thread-safe: use it from the loop's tasks. Cancelling a waiting acquire() removes the
/// waiter and takes no permit.
class Semaphore {
 public:
  /// Releases a permit when destroyed (or on release()); move-only.
  class [[nodiscard]] Guard {
   public:
    Guard(Guard&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    Guard& operator=(Guard&& other) noexcept {
      if (this != &other) {
        release();
        semaphore_ = std::exchange(other.semaphore_, nullptr);
      }
      return *this;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }
    /// Releases the permit now (once).
    void release() {
      if (auto* semaphore = std::exchange(semaphore_, nullptr)) semaphore->release();
    }

   private:
    friend class Semaphore;
    explicit Guard(Semaphore* semaphore) : semaphore_(semaphore) {}
    Semaphore* semaphore_;
  };

  /// A semaphore with `value` permits.
  explicit Semaphore(std::size_t value = 1) : value_(value) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  /// Tasks still waiting resume with operation_aborted.
  ~Semaphore();

  /// Takes a permit, waiting in line when none is free. Throws boost::system::system_error
  /// (operation_aborted) when cancelled while waiting.
  Task<void> acquire();
  /// Returns a permit: the first waiter gets it, else it becomes free.
  void release();
  /// acquire(), returning a Guard that releases the permit (`async with sem:`).
  Task<Guard> hold();
  /// Whether acquire() would wait.
  [[nodiscard]] bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
  /// Free permits.
  [[nodiscard]] std::size_t value() const noexcept { return value_; }

 private:
  std::size_t value_;
  detail::ParkedLine<> waiters_;
};

/// Results of tasks in completion order (asyncio.as_completed): `co_await next()` gives the value,
/// or rethrows the exception, of the task that finished first among those not yet taken. The tasks
/// start at the first next(). Destroying it cancels the tasks still running.
template <class T>
class AsCompleted {
 public:
  /// Takes the tasks; they start at the first next().
  explicit AsCompleted(std::vector<Task<T>> tasks) : state_(std::make_shared<State>(std::move(tasks))) {}
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) = delete;
  AsCompleted(const AsCompleted&) = delete;
  AsCompleted& operator=(const AsCompleted&) = delete;
  ~AsCompleted() {
    if (!state_ || !state_->started) return;
    for (std::size_t i = 0; i < state_->signals.size(); ++i)
      if (!state_->finished[i]) state_->signals[i].emit(boost::asio::cancellation_type::terminal);
  }

  /// The next result in completion order. Throws std::logic_error when every result was taken.
  Task<T> next() {
    if (done()) throw std::logic_error("parlab: aio::AsCompleted::next() after the last result");
    ++state_->requested;
    return take(state_);
  }
  /// Whether every result has been asked for by next().
  [[nodiscard]] bool done() const noexcept { return remaining() == 0; }
  /// Results not yet asked for.
  [[nodiscard]] std::size_t remaining() const noexcept { return state_->size - state_->requested; }
  /// Number of tasks.
  [[nodiscard]] std::size_t size() const noexcept { return state_->size; }

 private:
  struct State {
    explicit State(std::vector<Task<T>> tasks) : pending(std::move(tasks)), size(pending.size()) {}
    std::vector<Task<T>> pending;
    std::size_t size;
    std::size_t requested = 0;
    bool started = false;
    Semaphore ready{0};
    std::deque<Outcome<T>> results;
    std::deque<boost::asio::cancellation_signal> signals;
    std::vector<char> finished;
  };

  /// Completion handler of one task: marks it finished, also when the loop drops it unfinished.
  struct Finish {
    std::shared_ptr<State> state;
    std::size_t index;
    Finish(std::shared_ptr<State> s, std::size_t i) : state(std::move(s)), index(i) {}
    Finish(Finish&&) noexcept = default;
    Finish& operator=(Finish&&) = delete;
    ~Finish() {
      if (state) state->finished[index] = 1;
    }
    void operator()(const std::exception_ptr& /*unused*/) const {}
  };

  static Task<void> deliver(Task<T> task, std::shared_ptr<State> state) {
    Outcome<T> outcome = co_await detail::capture(std::move(task));
    state->results.push_back(std::move(outcome));
    state->ready.release();
  }

  static Task<T> take(std::shared_ptr<State> state) {
    if (!state->started) {
      state->started = true;
      auto executor = co_await boost::asio::this_coro::executor;
      state->finished.assign(state->size, 0);
      for (std::size_t i = 0; i < state->size; ++i) {
        auto& signal = state->signals.emplace_back();
        boost::asio::co_spawn(executor, deliver(std::move(state->pending[i]), state),
                              boost::asio::bind_cancellation_slot(signal.slot(), Finish{state, i}));
      }
      state->pending.clear();
    }
    try {
      co_await state->ready.acquire();
    } catch (...) {
      --state->requested;
      throw;
    }
    Outcome<T> outcome = std::move(state->results.front());
    state->results.pop_front();
    co_return detail::unwrap(std::move(outcome));
  }

  std::shared_ptr<State> state_;
};

/// asyncio.as_completed: `auto results = aio::as_completed(std::move(tasks));` then
/// `co_await results.next()` size() times.
template <class T>
AsCompleted<T> as_completed(std::vector<Task<T>> tasks) {
  return AsCompleted<T>(std::move(tasks));
}

}  // namespace parlab::aio
