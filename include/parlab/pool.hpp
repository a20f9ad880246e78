#pragma once
/// \file
/// parlab::Pool — worker threads with Python's multiprocessing.Pool API — and BasicPool, the
/// same API over any backend (ProcessPool, MpiPool). The machinery is in detail/ (design.md).

#include "parlab/async_result.hpp"
#include "parlab/cpu.hpp"
#include "parlab/detail/apply_job.hpp"
#include "parlab/detail/backend.hpp"
#include "parlab/detail/imap_job.hpp"
#include "parlab/detail/invocable.hpp"
#include "parlab/detail/map_job.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/detail/slots.hpp"
#include "parlab/detail/source.hpp"
#include "parlab/detail/stop.hpp"
#include "parlab/detail/thread_backend.hpp"
#include "parlab/detail/unpack.hpp"
#include "parlab/errors.hpp"
#include "parlab/outcome.hpp"
#include "parlab/worker.hpp"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
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
  /// for imap, whose input length is unknown. Leave empty for no cost. (Items dropped by a
  /// cancel or a fail-fast stop count as done, reported by the thread that stopped the map.)
  std::function<void(std::size_t done, std::size_t total)> progress{};
  /// Stop at the first failing item (map, map_async, starmap, starmap_async, map_into): no more
  /// chunks are handed out, the running items are stopped as by AsyncResult::cancel(), and the
  /// call throws that item's TaskError (its own index; items stopped because of it do not count)
  /// about one task's time after it failed. false: every item runs, and the lowest failing index
  /// is thrown. map_outcomes and imap, which hand out every item's outcome, reject it
  /// (std::invalid_argument).
  bool fail_fast = false;
};

/// How a Pool runs (Pool's constructor).
struct PoolOptions {
  /// Runs once on each worker thread before its first task, on that thread (Python's
  /// initializer + initargs). If it throws, the tasks of that worker fail with InitializerError
  /// and it is tried again before the worker's next chunk.
  Initializer initializer{};
  /// Backpressure: while this many submitted calls (apply_async, map_async, starmap_async, and
  /// the blocking map, apply...; each call counts once, whatever its size) are unfinished, a
  /// further submission from outside the pool blocks until one finishes. 0: no limit. Tasks of
  /// the pool and its result callbacks never block (a nested call could deadlock): their calls
  /// count but always go in. imap and imap_unordered are not counted (their look-ahead bounds
  /// them).
  std::size_t max_pending = 0;
  /// How long a submission blocked by max_pending waits before it throws TimeoutError
  /// (0: for ever). A blocked submission throws PoolNotRunning if the pool closes meanwhile.
  std::chrono::milliseconds submit_timeout{0};
};

template <class R>
class ImapResult;

/// Python's multiprocessing.Pool API — map, starmap, imap, imap_unordered, apply, the _async
/// forms, map_outcomes — written once over a backend that runs chunks of calls (what it must
/// offer: detail::PoolBackend): worker threads (Pool), worker processes (ProcessPool), MPI ranks
/// (MpiPool). Results come in input order (imap_unordered: completion order); a task's exception
/// reaches the caller with the item's index (TaskError). Thread-safe.
///
/// The destructor closes the pool and joins it: queued work finishes first. (Python's context
/// manager calls terminate(), which would silently drop work whose AsyncResult the caller may
/// still hold; call terminate() explicitly for that.)
template <detail::PoolBackend Backend>
class BasicPool {
 public:
  /// A pool of `workers` workers; `backend_args` configure the backend.
  template <class... BackendArgs>
  requires std::constructible_from<Backend, std::size_t, BackendArgs...>
  explicit BasicPool(std::size_t workers, BackendArgs&&... backend_args)
      : backend_(workers, std::forward<BackendArgs>(backend_args)...), scheduler_(workers) {}

  /// Number of workers.
  [[nodiscard]] std::size_t size() const noexcept { return scheduler_.size(); }

  /// [f(x) for x in items], in input order. Throws TaskError for the lowest failing index
  /// after every item has run.
  /// A function whose first parameter is a std::stop_token gets one (see AsyncResult::cancel).
  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, MapOptions options = {}) {
    using Fn = detail::map_fn_t<F, Range>;
    using R = detail::map_result_t<Fn, Range>;
    return run_sync<R>(Fn{std::move(f)}, detail::make_source<false>(std::forward<Range>(items)),
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
    auto state = make_map_job(detail::map_fn_t<F, Range>{std::move(f)}, std::move(source), std::move(slots),
                              std::move(options), {}, false);
    AsyncResult<void>(std::move(state)).get();
  }

  /// map that never throws for a failed item: one Outcome (value or exception) per item, in
  /// input order, for callers who want all the results and all the errors.
  /// options.fail_fast is rejected (std::invalid_argument): every item has its outcome.
  template <class F, std::ranges::input_range Range>
  auto map_outcomes(F f, Range&& items, MapOptions options = {}) {
    reject_fail_fast(options, "map_outcomes");
    using Fn = detail::map_fn_t<F, Range>;
    using R = detail::map_result_t<Fn, Range>;
    auto source = detail::make_source<false>(std::forward<Range>(items));
    detail::OutcomeSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    auto state =
        make_map_job(Fn{std::move(f)}, std::move(source), std::move(slots), std::move(options), {}, false);
    return std::move(AsyncResult<std::vector<Outcome<R>>>(std::move(state))).get();
  }

  /// map_outcomes without blocking. Its cancel() ends the map early without making it an error:
  /// get() returns the outcomes, the items that finished holding their value or error and the
  /// others a CancelledError (cancelled() is true). options.fail_fast is rejected.
  template <class F, std::ranges::input_range Range>
  auto map_outcomes_async(
      F f, Range&& items, MapOptions options = {},
      Callbacks<std::vector<Outcome<detail::map_result_t<detail::map_fn_t<F, Range>, Range>>>> callbacks =
          {}) {
    reject_fail_fast(options, "map_outcomes_async");
    using Fn = detail::map_fn_t<F, Range>;
    using R = detail::map_result_t<Fn, Range>;
    auto source = detail::make_source<true>(std::forward<Range>(items));
    detail::OutcomeSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    return AsyncResult<std::vector<Outcome<R>>>(make_map_job(Fn{std::move(f)}, std::move(source),
                                                             std::move(slots), std::move(options),
                                                             std::move(callbacks), true));
  }

  /// [f(*args) for args in items]: each element is a tuple-like unpacked into f's arguments.
  template <class F, std::ranges::input_range Range>
  auto starmap(F f, Range&& items, MapOptions options = {}) {
    return map(detail::starmap_fn_t<F, Range>{{std::move(f)}}, std::forward<Range>(items),
               std::move(options));
  }

  /// map without blocking: the result arrives in an AsyncResult<std::vector<R>>.
  template <class F, std::ranges::input_range Range>
  auto map_async(F f, Range&& items, MapOptions options = {},
                 Callbacks<detail::map_output_t<detail::map_result_t<detail::map_fn_t<F, Range>, Range>>>
                     callbacks = {}) {
    using Fn = detail::map_fn_t<F, Range>;
    using R = detail::map_result_t<Fn, Range>;
    return run_async<R>(Fn{std::move(f)}, detail::make_source<true>(std::forward<Range>(items)),
                        std::move(options), std::move(callbacks));
  }

  /// starmap without blocking.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(
      F f, Range&& items, MapOptions options = {},
      Callbacks<detail::map_output_t<detail::map_result_t<detail::starmap_fn_t<F, Range>, Range>>> callbacks =
          {}) {
    return map_async(detail::starmap_fn_t<F, Range>{{std::move(f)}}, std::forward<Range>(items),
                     std::move(options), std::move(callbacks));
  }

  /// f(args...) on a worker; blocks and returns its value or rethrows its exception.
  template <class F, class... Args>
  requires std::invocable<F&, Args&&...> || detail::takes_stop_token_v<F, Args&&...>
  decltype(auto) apply(F&& f, Args&&... args) {
    if constexpr (detail::takes_stop_token_v<F, Args&&...>) {
      return apply(detail::StopAware<std::remove_reference_t<F>&>{f}, std::forward<Args>(args)...);
    } else {
      using R = std::decay_t<std::invoke_result_t<F&, Args&&...>>;
      auto result = submit_apply<R>(detail::Unpack<F&>{f}, std::forward_as_tuple(std::forward<Args>(args)...),
                                    {}, false);
      return std::move(result).get();
    }
  }

  /// f(args...) on a worker without blocking. Arguments are copied (or moved) into the task.
  /// An f whose first parameter is a std::stop_token gets one, which AsyncResult::cancel()
  /// requests (Pool; std::jthread's convention).
  template <class F, class... Args>
  requires detail::InvocableOnCopiesWithStop<F, Args...>
  auto apply_async(F&& f, Args&&... args) {
    return apply_async(
        Callbacks<std::invoke_result_t<detail::stored_call_t<F, Args...>&, std::decay_t<Args>&&...>>{},
        std::forward<F>(f), std::forward<Args>(args)...);
  }

  /// apply_async with a callback and/or error_callback.
  template <class F, class... Args>
  requires detail::InvocableOnCopiesWithStop<F, Args...>
  auto apply_async(
      Callbacks<std::invoke_result_t<detail::stored_call_t<F, Args...>&, std::decay_t<Args>&&...>> callbacks,
      F&& f, Args&&... args) {
    using Call = detail::stored_call_t<F, Args...>;
    using R = std::invoke_result_t<Call&, std::decay_t<Args>&&...>;
    return submit_apply<R>(detail::Unpack<Call>{Call{std::forward<F>(f)}},
                           std::make_tuple(std::forward<Args>(args)...), std::move(callbacks), true);
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
  /// Backpressure (the max_pending and submit_timeout options): for the derived pools'
  /// constructors.
  void limit_pending(std::size_t max_pending, std::chrono::milliseconds submit_timeout) {
    scheduler_.limit_pending(max_pending, submit_timeout);
  }

 private:
  /// Queues a map whose results go to `slots`; the returned state completes when all items ran.
  /// A `stoppable` job (async: its caller may cancel it) can be stopped, as a fail-fast one.
  template <class Slots, class Fn, class Source>
  std::shared_ptr<detail::ResultState<typename Slots::Output>> make_map_job(
      Fn fn, Source source, Slots slots, MapOptions options, Callbacks<typename Slots::Output> callbacks,
      bool stoppable) {
    using Output = typename Slots::Output;
    auto state = std::make_shared<detail::ResultState<Output>>(scheduler_, std::move(callbacks));
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
    const std::size_t chunk =
        options.chunksize != 0 ? options.chunksize : backend_.default_chunksize(n, size());
    auto job = std::make_shared<detail::MapJob<Backend, Fn, Source, Slots>>(
        &backend_, std::move(fn), std::move(source), std::move(slots), chunk, std::move(options.progress),
        state, stoppable, options.fail_fast);
    if (stoppable) state->set_stop_target(job);
    submit_pending(std::move(job), *state);
    return state;
  }

  template <class R, class Fn, class Source>
  detail::map_output_t<R> run_sync(Fn fn, Source source, MapOptions options) {
    detail::ResultSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    auto state =
        make_map_job(std::move(fn), std::move(source), std::move(slots), std::move(options), {}, false);
    return std::move(AsyncResult<detail::map_output_t<R>>(std::move(state))).get();
  }

  template <class R, class Fn, class Source>
  AsyncResult<detail::map_output_t<R>> run_async(Fn fn, Source source, MapOptions options,
                                                 Callbacks<detail::map_output_t<R>> callbacks) {
    detail::ResultSlots<R> slots{static_cast<std::size_t>(std::ranges::size(source))};
    return AsyncResult<detail::map_output_t<R>>(make_map_job(
        std::move(fn), std::move(source), std::move(slots), std::move(options), std::move(callbacks), true));
  }

  /// Queues one call; a `stoppable` one (apply_async) can be cancelled through its result.
  template <class R, class Fn, class Args>
  AsyncResult<R> submit_apply(Fn fn, Args args, Callbacks<R> callbacks, bool stoppable) {
    check_callable(fn);
    auto state = std::make_shared<detail::ResultState<R>>(scheduler_, std::move(callbacks));
    auto job = std::make_shared<detail::ApplyJob<Backend, Fn, Args, R>>(&backend_, std::move(fn),
                                                                        std::move(args), state, stoppable);
    if (stoppable) state->set_stop_target(job);
    submit_pending(std::move(job), *state);
    return AsyncResult<R>(std::move(state));
  }

  /// Queues one call's job, holding one of max_pending slots (blocking for it, see
  /// Scheduler::acquire_pending) until `state`, its result, is ready.
  void submit_pending(std::shared_ptr<detail::Job> job, detail::ResultStateBase& state) {
    const bool counted = scheduler_.acquire_pending();
    try {
      scheduler_.submit(std::move(job));
    } catch (...) {
      if (counted) scheduler_.release_pending();
      throw;
    }
    if (counted) state.on_ready([scheduler = &scheduler_] { scheduler->release_pending(); });
  }

  template <class F, class Range>
  auto make_imap(F f, Range&& items, bool ordered, MapOptions options);

  /// Calls that hand out every item's outcome have no first error to stop at.
  static void reject_fail_fast(const MapOptions& options, const char* call) {
    if (options.fail_fast)
      throw std::invalid_argument(std::string("parlab: ") + call +
                                  " hands out every item's outcome: MapOptions::fail_fast does not apply");
  }

  /// A backend that must find the function in another process checks it here, on the caller's
  /// thread, before any work is queued.
  template <class Fn>
  void check_callable(const Fn& fn) const {
    if constexpr (detail::ChecksCallable<Backend, Fn>) backend_.check_callable(fn);
  }

  // Declared first: destroyed after the scheduler has joined the workers that use it.
  Backend backend_;
  detail::Scheduler scheduler_;
};

/// Worker threads with Python's multiprocessing.Pool API (see BasicPool).
class Pool : public BasicPool<detail::ThreadBackend> {
 public:
  /// A pool of `workers` threads (default: cpu_count()).
  explicit Pool(std::size_t workers = cpu_count(), PoolOptions options = {})
      : BasicPool(workers, std::move(options.initializer)) {
    limit_pending(options.max_pending, options.submit_timeout);
  }
};

/// The results of imap / imap_unordered: an input range, consumed once, and next() for manual
/// stepping (Python's IMapIterator). Destroying it stops reading the input.
template <class R>
class [[nodiscard]] ImapResult {
 public:
  /// Function that fetches the next result with a deadline; nullopt at the end.
  using NextFn = std::function<std::optional<R>(std::chrono::steady_clock::time_point)>;

  /// Function behind notify_when_available.
  using NotifyFn = std::function<bool(std::function<void()>)>;

  ImapResult(NextFn next, std::function<void()> stop, NotifyFn notify)
      : next_(std::move(next)), stop_(std::move(stop)), notify_(std::move(notify)) {}
  ImapResult(ImapResult&& other) noexcept
      : next_(std::move(other.next_)),
        stop_(std::exchange(other.stop_, nullptr)),
        notify_(std::move(other.notify_)),
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

  /// For a consumer that must not block, such as an event loop (aio::anext): true when next()
  /// would return at once (a result, the end or an error is there); else false, and `notify` is
  /// called once, on a pool thread, when that changes. A later call replaces a notification not
  /// yet made (nullptr withdraws it). `notify` must not throw.
  bool notify_when_available(std::function<void()> notify) { return notify_(std::move(notify)); }

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
  NotifyFn notify_;
  mutable std::optional<R> current_;
};

template <detail::PoolBackend Backend>
template <class F, class Range>
auto BasicPool<Backend>::make_imap(F f, Range&& items, bool ordered, MapOptions options) {
  using R = detail::map_result_t<F, Range>;
  static_assert(!std::is_void_v<R>, "imap needs a function that returns a value");
  reject_fail_fast(options, ordered ? "imap" : "imap_unordered");
  check_callable(f);
  auto view = std::views::all(std::forward<Range>(items));
  using View = decltype(view);
  const std::size_t chunk = options.chunksize != 0 ? options.chunksize : 1;
  const std::size_t window = options.lookahead != 0 ? std::max(options.lookahead, chunk)
                                                    : std::max<std::size_t>(64, 4 * size() * chunk);
  auto job = std::make_shared<detail::ImapJob<Backend, F, View, R>>(&backend_, std::move(f), std::move(view),
                                                                    ordered, chunk, window,
                                                                    std::move(options.progress), &scheduler_);
  scheduler_.submit_stream(job);
  return ImapResult<R>(
      [job](std::chrono::steady_clock::time_point deadline) { return job->next(job, deadline); },
      [job] { job->stop(); },
      [job](std::function<void()> notify) { return job->notify_when_available(std::move(notify)); });
}

}  // namespace parlab
