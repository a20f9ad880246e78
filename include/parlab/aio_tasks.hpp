#pragma once
/// \file
/// parlab::aio tasks as objects and structured concurrency: create_task and TaskHandle
/// (asyncio.create_task / asyncio.Task), task_group and TaskGroup (asyncio.TaskGroup, with
/// ExceptionGroup), timeout / timeout_at (asyncio.timeout) and shield (asyncio.shield). The
/// machinery is in detail/aio_task_core.hpp.

#include "parlab/aio.hpp"
#include "parlab/detail/aio_task_core.hpp"
#include "parlab/errors.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::aio {

template <class T>
class TaskHandle;
class TaskGroup;

/// Schedules `task` on the running loop at once (asyncio.create_task): it starts at the loop's next
/// turn and runs concurrently with the caller, also when every handle is dropped (the loop owns
/// it). Call it from a task of the loop; elsewhere it throws std::logic_error.
template <class T>
TaskHandle<T> create_task(Task<T> task);

template <class T>
Task<T> shield(TaskHandle<T> task);

/// A task created by create_task (asyncio.Task). Copies share the task. Use it on the loop's thread.
/// `co_await handle.wait()` is `await task`.
template <class T>
class TaskHandle {
 public:
  /// Whether the task has ended (returned, failed or was cancelled).
  [[nodiscard]] bool done() const noexcept { return ref_->state->done(); }
  /// Whether the task ended by cancel(): it saw operation_aborted and let it propagate.
  [[nodiscard]] bool cancelled() const noexcept { return ref_->state->cancelled(); }
  /// Emits Asio terminal cancellation into the task, which sees operation_aborted where it waits;
  /// false if the task is done. A task that catches it and returns normally is not cancelled.
  bool cancel() { return ref_->state->cancel(); }

  /// The value of a finished task, or its exception rethrown (Python: task.result()). Throws
  /// parlab::CancelledError for a cancelled task and std::logic_error if it is not done.
  decltype(auto) result() const {
    check_done("result");
    if constexpr (std::is_void_v<T>) {
      ref_->state->take();
    } else {
      return static_cast<const T&>(ref_->state->value());
    }
  }
  /// The exception of a finished task, null if it returned (Python: task.exception()). Throws
  /// parlab::CancelledError for a cancelled task and std::logic_error if it is not done.
  [[nodiscard]] std::exception_ptr exception() const {
    check_done("exception");
    return ref_->state->take_error();
  }

  /// Waits for the task and gives its value or rethrows its exception (Python: `await task`);
  /// parlab::CancelledError if it was cancelled. Cancelling the waiting task cancels this task too
  /// and waits for it to end (use shield() to keep it running); the waiter then sees
  /// operation_aborted if the task ended cancelled.
  Task<T> wait() const { return wait_on(*this); }

 private:
  template <class U>
  friend TaskHandle<U> create_task(Task<U> task);
  friend Task<T> shield<T>(TaskHandle<T> task);
  friend class TaskGroup;

  /// The one owner of a TaskHandle's state; its end is the last handle's.
  struct Ref {
    explicit Ref(std::shared_ptr<detail::TaskState<T>> s) : state(std::move(s)) { state->handles(); }
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { state->handles_gone(); }
    std::shared_ptr<detail::TaskState<T>> state;
  };

  explicit TaskHandle(std::shared_ptr<detail::TaskState<T>> state)
      : ref_(std::make_shared<Ref>(std::move(state))) {}

  void check_done(const char* what) const {
    if (!done())
      throw std::logic_error(std::string("parlab: aio::TaskHandle::") + what + "(): the task is not done");
    if (cancelled()) throw CancelledError("parlab: aio: the task was cancelled");
  }

  static Task<T> wait_on(TaskHandle self) {
    auto state = self.ref_->state;
    std::function<void()> cancel = [state] { state->cancel(); };
    auto wait = detail::wait_or_cancel(&state->finished(), std::move(cancel));
    const bool aborted = co_await std::move(wait);
    if (!aborted) {
      // Cancelled after the task ended but before resuming: the cancellation wins, as in Python.
      auto check = detail::throw_if_cancelled();
      co_await std::move(check);
    }
    if (state->cancelled()) {
      if (aborted) throw boost::system::system_error(boost::asio::error::operation_aborted);
      throw CancelledError("parlab: aio: the awaited task was cancelled");
    }
    co_return state->take();
  }

  std::shared_ptr<Ref> ref_;
};

template <class T>
TaskHandle<T> create_task(Task<T> task) {
  auto state = detail::new_task<T>("parlab: aio::create_task() needs a running event loop");
  detail::launch(state, std::move(task), true);
  return TaskHandle<T>(std::move(state));
}

/// Python's ExceptionGroup: the failures of a TaskGroup's tasks, in the order they happened.
class ExceptionGroup : public std::exception {
 public:
  /// what() is `message`, "(N sub-exceptions)" and each one's what().
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions);
  [[nodiscard]] const char* what() const noexcept override { return what_->c_str(); }
  /// The exceptions, each with its own type.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept { return *exceptions_; }

 private:
  std::shared_ptr<const std::string> what_;
  std::shared_ptr<const std::vector<std::exception_ptr>> exceptions_;
};

namespace detail {

/// The value type of a Task.
template <class T>
struct task_value;
template <class T>
struct task_value<boost::asio::awaitable<T>> {
  using type = T;
};

/// A callable that makes the body of a scope: it returns a Task when called with `Arg&`.
template <class F, class Arg>
concept ScopeBody = std::invocable<F&, Arg&> && is_task<std::invoke_result_t<F&, Arg&>>::value;

}  // namespace detail

/// The tasks of one task_group scope (asyncio.TaskGroup): create_task adds one. Made by task_group
/// and alive for its scope only.
class TaskGroup {
 public:
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Schedules `task` in the group (asyncio.TaskGroup.create_task); the group's end waits for it.
  /// Throws std::logic_error once the group is shutting down (a task failed) or finished.
  template <class T>
  TaskHandle<T> create_task(Task<T> task) {
    check_open();
    auto state = detail::new_task<T>("parlab: aio::TaskGroup::create_task() needs a running event loop");
    auto position = running_.insert(running_.end(), state.get());
    state->on_done([this, position](detail::TaskCore& child) { child_done(child, position); });
    detail::launch(state, std::move(task), true);
    return TaskHandle<T>(std::move(state));
  }

 private:
  template <class F>
  requires detail::ScopeBody<F, TaskGroup>
  friend std::invoke_result_t<F&, TaskGroup&> task_group(F body);

  TaskGroup() = default;
  ~TaskGroup() = default;
  void check_open() const;
  void child_done(detail::TaskCore& child, std::list<detail::TaskCore*>::iterator position);
  /// Cancels every task still running (the first failure, or the awaiting task's cancellation).
  void abort();
  /// Waits for every task; throws ExceptionGroup if any failed, operation_aborted if cancelled.
  Task<void> join();

  std::list<detail::TaskCore*> running_;
  std::vector<std::exception_ptr> errors_;
  detail::Event all_done_;
  bool aborting_ = false;
};

/// Structured concurrency (Python 3.11's `async with asyncio.TaskGroup() as group:`): runs
/// `body(group)` as the group's first task; the tasks that body (or any task of the group) adds
/// with group.create_task run concurrently, and task_group returns only when every one has ended.
/// The first failure cancels the others and the body; then every failure (not the cancellations it
/// caused) is thrown together as an ExceptionGroup. Cancelling the awaiting task cancels them all
/// and waits for them. Gives body's value.
template <class F>
requires detail::ScopeBody<F, TaskGroup> std::invoke_result_t<F&, TaskGroup&> task_group(F body) {
  TaskGroup group;
  auto handle = group.create_task(std::invoke(body, group));
  auto join = group.join();
  co_await std::move(join);
  auto value = handle.wait();
  co_return co_await std::move(value);
}

/// The deadline of one timeout scope (asyncio.Timeout), given to its body.
class Timeout {
 public:
  using Clock = std::chrono::steady_clock;

  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout();

  /// The deadline; nullopt for none.
  [[nodiscard]] std::optional<Clock::time_point> when() const noexcept { return state_->deadline; }
  /// Moves the deadline (nullopt: none); a deadline already past expires at once. Throws
  /// std::logic_error once the timeout has expired or the scope has ended.
  void reschedule(std::optional<Clock::time_point> deadline);
  /// Whether the deadline passed and the body was cancelled for it.
  [[nodiscard]] bool expired() const noexcept { return state_->expired; }

 private:
  template <class F>
  requires detail::ScopeBody<F, Timeout>
  friend std::invoke_result_t<F&, Timeout&> timeout_at(std::optional<Clock::time_point> deadline, F body);

  struct State {
    explicit State(const Executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    std::optional<Clock::time_point> deadline;
    std::shared_ptr<detail::TaskCore> body;
    unsigned generation = 0;
    bool expired = false;
    bool ended = false;
  };

  Timeout(const Executor& executor, std::optional<Clock::time_point> deadline);
  /// Arms the timer for the body.
  void start(std::shared_ptr<detail::TaskCore> body);
  void arm();
  /// The scope ended: the timer stops.
  void end();

  std::shared_ptr<State> state_;
};

/// asyncio.timeout_at(when): runs `body(scope)` and waits for it; at `deadline` the body is
/// cancelled (it sees operation_aborted where it waits) and, once it has ended, timeout_at throws
/// parlab::TimeoutError. Gives body's value, or rethrows its exception (also when the body caught
/// the cancellation: then there is no timeout). Nested scopes report only their own expiry.
template <class F>
requires detail::ScopeBody<F, Timeout> std::invoke_result_t<F&, Timeout&> timeout_at(
    std::optional<Timeout::Clock::time_point> deadline, F body) {
  using T = typename detail::task_value<std::invoke_result_t<F&, Timeout&>>::type;
  auto executor = co_await boost::asio::this_coro::executor;
  Timeout scope{executor, deadline};
  auto task = std::invoke(body, scope);
  auto state = detail::new_task<T>("parlab: aio::timeout() needs a running event loop");
  scope.start(state);
  detail::launch(state, std::move(task), false);
  std::function<void()> cancel = [state] { state->cancel(); };
  auto wait = detail::wait_or_cancel(&state->finished(), std::move(cancel));
  const bool aborted = co_await std::move(wait);
  scope.end();
  if (state->cancelled()) {
    if (scope.expired() && !aborted) throw TimeoutError("parlab: aio::timeout expired");
    throw boost::system::system_error(boost::asio::error::operation_aborted);
  }
  co_return state->take();
}

/// asyncio.timeout(delay): timeout_at(now + delay, body).
template <class Rep, class Period, class F>
requires detail::ScopeBody<F, Timeout> std::invoke_result_t<F&, Timeout&> timeout(
    std::chrono::duration<Rep, Period> delay, F body) {
  const auto deadline = Timeout::Clock::now() + std::chrono::ceil<Timeout::Clock::duration>(delay);
  return timeout_at(deadline, std::move(body));
}

/// asyncio.shield: waits for `task` without passing on a cancellation. When the awaiting task is
/// cancelled, it gets operation_aborted at once and the task runs on; an exception it then ends with
/// and nobody retrieves goes to LoopOptions::exception_handler.
template <class T>
Task<T> shield(TaskHandle<T> task) {
  auto state = task.ref_->state;
  auto wait = detail::until_set(&state->finished());
  co_await std::move(wait);
  if (state->cancelled()) throw CancelledError("parlab: aio: the shielded task was cancelled");
  co_return state->take();
}

/// shield(create_task(task)).
template <class T>
Task<T> shield(Task<T> task) {
  auto inner = shield(create_task(std::move(task)));
  co_return co_await std::move(inner);
}

}  // namespace parlab::aio
