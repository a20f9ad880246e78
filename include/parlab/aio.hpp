#pragma once
/// \file
/// parlab::aio — Python's asyncio on Boost.Asio awaitables: one single-threaded event loop
/// (run), gather, to_thread, Semaphore, sleep, wait_for and as_completed.

#include "parlab/errors.hpp"
#include "parlab/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/cancellation_condition.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
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

namespace detail {

/// A task's value type where void becomes std::monostate (for tuples and slots).
template <class T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Whether T is a Task.
template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};

/// A callable that returns a Task (the main of run).
template <class F>
concept TaskFactory = std::invocable<F&> && is_task<std::invoke_result_t<F&>>::value;

/// What to_thread accepts: f(args...) on decay-copies of f and of the arguments.
template <class F, class... Args>
concept ThreadCallable = std::invocable<std::add_lvalue_reference_t<std::decay_t<F>>, std::decay_t<Args>...>;

/// What gather(std::vector<Task<T>>) returns: std::vector<T>, or nothing for void tasks.
template <class T>
using gather_result_t = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

/// The loop's default executor for to_thread: a thread pool per execution context, created at the
/// first to_thread and joined when the context is destroyed (asyncio's default executor).
class ThreadExecutor final : public boost::asio::execution_context::service {
 public:
  /// Service identity for boost::asio::use_service.
  inline static boost::asio::execution_context::id id;

  explicit ThreadExecutor(boost::asio::execution_context& context);
  ~ThreadExecutor() override;

  /// Sets the number of threads; std::logic_error once the pool runs, std::invalid_argument for 0.
  void set_threads(std::size_t threads);
  /// The pool, started at the first call.
  boost::asio::thread_pool& pool();

 private:
  void shutdown() override;

  std::mutex mu_;
  std::size_t threads_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

/// Runs `main` on a new io_context on the calling thread until `main` completes.
void run_loop(Task<void> main, LoopOptions options);

/// The timer behind sleep.
Task<void> sleep_for(std::chrono::steady_clock::duration delay);

/// "after 1500 ms", for error messages.
std::string describe_timeout(std::chrono::steady_clock::duration timeout);

/// The value a parked operation completes with when it is cancelled.
template <class V>
struct Aborted;
template <>
struct Aborted<boost::system::error_code> {
  static boost::system::error_code make() { return boost::asio::error::operation_aborted; }
};
template <class T>
struct Aborted<Outcome<T>> {
  static Outcome<T> make() {
    return Outcome<T>::failure(
        std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted)));
  }
};

/// The value of an outcome, moved out, or its exception rethrown.
template <class T>
T unwrap(Outcome<T>&& outcome) {
  if constexpr (std::is_void_v<T>) {
    outcome.rethrow();
  } else {
    return std::move(outcome).value();
  }
}

/// A suspended coroutine waiting for a V, resumed on its own executor. Lives on the loop thread.
/// A terminal or partial cancellation of its coroutine resumes it at once with Aborted<V>.
template <class V>
class Parked : public std::enable_shared_from_this<Parked<V>> {
 public:
  Parked(const Parked&) = delete;
  Parked& operator=(const Parked&) = delete;
  virtual ~Parked() = default;

  /// Resumes the coroutine with `value` (posted to its executor); false if already resumed.
  bool resume(V value) {
    if (done_) return false;
    done_ = true;
    on_cancel_ = nullptr;
    post_completion(std::move(value));
    return true;
  }
  /// Called when cancellation resumes the coroutine, before it is resumed (e.g. to leave a queue).
  void on_cancel(std::function<void()> hook) { on_cancel_ = std::move(hook); }

 protected:
  Parked() = default;
  void cancel() {
    if (done_) return;
    if (auto hook = std::exchange(on_cancel_, nullptr)) hook();
    resume(Aborted<V>::make());
  }
  virtual void post_completion(V value) = 0;

 private:
  bool done_ = false;
  std::function<void()> on_cancel_;
};

/// Parked for a concrete completion handler type.
template <class V, class Handler>
class ParkedHandler final : public Parked<V> {
 public:
  /// Parks `handler` and connects its cancellation slot.
  static std::shared_ptr<Parked<V>> park(Handler handler) {
    auto self = std::make_shared<ParkedHandler>(std::move(handler));
    auto slot = boost::asio::get_associated_cancellation_slot(self->handler_);
    if (slot.is_connected()) {
      // The slot may outlive the operation (it belongs to the coroutine), hence the weak pointer.
      slot.assign([weak = std::weak_ptr<ParkedHandler>(self)](boost::asio::cancellation_type_t type) {
        using boost::asio::cancellation_type;
        if ((type & (cancellation_type::terminal | cancellation_type::partial)) == cancellation_type::none)
          return;
        if (auto parked = weak.lock()) parked->cancel();
      });
    }
    return self;
  }
  explicit ParkedHandler(Handler handler) : handler_(std::move(handler)) {}

 private:
  void post_completion(V value) override {
    auto executor = boost::asio::get_associated_executor(handler_);
    boost::asio::post(executor, [handler = std::move(handler_), value = std::move(value)]() mutable {
      auto slot = boost::asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
      std::move(handler)(std::move(value));
    });
  }

  Handler handler_;
};

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

/// Starts a call on the loop's default executor; its outcome is posted back to the loop.
struct StartOnThread {
  template <class Handler, class Call>
  void operator()(Handler handler, Call call) const {
    using R = std::invoke_result_t<Call&>;
    auto executor = boost::asio::get_associated_executor(handler);
    auto& context = boost::asio::query(executor, boost::asio::execution::context);
    auto& pool = boost::asio::use_service<ThreadExecutor>(context).pool();
    auto parked = ParkedHandler<Outcome<R>, Handler>::park(std::move(handler));
    // Keeps the loop running while the call is away.
    auto back = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
    boost::asio::post(
        pool, [parked = std::move(parked), back = std::move(back), call = std::move(call)]() mutable {
          auto outcome = invoke_captured<R>(call);
          boost::asio::post(
              back, [parked, outcome = std::move(outcome)]() mutable { parked->resume(std::move(outcome)); });
        });
  }
};

/// The coroutine behind to_thread: `call` runs on the default executor.
template <class R, class Call>
Task<R> run_on_thread(Call call) {
  auto start = boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Outcome<R>)>(
      StartOnThread{}, boost::asio::use_awaitable, std::move(call));
  Outcome<R> outcome = co_await std::move(start);
  co_return detail::unwrap(std::move(outcome));
}

/// Runs `task` and keeps its value or exception.
template <class T>
Task<Outcome<T>> capture(Task<T> task) {
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
Task<void> keep_outcome(Task<T> task, std::optional<Outcome<T>>* out) {
  Outcome<T> outcome = co_await capture(std::move(task));
  out->emplace(std::move(outcome));
}

/// Runs `task` and stores its value in `*slot`; exceptions propagate (to the parallel group).
template <class T>
Task<void> store_result(Task<T> task, std::optional<value_t<T>>* slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    slot->emplace();
  } else {
    T value = co_await std::move(task);
    slot->emplace(std::move(value));
  }
}

/// A task spawned as one operation of a parallel group.
using SpawnedTask = decltype(boost::asio::co_spawn(std::declval<Executor>(), std::declval<Task<void>>(),
                                                   boost::asio::deferred));

/// Spawns every task on `executor`, storing values into `slots`.
template <class T>
std::vector<SpawnedTask> spawn_all(const Executor& executor, std::vector<Task<T>>& tasks,
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
auto spawn_tuple(const Executor& executor, std::tuple<Task<Ts>...>& tasks,
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

}  // namespace detail

/// Runs `main` on a new event loop on the calling thread (asyncio.run) and returns its value or
/// rethrows its exception. When `main` completes, the loop stops: tasks still pending are destroyed
/// without being resumed, and the default executor is joined (to_thread calls still running are
/// waited for). Throws std::logic_error when called from a thread already running a loop.
template <class T>
T run(Task<T> main, LoopOptions options = {}) {
  std::optional<Outcome<T>> outcome;
  detail::run_loop(detail::keep_outcome(std::move(main), &outcome), options);
  if (!outcome)
    throw std::logic_error("parlab: aio::run: the event loop stopped before the main task finished");
  return detail::unwrap(std::move(*outcome));
}

/// run() with a callable returning the main task: `aio::run([]() -> Task<int> { ... })`. The callable
/// (and what it captures) lives until run returns.
template <detail::TaskFactory F>
auto run(F main, LoopOptions options = {}) {
  return run(std::invoke(main), options);
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
requires detail::ThreadCallable<F, Args...>
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
  struct Park {
    template <class Handler>
    void operator()(Handler handler, Semaphore* semaphore) const {
      semaphore->enqueue(detail::ParkedHandler<boost::system::error_code, Handler>::park(std::move(handler)));
    }
  };
  void enqueue(std::shared_ptr<detail::Parked<boost::system::error_code>> waiter);

  std::size_t value_;
  std::list<std::shared_ptr<detail::Parked<boost::system::error_code>>> waiters_;
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
