#pragma once
/// \file
/// parlab::Pool — worker threads with Python's multiprocessing.Pool API.

#include "parlab/async_result.hpp"
#include "parlab/cpu.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/errors.hpp"
#include "parlab/outcome.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab {

/// How a map-like call splits and reports its work.
struct MapOptions {
  /// Items per chunk a worker claims at once. 0 = automatic: Python's rule for map
  /// (ceil(n / (4 * workers))), 1 for imap.
  std::size_t chunksize = 0;
  /// imap only: most items read from the input ahead of the consumer. 0 = automatic
  /// (max(64, 4 * workers * chunksize)).
  std::size_t lookahead = 0;
  /// Called after each chunk with (items done, total items) from a worker thread; total is 0
  /// for imap, whose input length is unknown. Leave empty for no cost.
  std::function<void(std::size_t done, std::size_t total)> progress{};
};

namespace detail {

/// Result of calling F on the elements of Range.
template <class F, class Range>
using map_result_t = std::decay_t<std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>>;

/// What map returns for element results R: std::vector<R>, or nothing for void.
template <class R>
using map_output_t = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

/// Per-index result storage that workers fill without locks; take() hands over the vector.
template <class R>
class ResultSlots {
  // vector<bool> packs bits and cannot be written from several threads; optional<bool> can.
  static constexpr bool direct = std::is_default_constructible_v<R> && !std::is_same_v<R, bool>;
  using Slot = std::conditional_t<direct, R, std::optional<R>>;

 public:
  using Output = std::vector<R>;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = false;
  explicit ResultSlots(std::size_t n) : slots_(n) {}
  void set(std::size_t i, R&& value) { slots_[i] = std::move(value); }
  std::vector<R> take() {
    if constexpr (direct) {
      return std::move(slots_);
    } else {
      std::vector<R> out;
      out.reserve(slots_.size());
      for (auto& slot : slots_)
        out.push_back(std::move(*slot));
      return out;
    }
  }

 private:
  std::vector<Slot> slots_;
};
/// No storage: the function returns nothing.
template <>
class ResultSlots<void> {
 public:
  using Output = void;
  static constexpr bool stores = false;
  static constexpr bool keeps_errors = false;
  explicit ResultSlots(std::size_t /*n*/) {}
};

/// Every item's outcome, value or error (map_outcomes): a failed item does not fail the call.
template <class R>
class OutcomeSlots {
 public:
  using Output = std::vector<Outcome<R>>;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = true;
  explicit OutcomeSlots(std::size_t n) : slots_(n) {}
  template <class... V>
  void set(std::size_t i, V&&... value) {
    slots_[i] = Outcome<R>::success(std::forward<V>(value)...);
  }
  void set_error(std::size_t i, std::exception_ptr error) { slots_[i] = Outcome<R>::failure(std::move(error)); }
  Output take() { return std::move(slots_); }

 private:
  Output slots_;
};

/// Writes results into the caller's random-access output (map_into).
template <class It>
class OutputSlots {
 public:
  using Output = void;
  static constexpr bool stores = true;
  static constexpr bool keeps_errors = false;
  explicit OutputSlots(It first) : first_(first) {}
  template <class V>
  void set(std::size_t i, V&& value) {
    first_[static_cast<std::iter_difference_t<It>>(i)] = std::forward<V>(value);
  }

 private:
  It first_;
};

/// The lowest-index failure of a map, kept while the other items finish.
class FirstError {
 public:
  void record(std::size_t index, std::exception_ptr error) {
    std::lock_guard lock{mu_};
    if (!error_ || index < index_) {
      index_ = index;
      error_ = std::move(error);
    }
  }
  [[nodiscard]] std::exception_ptr as_task_error() const {
    return error_ ? std::make_exception_ptr(TaskError(index_, error_)) : nullptr;
  }

 private:
  std::mutex mu_;
  std::size_t index_ = 0;
  std::exception_ptr error_;
};

inline std::exception_ptr terminated_error() {
  return std::make_exception_ptr(PoolTerminated("parlab: work dropped by Pool::terminate()"));
}

/// Calls fn on items [begin, end) — `at(i)` gives item i — and hands each result or exception
/// to `sink.value(i, result)` / `sink.value(i)` (void) / `sink.error(i, exception)`.
template <class Fn, class At, class Sink>
void invoke_each(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
  using Ref = decltype(at(begin));
  using R = std::invoke_result_t<Fn&, Ref>;
  for (std::size_t i = begin; i < end; ++i) {
    const auto call = [&] {
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn, at(i));
        sink.value(i);
      } else {
        sink.value(i, std::invoke(fn, at(i)));
      }
    };
    if constexpr (std::is_nothrow_invocable_v<Fn&, Ref>) {
      call();
    } else {
      try {
        call();
      } catch (...) {
        sink.error(i, std::current_exception());
      }
    }
  }
}

/// The thread backend: a chunk runs right here, on the worker thread that claimed it.
class ThreadBackend {
 public:
  explicit ThreadBackend(std::size_t /*workers*/) {}
  /// Items per chunk when the caller gives none (Python's rule for map).
  [[nodiscard]] static std::size_t default_chunksize(std::size_t items, std::size_t workers) {
    const std::size_t parts = 4 * workers;
    return std::max<std::size_t>(1, (items + parts - 1) / parts);
  }
  template <class Fn, class At, class Sink>
  void run(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
    invoke_each(fn, at, begin, end, sink);
  }
  /// Threads cannot be stopped: running tasks finish.
  void terminate() {}
  void shutdown() {}
};

/// A map over a random-access source: workers claim chunks of indices through an atomic cursor.
template <class Backend, class Fn, class Source, class Slots>
class MapJob final : public Job {
 public:
  using Output = typename Slots::Output;

  MapJob(Backend* backend, Fn fn, Source source, Slots slots, std::size_t chunksize, MapOptions options,
         std::shared_ptr<ResultState<Output>> state)
      : backend_(backend),
        fn_(std::move(fn)),
        source_(std::move(source)),
        first_(std::ranges::begin(source_)),
        size_(static_cast<std::size_t>(std::ranges::size(source_))),
        chunk_(chunksize),
        progress_(std::move(options.progress)),
        slots_(std::move(slots)),
        state_(std::move(state)) {}

  bool claimable() const override { return cursor_.load(std::memory_order_relaxed) < size_; }
  bool parallel() const override { return size_ > chunk_; }

  bool run_chunk() override {
    const std::size_t begin = cursor_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= size_) return false;
    const std::size_t end = std::min(begin + chunk_, size_);
    auto at = [this](std::size_t i) -> decltype(auto) {
      return first_[static_cast<std::ranges::range_difference_t<Source>>(i)];
    };
    backend_->run(fn_, at, begin, end, *this);
    finish(end - begin);
    return true;
  }

  /// Sink for the backend: item i's result or exception.
  template <class... V>
  void value(std::size_t i, V&&... value) {
    if constexpr (Slots::stores) slots_.set(i, std::forward<V>(value)...);
  }
  void error(std::size_t i, std::exception_ptr error) {
    if constexpr (Slots::keeps_errors) {
      slots_.set_error(i, std::move(error));
    } else {
      errors_.record(i, std::move(error));
    }
  }

  void cancel() override {
    const std::size_t begin = cursor_.exchange(size_);
    if (begin >= size_) return;
    errors_.record(begin, terminated_error());
    finish(size_ - begin);
  }

 private:
  void finish(std::size_t items) {
    const std::size_t done = done_.fetch_add(items, std::memory_order_acq_rel) + items;
    if (progress_) progress_(done, size_);
    if (done != size_) return;
    if (auto error = errors_.as_task_error()) {
      state_->set_error(std::move(error));
    } else if constexpr (std::is_void_v<Output>) {
      state_->set_value();
    } else {
      state_->set_value(slots_.take());
    }
  }

  Backend* backend_;
  Fn fn_;
  Source source_;
  std::ranges::iterator_t<Source> first_;
  std::size_t size_;
  std::size_t chunk_;
  std::function<void(std::size_t, std::size_t)> progress_;
  Slots slots_;
  FirstError errors_;
  std::shared_ptr<ResultState<Output>> state_;
  std::atomic<std::size_t> cursor_{0};
  std::atomic<std::size_t> done_{0};
};

/// One call (apply / apply_async): fn applied to the argument tuple.
template <class Backend, class Fn, class Args, class R>
class ApplyJob final : public Job {
 public:
  ApplyJob(Backend* backend, Fn fn, Args args, std::shared_ptr<ResultState<R>> state)
      : backend_(backend), fn_(std::move(fn)), args_(std::move(args)), state_(std::move(state)) {}

  bool claimable() const override { return !claimed_.load(std::memory_order_relaxed); }
  bool parallel() const override { return false; }
  bool run_chunk() override {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
    // Claimed once: the arguments are moved into the call.
    auto at = [this](std::size_t) -> Args&& { return std::move(args_); };
    backend_->run(fn_, at, 0, 1, *this);
    return true;
  }

  /// Sink for the backend.
  template <class... V>
  void value(std::size_t /*i*/, V&&... value) {
    state_->set_value(std::forward<V>(value)...);
  }
  void error(std::size_t /*i*/, std::exception_ptr error) { state_->set_error(std::move(error)); }
  void cancel() override {
    if (!claimed_.exchange(true)) state_->set_error(terminated_error());
  }

 private:
  Backend* backend_;
  Fn fn_;
  Args args_;
  std::shared_ptr<ResultState<R>> state_;
  std::atomic<bool> claimed_{false};
};

/// Sink for one imap chunk: outcomes of items base, base+1, ...
template <class Outcome>
struct ChunkSink {
  std::vector<Outcome>& outcomes;
  std::size_t base;
  template <class V>
  void value(std::size_t i, V&& value) {
    outcomes[i - base].value.emplace(std::forward<V>(value));
  }
  void error(std::size_t i, std::exception_ptr error) { outcomes[i - base].error = std::move(error); }
};

/// imap / imap_unordered: workers pull chunks from the input under a lock, at most `window`
/// items ahead of the consumer; the consumer re-queues the job as it frees the window.
template <class Backend, class Fn, class View, class R>
class ImapJob final : public Job {
 public:
  ImapJob(Backend* backend, Fn fn, View source, bool ordered, std::size_t chunksize, std::size_t window,
          std::function<void(std::size_t, std::size_t)> progress, Scheduler* scheduler)
      : backend_(backend),
        fn_(std::move(fn)),
        source_(std::move(source)),
        next_(std::ranges::begin(source_)),
        ordered_(ordered),
        chunk_(chunksize),
        window_(window),
        progress_(std::move(progress)),
        scheduler_(scheduler) {}

  bool claimable() const override {
    std::lock_guard lock{mu_};
    return claimable_locked();
  }

  bool run_chunk() override {
    using Item = std::ranges::range_value_t<View>;
    std::vector<Item> items;
    std::size_t base = 0;
    {
      std::lock_guard lock{mu_};
      if (!claimable_locked()) return false;
      base = read_;
      try {
        for (std::size_t k = 0; k < chunk_ && next_ != std::ranges::end(source_); ++k) {
          items.emplace_back(*next_);
          ++next_;
        }
      } catch (...) {
        // The input itself failed: report it at the position it failed and read no further.
        input_error_ = std::current_exception();
        input_error_index_ = base + items.size();
        exhausted_ = ended_ = true;
      }
      if (next_ == std::ranges::end(source_)) exhausted_ = ended_ = true;
      read_ += items.size();
      if (ordered_) pending_.resize(read_ - consumed_);
      ++in_flight_;
    }
    std::vector<Outcome> outcomes(items.size());
    for (std::size_t k = 0; k < items.size(); ++k)
      outcomes[k].index = base + k;
    ChunkSink<Outcome> sink{outcomes, base};
    auto at = [&](std::size_t i) -> Item& { return items[i - base]; };
    backend_->run(fn_, at, base, base + items.size(), sink);
    std::size_t done = 0;
    bool wake = false;
    {
      std::lock_guard lock{mu_};
      for (auto& outcome : outcomes) {
        if (ordered_) {
          pending_[outcome.index - consumed_] = std::move(outcome);
        } else {
          pending_.push_back(std::move(outcome));
        }
      }
      --in_flight_;
      computed_ += items.size();
      done = computed_;
      wake = waiters_ > 0;
    }
    if (progress_) progress_(done, 0);
    if (wake) consumer_cv_.notify_all();
    scheduler_->notify_helpers();
    return true;
  }

  void cancel() override {
    {
      std::lock_guard lock{mu_};
      terminated_ = true;
    }
    consumer_cv_.notify_all();
  }

  /// The next result (in input order or completion order); nullopt at the end. Throws the
  /// item's TaskError, PoolTerminated, or TimeoutError after `deadline`.
  std::optional<R> next(const std::shared_ptr<Job>& self, std::chrono::steady_clock::time_point deadline) {
    const auto available = [this] { return has_result_locked() || finished_locked(); };
    if (current_scheduler() == scheduler_) {
      scheduler_->wait_until([&] {
        std::lock_guard lock{mu_};
        return available() || std::chrono::steady_clock::now() >= deadline;
      });
    }
    // A result that arrives within microseconds is taken without sleeping.
    spin_until([&] {
      std::unique_lock lock{mu_, std::try_to_lock};
      return lock.owns_lock() && available();
    });
    Outcome outcome;
    bool was_full = false;
    {
      std::unique_lock lock{mu_};
      ++waiters_;
      const bool ready = consumer_cv_.wait_until(lock, deadline, available);
      --waiters_;
      if (!ready) throw TimeoutError("parlab: imap result not ready in time");
      if (!has_result_locked()) {
        if (input_error_ && consumed_ == input_error_index_) {
          ++consumed_;
          throw TaskError(input_error_index_, input_error_);
        }
        if (terminated_ && !ended_) throw PoolTerminated("parlab: imap dropped by Pool::terminate()");
        return std::nullopt;
      }
      outcome = std::move(pending_.front().value());
      pending_.pop_front();
      // The workers drop a job whose window is full; the consumption that frees it re-queues it.
      was_full = read_ - consumed_ >= window_ && !exhausted_;
      ++consumed_;
    }
    if (was_full && !scheduler_->requeue(self)) {
      std::lock_guard lock{mu_};
      terminated_ = true;
    }
    if (outcome.error) throw TaskError(outcome.index, outcome.error);
    return std::move(outcome.value);
  }

  /// Stops reading input and waits for chunks still running (they use the source and fn).
  void stop() {
    std::unique_lock lock{mu_};
    exhausted_ = true;
    ++waiters_;
    consumer_cv_.wait(lock, [this] { return in_flight_ == 0; });
    --waiters_;
  }

 private:
  struct Outcome {
    std::optional<R> value;
    std::exception_ptr error;
    std::size_t index = 0;
  };

  bool claimable_locked() const {
    return !exhausted_ && !terminated_ && (read_ - consumed_ < window_ || scheduler_->closing());
  }
  bool has_result_locked() const { return !pending_.empty() && pending_.front().has_value(); }
  bool finished_locked() const {
    if (in_flight_ > 0) return false;
    if (terminated_) return true;
    return exhausted_ && consumed_ >= read_;
  }

  Backend* backend_;
  Fn fn_;
  View source_;
  std::ranges::iterator_t<View> next_;
  const bool ordered_;
  const std::size_t chunk_;
  const std::size_t window_;
  std::function<void(std::size_t, std::size_t)> progress_;
  Scheduler* scheduler_;

  mutable std::mutex mu_;
  std::condition_variable consumer_cv_;
  std::deque<std::optional<Outcome>> pending_;  // ordered: slot per index from consumed_
  std::size_t read_ = 0;                        // items read from the input
  std::size_t consumed_ = 0;                    // items handed to the consumer
  std::size_t computed_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t waiters_ = 0;  // threads blocked on consumer_cv_
  bool exhausted_ = false;   // no more reading: the input ended or failed, or the consumer left
  bool ended_ = false;       // the input itself ended (or failed)
  bool terminated_ = false;
  std::exception_ptr input_error_;
  std::size_t input_error_index_ = 0;
};

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

/// Turns f(a, b, ...) into g(tuple) for starmap.
template <class F>
struct Unpack {
  F f;
  template <class Tuple>
  decltype(auto) operator()(Tuple&& args) {
    return std::apply(f, std::forward<Tuple>(args));
  }
};

}  // namespace detail

template <class R>
class ImapResult;

/// Python's multiprocessing.Pool API — map, starmap, imap, imap_unordered, apply, the _async
/// forms, map_outcomes — written once over a backend that runs chunks of calls: worker threads
/// (Pool), worker processes (ProcessPool). Results come in input order (imap_unordered:
/// completion order); a task's exception reaches the caller with the item's index (TaskError).
/// Thread-safe.
///
/// The destructor closes the pool and joins it: queued work finishes first. (Python's context
/// manager calls terminate(), which would silently drop work whose AsyncResult the caller may
/// still hold; call terminate() explicitly for that.)
template <class Backend>
class BasicPool {
 public:
  /// A pool of `workers` workers; `backend_args` configure the backend.
  template <class... BackendArgs>
  explicit BasicPool(std::size_t workers, BackendArgs&&... backend_args)
      : backend_(workers, std::forward<BackendArgs>(backend_args)...), scheduler_(workers) {}

  /// Number of workers.
  [[nodiscard]] std::size_t size() const noexcept { return scheduler_.size(); }

  /// [f(x) for x in items], in input order. Throws TaskError for the lowest failing index
  /// after every item has run.
  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, MapOptions options = {}) {
    using R = detail::map_result_t<F, Range>;
    return run_sync<R>(std::move(f), detail::make_source<false>(std::forward<Range>(items)),
                       std::move(options));
  }

  /// map writing f(items[i]) into out[i] instead of returning a new vector: no allocation, for
  /// callers that reuse a buffer. `out` must hold at least as many elements as `items`.
  template <class F, std::ranges::input_range Range, std::ranges::random_access_range Out>
  void map_into(F f, Range&& items, Out&& out, MapOptions options = {}) {
    auto source = detail::make_source<false>(std::forward<Range>(items));
    const auto n = static_cast<std::size_t>(std::ranges::size(source));
    if constexpr (std::ranges::sized_range<Out>) {
      if (static_cast<std::size_t>(std::ranges::size(out)) < n)
        throw std::invalid_argument("parlab: map_into: the output holds " +
                                    std::to_string(std::ranges::size(out)) + " elements, the input " +
                                    std::to_string(n));
    }
    detail::OutputSlots slots{std::ranges::begin(out)};
    auto state = make_map_job(std::move(f), std::move(source), std::move(slots), std::move(options), {});
    AsyncResult<void>(std::move(state)).get();
  }

  /// map that never throws for a failed item: one Outcome (value or exception) per item, in
  /// input order, for callers who want all the results and all the errors.
  template <class F, std::ranges::input_range Range>
  auto map_outcomes(F f, Range&& items, MapOptions options = {}) {
    using R = detail::map_result_t<F, Range>;
    auto source = detail::make_source<false>(std::forward<Range>(items));
    detail::OutcomeSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    auto state = make_map_job(std::move(f), std::move(source), std::move(slots), std::move(options), {});
    return std::move(AsyncResult<std::vector<Outcome<R>>>(std::move(state))).get();
  }

  /// [f(*args) for args in items]: each element is a tuple-like unpacked into f's arguments.
  template <class F, std::ranges::input_range Range>
  auto starmap(F f, Range&& items, MapOptions options = {}) {
    return map(detail::Unpack<F>{std::move(f)}, std::forward<Range>(items), std::move(options));
  }

  /// map without blocking: the result arrives in an AsyncResult<std::vector<R>>.
  template <class F, std::ranges::input_range Range>
  auto map_async(F f, Range&& items, MapOptions options = {},
                 Callbacks<detail::map_output_t<detail::map_result_t<F, Range>>> callbacks = {}) {
    using R = detail::map_result_t<F, Range>;
    return run_async<R>(std::move(f), detail::make_source<true>(std::forward<Range>(items)),
                        std::move(options), std::move(callbacks));
  }

  /// starmap without blocking.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(
      F f, Range&& items, MapOptions options = {},
      Callbacks<detail::map_output_t<detail::map_result_t<detail::Unpack<F>, Range>>> callbacks = {}) {
    return map_async(detail::Unpack<F>{std::move(f)}, std::forward<Range>(items), std::move(options),
                     std::move(callbacks));
  }

  /// f(args...) on a worker; blocks and returns its value or rethrows its exception.
  template <class F, class... Args>
  requires std::invocable<F&, Args&&...>
  decltype(auto) apply(F&& f, Args&&... args) {
    using R = std::decay_t<std::invoke_result_t<F&, Args&&...>>;
    auto result = submit_apply<R>(detail::Unpack<F&>{f}, std::forward_as_tuple(std::forward<Args>(args)...), {});
    return std::move(result).get();
  }

  /// f(args...) on a worker without blocking. Arguments are copied (or moved) into the task.
  template <class F, class... Args>
  requires std::invocable < std::decay_t<F>
  &, std::decay_t<Args>&&... > auto apply_async(F&& f, Args&&... args) {
    return apply_async(Callbacks<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>>{},
                       std::forward<F>(f), std::forward<Args>(args)...);
  }

  /// apply_async with a callback and/or error_callback.
  template <class F, class... Args>
  requires std::invocable < std::decay_t<F>
  &, std::decay_t<Args>&&... >
         auto apply_async(
             Callbacks<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>> callbacks, F&& f,
             Args&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>;
    return submit_apply<R>(detail::Unpack<std::decay_t<F>>{std::forward<F>(f)},
                           std::make_tuple(std::forward<Args>(args)...), std::move(callbacks));
  }

  /// Results of f over items in input order, computed ahead while the caller consumes them.
  /// The input is read lazily with bounded look-ahead (options.lookahead); once the pool is
  /// closed the bound is lifted and the input drains, so join() never waits for the consumer.
  /// An lvalue input range must outlive the returned ImapResult.
  template <class F, std::ranges::input_range Range>
  auto imap(F f, Range&& items, MapOptions options = {}) {
    return make_imap(std::move(f), std::forward<Range>(items), true, std::move(options));
  }

  /// As imap, in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F f, Range&& items, MapOptions options = {}) {
    return make_imap(std::move(f), std::forward<Range>(items), false, std::move(options));
  }

  /// No more submissions from outside; queued work still runs. Tasks already running may still
  /// submit nested work.
  void close() { scheduler_.close(); }
  /// Drops queued work: its results fail with PoolTerminated (map-likes: a TaskError whose
  /// original() is PoolTerminated, at the first dropped index). Tasks already running finish in
  /// a Pool (threads cannot be killed safely); a ProcessPool kills its workers, and their
  /// running tasks fail with PoolTerminated too.
  void terminate() {
    scheduler_.terminate();
    backend_.terminate();
  }
  /// Waits for the workers to exit; call after close() or terminate().
  void join() {
    scheduler_.join();
    backend_.shutdown();
  }

 protected:
  [[nodiscard]] const Backend& backend() const noexcept { return backend_; }

 private:
  /// Queues a map whose results go to `slots`; the returned state completes when all items ran.
  template <class Slots, class Fn, class Source>
  std::shared_ptr<detail::ResultState<typename Slots::Output>> make_map_job(
      Fn fn, Source source, Slots slots, MapOptions options, Callbacks<typename Slots::Output> callbacks) {
    using Output = typename Slots::Output;
    auto state = std::make_shared<detail::ResultState<Output>>(&scheduler_, std::move(callbacks));
    const auto n = static_cast<std::size_t>(std::ranges::size(source));
    scheduler_.check_accepting();
    check_callable(fn);
    if (n == 0) {
      if constexpr (std::is_void_v<Output>) {
        state->set_value();
      } else {
        state->set_value(Output{});
      }
      return state;
    }
    const std::size_t chunk = options.chunksize != 0 ? options.chunksize : backend_.default_chunksize(n, size());
    scheduler_.submit(std::make_shared<detail::MapJob<Backend, Fn, Source, Slots>>(
        &backend_, std::move(fn), std::move(source), std::move(slots), chunk, std::move(options), state));
    return state;
  }

  template <class R, class Fn, class Source>
  detail::map_output_t<R> run_sync(Fn fn, Source source, MapOptions options) {
    detail::ResultSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    auto state = make_map_job(std::move(fn), std::move(source), std::move(slots), std::move(options), {});
    return std::move(AsyncResult<detail::map_output_t<R>>(std::move(state))).get();
  }

  template <class R, class Fn, class Source>
  AsyncResult<detail::map_output_t<R>> run_async(Fn fn, Source source, MapOptions options,
                                                 Callbacks<detail::map_output_t<R>> callbacks) {
    detail::ResultSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    return AsyncResult<detail::map_output_t<R>>(make_map_job(
        std::move(fn), std::move(source), std::move(slots), std::move(options), std::move(callbacks)));
  }

  template <class R, class Fn, class Args>
  AsyncResult<R> submit_apply(Fn fn, Args args, Callbacks<R> callbacks) {
    check_callable(fn);
    auto state = std::make_shared<detail::ResultState<R>>(&scheduler_, std::move(callbacks));
    scheduler_.submit(
        std::make_shared<detail::ApplyJob<Backend, Fn, Args, R>>(&backend_, std::move(fn), std::move(args), state));
    return AsyncResult<R>(std::move(state));
  }

  template <class F, class Range>
  auto make_imap(F f, Range&& items, bool ordered, MapOptions options);

  /// A backend that must find the function in another process checks it here, on the caller's
  /// thread, before any work is queued.
  template <class Fn>
  void check_callable(const Fn& fn) const {
    if constexpr (requires { backend_.check_callable(fn); }) backend_.check_callable(fn);
  }

  // Declared first: destroyed after the scheduler has joined the workers that use it.
  Backend backend_;
  detail::Scheduler scheduler_;
};

/// Worker threads with Python's multiprocessing.Pool API (see BasicPool).
class Pool : public BasicPool<detail::ThreadBackend> {
 public:
  /// A pool of `workers` threads (default: cpu_count()).
  explicit Pool(std::size_t workers = cpu_count()) : BasicPool(workers) {}
};

/// The results of imap / imap_unordered: an input range, consumed once, and next() for manual
/// stepping (Python's IMapIterator). Destroying it stops reading the input.
template <class R>
class [[nodiscard]] ImapResult {
 public:
  /// Function that fetches the next result with a deadline; nullopt at the end.
  using NextFn = std::function<std::optional<R>(std::chrono::steady_clock::time_point)>;

  ImapResult(NextFn next, std::function<void()> stop) : next_(std::move(next)), stop_(std::move(stop)) {}
  ImapResult(ImapResult&& other) noexcept
      : next_(std::move(other.next_)),
        stop_(std::exchange(other.stop_, nullptr)),
        current_(std::move(other.current_)) {}
  ImapResult& operator=(ImapResult&&) = delete;
  ImapResult(const ImapResult&) = delete;
  ImapResult& operator=(const ImapResult&) = delete;
  ~ImapResult() {
    if (stop_) stop_();
  }

  /// The next result, nullopt after the last; throws TaskError for a failed item.
  std::optional<R> next() { return next_(std::chrono::steady_clock::time_point::max()); }
  /// As next(), throwing TimeoutError when no result arrives within `timeout`.
  template <class Rep, class Period>
  std::optional<R> next(std::chrono::duration<Rep, Period> timeout) {
    return next_(std::chrono::steady_clock::now() +
                 std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }

  /// Input iterator over the results.
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(ImapResult* owner) : owner_(owner) { ++*this; }
    R& operator*() const { return *owner_->current_; }
    R* operator->() const { return &*owner_->current_; }
    iterator& operator++() {
      owner_->current_ = owner_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    [[nodiscard]] bool at_end() const { return owner_ == nullptr || !owner_->current_.has_value(); }
    ImapResult* owner_ = nullptr;
  };

  iterator begin() { return iterator{this}; }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  NextFn next_;
  std::function<void()> stop_;
  mutable std::optional<R> current_;
};

template <class Backend>
template <class F, class Range>
auto BasicPool<Backend>::make_imap(F f, Range&& items, bool ordered, MapOptions options) {
  using R = detail::map_result_t<F, Range>;
  static_assert(!std::is_void_v<R>, "imap needs a function that returns a value");
  check_callable(f);
  auto view = std::views::all(std::forward<Range>(items));
  using View = decltype(view);
  const std::size_t chunk = options.chunksize != 0 ? options.chunksize : 1;
  const std::size_t window = options.lookahead != 0 ? std::max(options.lookahead, chunk)
                                                    : std::max<std::size_t>(64, 4 * size() * chunk);
  auto job = std::make_shared<detail::ImapJob<Backend, F, View, R>>(
      &backend_, std::move(f), std::move(view), ordered, chunk, window, std::move(options.progress), &scheduler_);
  scheduler_.submit_stream(job);
  return ImapResult<R>(
      [job](std::chrono::steady_clock::time_point deadline) { return job->next(job, deadline); },
      [job] { job->stop(); });
}

}  // namespace parlab
