#pragma once
/// \file
/// The machinery of aio::create_task, TaskGroup, timeout and shield (src/aio_tasks.cpp): Event (a
/// flag that tasks wait for), TaskCore / TaskState (one spawned task: its cancellation signal, its
/// value or exception, its waiters) and LoopTasks (the tasks of one event loop, which run_loop
/// cancels and reports on when the loop ends).

#include "parlab/detail/aio_gather.hpp"
#include "parlab/detail/aio_parked.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace parlab::aio::detail {

/// A flag that tasks wait for (until_set); set once. Lives on the loop thread.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  [[nodiscard]] bool is_set() const noexcept { return set_; }
  /// Sets the flag and resumes every waiter.
  void set();
  /// Resumes `waiter` when the flag is set (at once if it is); a cancelled waiter leaves the list.
  void park(std::shared_ptr<Parked<boost::system::error_code>> waiter);

 private:
  bool set_ = false;
  std::list<std::shared_ptr<Parked<boost::system::error_code>>> waiters_;
};

/// Waits until `*event` is set. Throws boost::system::system_error (operation_aborted) when the
/// calling task is cancelled meanwhile.
boost::asio::awaitable<void> until_set(Event* event);

/// Waits until `*event` is set; when the calling task is cancelled meanwhile, calls `cancel` (which
/// should make the event come) and waits for the event regardless of further cancellations. Returns
/// whether the calling task was cancelled. For scopes that must not end before their children.
boost::asio::awaitable<bool> wait_or_cancel(Event* event, std::function<void()> cancel);

/// Throws boost::system::system_error (operation_aborted) if the calling task has been cancelled.
boost::asio::awaitable<void> throw_if_cancelled();

/// Whether `error` is a boost::system::system_error with operation_aborted.
[[nodiscard]] bool is_operation_aborted(const std::exception_ptr& error);

class LoopTasks;

/// The state of one spawned task that does not depend on its value type.
class TaskCore {
 public:
  TaskCore(const TaskCore&) = delete;
  TaskCore& operator=(const TaskCore&) = delete;
  virtual ~TaskCore();

  [[nodiscard]] bool done() const noexcept { return finished_.is_set(); }
  /// Whether the task ended by its cancellation: cancel() was called and the task ended with
  /// operation_aborted.
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }
  /// Emits terminal cancellation into the task; false if it is done.
  bool cancel();
  /// The exception the task ended with (null if it returned or was cancelled), now retrieved.
  [[nodiscard]] std::exception_ptr take_error() noexcept {
    retrieved_ = true;
    return error_;
  }
  /// Set when the task is done.
  [[nodiscard]] Event& finished() noexcept { return finished_; }
  /// Called once when the task is done (TaskGroup's bookkeeping).
  void on_done(std::function<void(TaskCore&)> hook) { on_done_ = std::move(hook); }
  /// An unretrieved exception is reported (LoopTasks::report) when the last TaskHandle dies or the
  /// loop ends: handles() marks the task as held by handles, handles_gone() says the last one died.
  void handles() noexcept { held_ = true; }
  void handles_gone() noexcept;
  /// The signal that cancel() emits, bound to the task's co_spawn.
  [[nodiscard]] boost::asio::cancellation_slot slot() { return signal_.slot(); }

 protected:
  /// Registers the task with `loop`.
  explicit TaskCore(LoopTasks& loop);
  /// The task ended, with `error` (null when it returned).
  void finish(std::exception_ptr error);

 private:
  friend class LoopTasks;
  /// The loop ends with the task unfinished: it counts as cancelled, its waiters are released.
  void abandon();
  void report_if_unretrieved() noexcept;

  LoopTasks* loop_;
  std::list<TaskCore*>::iterator position_;
  boost::asio::cancellation_signal signal_;
  Event finished_;
  std::function<void(TaskCore&)> on_done_;
  std::exception_ptr error_;
  bool cancel_requested_ = false;
  bool cancelled_ = false;
  bool retrieved_ = false;
  bool held_ = false;
  bool handles_gone_ = false;
};

/// A spawned task returning T: TaskCore plus its value.
template <class T>
class TaskState final : public TaskCore {
 public:
  explicit TaskState(LoopTasks& loop) : TaskCore(loop) {}

  /// Stores the value (drive's end).
  void succeed(value_t<T> value) {
    value_.emplace(std::move(value));
    finish(nullptr);
  }
  /// Stores the exception (drive's end).
  void fail(std::exception_ptr error) { finish(std::move(error)); }

  /// The value, or the task's exception rethrown; the caller has checked done() and cancelled().
  /// A copyable value is copied; a move-only one is moved out, once.
  T take() {
    if (auto error = take_error()) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) {
      if constexpr (std::is_copy_constructible_v<T>) {
        return *value_;
      } else {
        return std::move(*take_value());
      }
    }
  }
  /// The stored value of a task that returned, or its exception rethrown (TaskHandle::result()).
  const value_t<T>& value() {
    if (auto error = take_error()) std::rethrow_exception(error);
    check_not_taken();
    return *value_;
  }

 private:
  void check_not_taken() const {
    if (taken_) throw std::logic_error("parlab: aio: the task's move-only result was already taken");
  }
  std::optional<value_t<T>>& take_value() {
    check_not_taken();
    taken_ = true;
    return value_;
  }

  std::optional<value_t<T>> value_;
  bool taken_ = false;
};

/// The tasks of the event loop that runs on this thread (run_loop makes one per loop): spawns
/// tasks on it, cancels those still running when the main task is done, and reports exceptions
/// nobody retrieved to LoopOptions::exception_handler.
class LoopTasks {
 public:
  /// Becomes this thread's current loop until destroyed.
  LoopTasks(boost::asio::io_context& loop, std::function<void(std::exception_ptr)> exception_handler);
  LoopTasks(const LoopTasks&) = delete;
  LoopTasks& operator=(const LoopTasks&) = delete;
  /// Tasks still unfinished are abandoned (they count as cancelled) and every task is detached.
  ~LoopTasks();

  /// asyncio.run's end, called when the main task is done: cancels the tasks still running, runs the
  /// loop until they have ended (at most cancel_grace), and reports every exception nobody retrieved.
  void finish();
  /// How long finish() lets cancelled tasks run.
  static constexpr std::chrono::seconds cancel_grace{1};

  /// The loop of the calling thread; std::logic_error naming `caller` when no loop runs here.
  static LoopTasks& current(const char* caller);
  /// Whether finish() has begun (tasks spawned from now on are cancelled at once).
  [[nodiscard]] bool closing() const noexcept { return closing_; }
  /// The loop's executor.
  [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
  /// Passes an exception nobody retrieved to the exception handler (the default one if it throws).
  void report(const std::exception_ptr& error) noexcept;

 private:
  friend class TaskCore;

  boost::asio::io_context& loop_;
  boost::asio::any_io_executor executor_;
  std::function<void(std::exception_ptr)> exception_handler_;
  std::list<TaskCore*> tasks_;
  std::size_t running_ = 0;
  bool closing_ = false;
};

/// Runs `task` for `state`, storing its value or exception there; `defer` first yields to the loop
/// (create_task's Python semantics: the task starts at the loop's next turn).
template <class T>
boost::asio::awaitable<void> drive(std::shared_ptr<TaskState<T>> state, boost::asio::awaitable<T> task,
                                   bool defer) {
  std::exception_ptr error;
  std::optional<value_t<T>> value;
  try {
    if (defer) co_await boost::asio::post(boost::asio::use_awaitable);
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      value.emplace();
    } else {
      T result = co_await std::move(task);
      value.emplace(std::move(result));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    state->fail(std::move(error));
  } else {
    state->succeed(std::move(*value));
  }
}

/// The completion handler of a spawned task: keeps its state (and so its cancellation signal) alive
/// until the coroutine is gone, and lets nothing drive() could not store pass silently.
struct KeepState {
  std::shared_ptr<TaskCore> state;
  void operator()(const std::exception_ptr& error) const {
    if (error) std::rethrow_exception(error);
  }
};

/// A new task state on the calling thread's loop; std::logic_error naming `caller` outside a loop.
template <class T>
std::shared_ptr<TaskState<T>> new_task(const char* caller) {
  return std::make_shared<TaskState<T>>(LoopTasks::current(caller));
}

/// Spawns `task` on the current loop for `state` (from new_task), bound to its cancellation signal.
/// A task spawned while the loop is closing is cancelled at once.
template <class T>
void launch(const std::shared_ptr<TaskState<T>>& state, boost::asio::awaitable<T> task, bool defer) {
  auto& loop = LoopTasks::current("parlab: aio: a task");
  boost::asio::co_spawn(loop.executor(), drive<T>(state, std::move(task), defer),
                        boost::asio::bind_cancellation_slot(state->slot(), KeepState{state}));
  if (loop.closing()) state->cancel();
}

}  // namespace parlab::aio::detail
