#pragma once
/// \file
/// AsyncResult<T>: the handle of work submitted with map_async, starmap_async and apply_async.

#include "parlab/detail/scheduler.hpp"
#include "parlab/detail/stop.hpp"
#include "parlab/errors.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab {

/// Optional hooks on a result (Python's callback / error_callback). A pool runs the hooks of all
/// its results on one thread of its own, one at a time, in the order the results completed, so
/// hooks may write shared state without a lock; waiters wake after the hook ran, and join() waits
/// for every hook. A hook that throws is reported on stderr and the later hooks still run. A hook
/// must not wait without a timeout for a result of its pool that has hooks and is not ready (that
/// result's hooks run after it: std::logic_error), nor join its pool.
template <class T>
struct Callbacks {
  std::function<void(const T&)> callback{};
  std::function<void(const std::exception_ptr&)> error_callback{};
};
/// Callbacks for results without a value.
template <>
struct Callbacks<void> {
  std::function<void()> callback{};
  std::function<void(const std::exception_ptr&)> error_callback{};
};

template <class T>
class AsyncResult;

namespace detail {

struct ResultAccess;

/// Readiness and waiting, shared by every result type.
class ResultStateBase {
 public:
  ResultStateBase(Scheduler& scheduler, bool has_hooks) : has_hooks_(has_hooks), scheduler_(&scheduler) {}
  [[nodiscard]] bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  [[nodiscard]] bool failed() const noexcept { return error_ != nullptr; }
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

  /// Waits until ready or until `deadline`; true when ready.
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    if (ready()) return true;
    if (deadline == std::chrono::steady_clock::time_point::max()) check_may_wait_forever();
    if (current_scheduler() == scheduler_) {
      // A task waiting on its own pool runs queued work meanwhile: no deadlock with 1 worker.
      scheduler_->wait_until([&] { return ready() || std::chrono::steady_clock::now() >= deadline; });
      return ready();
    }
    if (spin_until([this] { return ready(); })) return true;
    std::unique_lock lock{mu_};
    return cv_.wait_until(lock, deadline, [this] { return ready(); });
  }
  void wait() { wait_until(std::chrono::steady_clock::time_point::max()); }
  /// Throws std::logic_error where a wait without a timeout could never end: in a callback of
  /// this result's pool, for a result whose own callbacks are queued behind it.
  void check_may_wait_forever() const {
    if (has_hooks_ && scheduler_->callbacks().on_this_thread())
      throw std::logic_error(
          "parlab: a result callback waits for a result whose own callback runs after it: it would never be "
          "ready");
  }
  /// The error the work ended with (nullptr on success); read once ready().
  [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }

  /// Calls `notify` once the result is ready (ready() is true by then), on the thread that made
  /// it ready, after its callbacks ran and its waiters were woken; at once, on this thread, when
  /// it already is. Notifications run in the order they were added, never under a lock of the
  /// result, and must not throw. Returns an id for remove_on_ready(), or 0 if it already ran.
  std::uint64_t on_ready(std::function<void()> notify) {
    {
      std::lock_guard lock{mu_};
      if (!ready_.load(std::memory_order_relaxed) || notifying_) {
        notifiers_.emplace_back(++last_notifier_, std::move(notify));
        return last_notifier_;
      }
    }
    notify();
    return 0;
  }
  /// Forgets a notification that has not run yet (a waiter that gave up); one that is running
  /// or ran is unaffected, so what it refers to must stay alive by itself (a shared_ptr).
  void remove_on_ready(std::uint64_t id) {
    std::lock_guard lock{mu_};
    std::erase_if(notifiers_, [id](const Notifier& n) { return n.first == id; });
  }
  /// The pool whose worker runs on this thread, if this result belongs to it (nested waits help
  /// it run queued work); else nullptr.
  [[nodiscard]] Scheduler* scheduler_if_current() const noexcept {
    return current_scheduler() == scheduler_ ? scheduler_ : nullptr;
  }

  // Cancellation (AsyncResult::cancel): the result is settled once, either by its work (settle())
  // or by cancel(), whichever comes first.
  /// The work that cancel() stops; set by the pool before it queues the work.
  void set_stop_target(std::weak_ptr<StopTarget> target) { stop_target_ = std::move(target); }
  /// False when the work has already settled the result; else marks it cancelled, stops the
  /// work and returns true (true again on a later call).
  bool cancel() {
    Settlement expected = Settlement::open;
    if (!settlement_.compare_exchange_strong(expected, Settlement::cancelled, std::memory_order_acq_rel))
      return expected == Settlement::cancelled;
    if (const auto target = stop_target_.lock()) target->request_stop();
    return true;
  }
  [[nodiscard]] bool cancelled() const noexcept {
    return settlement_.load(std::memory_order_acquire) == Settlement::cancelled;
  }
  /// The work settles the result before it sets it: false when cancel() came first (the work
  /// then sets a CancelledError, or, for map_outcomes_async, the outcomes it has).
  bool settle() noexcept {
    Settlement expected = Settlement::open;
    return settlement_.compare_exchange_strong(expected, Settlement::settled, std::memory_order_acq_rel);
  }

 protected:
  void publish() {
    std::vector<Notifier> notifiers;
    {
      std::lock_guard lock{mu_};
      ready_.store(true, std::memory_order_seq_cst);
      notifiers.swap(notifiers_);
      notifying_ = !notifiers.empty();
    }
    cv_.notify_all();
    scheduler_->notify_helpers();
    // Those added while these run are queued behind them (notifying_), so the order holds.
    while (!notifiers.empty()) {
      for (auto& notifier : notifiers)
        notifier.second();
      std::lock_guard lock{mu_};
      notifiers.clear();
      notifiers.swap(notifiers_);
      notifying_ = !notifiers.empty();
    }
  }
  /// The pool's callback thread, where results with hooks run them before they publish.
  [[nodiscard]] CallbackThread& callback_thread() const noexcept { return scheduler_->callbacks(); }
  template <class Hook, class... Args>
  static void run_hook(const Hook& hook, Args&&... args) noexcept {
    if (!hook) return;
    try {
      hook(std::forward<Args>(args)...);
    } catch (...) {
      std::cerr << "parlab: a result callback threw (ignored): " << describe(std::current_exception())
                << '\n';
    }
  }

  std::exception_ptr error_;
  const bool has_hooks_;

 private:
  enum class Settlement : unsigned char { open, settled, cancelled };
  std::atomic<Settlement> settlement_{Settlement::open};
  std::weak_ptr<StopTarget> stop_target_;
  using Notifier = std::pair<std::uint64_t, std::function<void()>>;

  Scheduler* scheduler_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Notifier> notifiers_;  // guarded by mu_, as the two below
  std::uint64_t last_notifier_ = 0;
  bool notifying_ = false;  // publish() is running the notifications
};

/// The value (or error) of one result; written once by a worker.
template <class T>
class ResultState final : public ResultStateBase, public std::enable_shared_from_this<ResultState<T>> {
 public:
  ResultState(Scheduler& scheduler, Callbacks<T> callbacks)
      : ResultStateBase(scheduler, callbacks.callback || callbacks.error_callback),
        callbacks_(std::move(callbacks)) {}

  template <class... V>
  void set_value(V&&... v) {
    settle();
    if constexpr (!std::is_void_v<T>) value_.emplace(std::forward<V>(v)...);
    complete();
  }
  void set_error(std::exception_ptr error) {
    settle();
    error_ = std::move(error);
    complete();
  }
  std::add_lvalue_reference_t<T> value() {
    rethrow_if_failed();
    if constexpr (!std::is_void_v<T>) return *value_;
  }
  /// Runs `fn(state)` on the pool's callback thread once the result is ready (posted at once if
  /// it is), behind the hooks posted before; an exception from it is reported like a hook's.
  /// Holds no reference to this state until then: a result that never completes is not leaked.
  void add_done_callback(std::function<void(const std::shared_ptr<ResultState>&)> fn) {
    on_ready([this, fn = std::move(fn)]() mutable {
      callback_thread().post([self = this->shared_from_this(), fn = std::move(fn)] { run_hook(fn, self); });
    });
  }

 private:
  struct Empty {};
  /// Publishes now, or, with hooks, on the pool's callback thread once they ran, behind the
  /// hooks of the results that completed before this one.
  void complete() {
    if (!has_hooks_) return publish();
    callback_thread().post([self = this->shared_from_this()] {
      self->run_hooks();
      self->publish();
    });
  }
  void run_hooks() const noexcept {
    if (error_) return run_hook(callbacks_.error_callback, std::as_const(error_));
    if constexpr (std::is_void_v<T>) {
      run_hook(callbacks_.callback);
    } else {
      run_hook(callbacks_.callback, std::as_const(*value_));
    }
  }

  std::conditional_t<std::is_void_v<T>, Empty, std::optional<T>> value_;
  Callbacks<T> callbacks_;
};

}  // namespace detail

/// The outcome of asynchronous work (Python's multiprocessing.pool.AsyncResult).
/// Copies share one result. get() may be called repeatedly; on an rvalue it moves the value out.
template <class T>
class [[nodiscard]] AsyncResult {
 public:
  using value_type = T;
  /// An empty handle; every call but valid() throws std::logic_error.
  AsyncResult() = default;
  /// Wraps a shared state (used by the pools).
  explicit AsyncResult(std::shared_ptr<detail::ResultState<T>> state) : state_(std::move(state)) {}

  /// Waits, then returns the value or throws the task's exception (TaskError for map-likes).
  std::add_lvalue_reference_t<T> get() & {
    wait();
    return state().value();
  }
  /// Waits, then moves the value out (for `pool.map_async(...).get()`).
  T get() && {
    wait();
    if constexpr (std::is_void_v<T>) {
      state().value();
    } else {
      return std::move(state().value());
    }
  }
  /// As get(), but throws TimeoutError after `timeout`; the result can still be obtained later.
  template <class Rep, class Period>
  std::add_lvalue_reference_t<T> get(std::chrono::duration<Rep, Period> timeout) & {
    if (!wait_for(timeout)) throw TimeoutError("parlab: AsyncResult::get timed out");
    return state().value();
  }
  /// As get(timeout), moving the value out.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) && {
    if (!wait_for(timeout)) throw TimeoutError("parlab: AsyncResult::get timed out");
    return std::move(*this).get();
  }
  /// Blocks until the result is ready.
  void wait() const { state().wait(); }
  /// Blocks up to `timeout`; true when the result is ready.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return state().wait_until(std::chrono::steady_clock::now() +
                              std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  /// Whether the work has finished (successfully or not).
  [[nodiscard]] bool ready() const { return state().ready(); }
  /// Whether it finished without an exception; throws std::logic_error if not ready yet
  /// (Python raises ValueError).
  [[nodiscard]] bool successful() const {
    if (!ready()) throw std::logic_error("parlab: AsyncResult::successful() before the result is ready");
    return !state().failed();
  }
  /// Cancels the work (Python's Future.cancel()): false, doing nothing, when it has already
  /// finished; else true: items not started are dropped, running ones are stopped (Pool: through
  /// the std::stop_token of a task that takes one, else they finish; ProcessPool: their worker
  /// is killed and replaced; MpiPool: a batch already sent to a rank finishes). The result is
  /// ready once nothing of the work runs any more; get() then throws CancelledError and
  /// error_callback gets it (map_outcomes_async: get() returns the outcomes, CancelledError for
  /// the items that did not finish).
  bool cancel() { return state().cancel(); }
  /// True once cancel() returned true.
  [[nodiscard]] bool cancelled() const { return state().cancelled(); }
  /// False for a default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

  /// Waits, then returns the exception the work failed with (the one get() would throw), or
  /// nullptr on success, without throwing it (concurrent.futures' Future.exception()).
  [[nodiscard]] std::exception_ptr exception() const {
    wait();
    return state().error();
  }
  /// As exception(), but throws TimeoutError after `timeout`.
  template <class Rep, class Period>
  [[nodiscard]] std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    if (!wait_for(timeout)) throw TimeoutError("parlab: AsyncResult::exception timed out");
    return state().error();
  }
  /// Calls `fn(result)`, with a handle to this result, once it is ready (concurrent.futures'
  /// add_done_callback): on the pool's callback thread, like the Callbacks hooks, and at once
  /// (queued there) if it is ready already. Several run in the order added, after the result's
  /// own hooks; one that throws is reported on stderr and the next still runs. A waiter may wake
  /// before it ran. Once the pool was joined, it runs on the calling thread; the pool must not
  /// have been destroyed.
  void add_done_callback(std::function<void(AsyncResult)> fn) const {
    if (!fn) throw std::invalid_argument("parlab: add_done_callback needs a function, not an empty one");
    state().add_done_callback(
        [fn = std::move(fn)](const std::shared_ptr<detail::ResultState<T>>& self) { fn(AsyncResult(self)); });
  }

 private:
  friend struct detail::ResultAccess;
  detail::ResultState<T>& state() const {
    if (!state_) throw std::logic_error("parlab: empty AsyncResult");
    return *state_;
  }
  std::shared_ptr<detail::ResultState<T>> state_;
};

}  // namespace parlab
