#pragma once
/// \file
/// concurrent.futures' module functions over AsyncResults of any pools: as_completed and wait
/// (the handles may come from different pools: a Pool's and a ProcessPool's in one call).

#include "parlab/async_result.hpp"
#include "parlab/errors.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab {

/// When wait() returns (concurrent.futures' FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED,
/// spelled the C++ way).
enum class ReturnWhen {
  /// As soon as any result is ready.
  first_completed,
  /// As soon as any result failed; all_completed if none does.
  first_exception,
  /// When every result is ready.
  all_completed,
};

/// What wait() returns (concurrent.futures' DoneAndNotDoneFutures): each result once, in input
/// order.
template <class T>
struct DoneAndNotDone {
  /// The results that were ready when wait() returned.
  std::vector<AsyncResult<T>> done;
  /// The others.
  std::vector<AsyncResult<T>> not_done;
};

namespace detail {

/// The shared state behind an AsyncResult, for the functions of this header.
struct ResultAccess {
  template <class T>
  static ResultState<T>& state(const AsyncResult<T>& result) {
    return result.state();
  }
};

template <class T>
inline constexpr bool is_async_result_v = false;
template <class T>
inline constexpr bool is_async_result_v<AsyncResult<T>> = true;

/// A range of AsyncResult<T> (e.g. std::vector<AsyncResult<T>>).
template <class Range>
concept AsyncResultRange = std::ranges::input_range<Range> &&
    is_async_result_v<std::remove_cvref_t<std::ranges::range_value_t<Range>>>;

/// The T of a range of AsyncResult<T>.
template <AsyncResultRange Range>
using async_value_t = typename std::remove_cvref_t<std::ranges::range_value_t<Range>>::value_type;

/// Copies the handles, each shared result once (the first copy), in input order.
template <class T, class Range>
std::vector<AsyncResult<T>> unique_results(Range&& results) {
  std::vector<AsyncResult<T>> out;
  std::vector<const ResultStateBase*> seen;
  for (const AsyncResult<T>& result : results) {
    const ResultStateBase* state = &ResultAccess::state(result);
    if (std::find(seen.begin(), seen.end(), state) != seen.end()) continue;
    seen.push_back(state);
    out.push_back(result);
  }
  return out;
}

/// Watches results and hands out their positions as they become ready, each once: first those
/// ready already (in order), then in completion order. Waiting sleeps until a result's on_ready
/// notification; on a worker of a watched result's pool it runs the pool's queued work meanwhile
/// (a task waiting on its own pool). The results must outlive the watch.
class ReadyWatch {
 public:
  explicit ReadyWatch(std::vector<ResultStateBase*> states);
  ReadyWatch(const ReadyWatch&) = delete;
  ReadyWatch& operator=(const ReadyWatch&) = delete;
  /// Withdraws the notifications that have not run.
  ~ReadyWatch();

  /// The position of the next ready result, or nullopt at `deadline`. Throws std::logic_error
  /// without a deadline where the wait could never end (ResultStateBase::check_may_wait_forever).
  std::optional<std::size_t> next(std::chrono::steady_clock::time_point deadline);

 private:
  /// What the notifications reach; shared with them, so one that runs late finds it alive.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::size_t> ready;          // guarded by mu
    std::atomic<std::size_t> available{0};  // ready.size(), read without the lock
    // The pool whose Scheduler::wait_until() next() is in; guarded by mu, which push() holds
    // while it wakes that pool, so the pool cannot be gone by then.
    Scheduler* helping = nullptr;
    void push(std::size_t index);
  };
  std::optional<std::size_t> take();

  std::vector<ResultStateBase*> states_;
  std::vector<std::uint64_t> ids_;  // on_ready ids (0: none to withdraw)
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

/// States of `results` for a ReadyWatch.
template <class T>
std::vector<ResultStateBase*> states_of(const std::vector<AsyncResult<T>>& results) {
  std::vector<ResultStateBase*> states;
  states.reserve(results.size());
  for (const auto& result : results)
    states.push_back(&ResultAccess::state(result));
  return states;
}

/// A timeout as a deadline from now.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
  return std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
}

/// Whether a result failed by an exception of its work: a cancelled one did not (Python's
/// FIRST_EXCEPTION does not stop at a cancelled future).
inline bool failed_by_itself(const ResultStateBase& state) { return state.failed() && !state.cancelled(); }

template <class T>
DoneAndNotDone<T> wait_results(std::vector<AsyncResult<T>> results, ReturnWhen return_when,
                               std::chrono::steady_clock::time_point deadline) {
  {
    ReadyWatch watch{states_of(results)};
    for (std::size_t done = 0; done < results.size(); ++done) {
      const std::optional<std::size_t> index = watch.next(deadline);
      if (!index) break;
      if (return_when == ReturnWhen::first_completed) break;
      if (return_when == ReturnWhen::first_exception && failed_by_itself(ResultAccess::state(results[*index]))) break;
    }
  }
  DoneAndNotDone<T> out;
  for (auto& result : results)
    (result.ready() ? out.done : out.not_done).push_back(std::move(result));
  return out;
}

}  // namespace detail

/// The results of as_completed(): an input range, consumed once from one thread, of
/// AsyncResult<T>s in the order they complete. Neither copied nor moved (keep it where
/// as_completed() made it).
template <class T>
class [[nodiscard]] AsCompleted {
 public:
  /// Watches `results` (each shared result once) until `deadline`.
  AsCompleted(std::vector<AsyncResult<T>> results, std::chrono::steady_clock::time_point deadline)
      : results_(std::move(results)), watch_(detail::states_of(results_)), deadline_(deadline) {}
  AsCompleted(const AsCompleted&) = delete;
  AsCompleted& operator=(const AsCompleted&) = delete;

  /// Input iterator over the results; begin() and ++ wait for the next one and throw
  /// TimeoutError when it is not ready by the deadline.
  class iterator {
   public:
    using value_type = AsyncResult<T>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(AsCompleted* owner) : owner_(owner) { ++*this; }
    AsyncResult<T>& operator*() const { return owner_->results_[*owner_->current_]; }
    AsyncResult<T>* operator->() const { return &**this; }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    [[nodiscard]] bool at_end() const { return owner_ == nullptr || !owner_->current_.has_value(); }
    AsCompleted* owner_ = nullptr;
  };

  iterator begin() { return iterator{this}; }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  void advance() {
    current_.reset();
    if (yielded_ == results_.size()) return;
    current_ = watch_.next(deadline_);
    if (!current_)
      throw TimeoutError("parlab: as_completed timed out: " + std::to_string(results_.size() - yielded_) +
                         " (of " + std::to_string(results_.size()) + ") results unfinished");
    ++yielded_;
  }

  std::vector<AsyncResult<T>> results_;
  detail::ReadyWatch watch_;
  std::chrono::steady_clock::time_point deadline_;
  std::size_t yielded_ = 0;
  std::optional<std::size_t> current_;
};

/// concurrent.futures.as_completed: the results, each once, as they complete — those already
/// complete first — for range-for: `for (auto& r : parlab::as_completed(results)) use(r.get());`.
/// `results` is a range of AsyncResult<T> from any pools (copied; the same result twice counts
/// once). Waiting sleeps until a result completes (no polling).
template <detail::AsyncResultRange Range>
AsCompleted<detail::async_value_t<Range>> as_completed(Range&& results) {
  using T = detail::async_value_t<Range>;
  return AsCompleted<T>(detail::unique_results<T>(std::forward<Range>(results)),
                        std::chrono::steady_clock::time_point::max());
}

/// As as_completed(results), but the iteration throws TimeoutError when the next result is not
/// ready `timeout` after this call (as Python, the deadline counts from the call); the results
/// not yielded go on running.
template <detail::AsyncResultRange Range, class Rep, class Period>
AsCompleted<detail::async_value_t<Range>> as_completed(Range&& results,
                                                       std::chrono::duration<Rep, Period> timeout) {
  using T = detail::async_value_t<Range>;
  const auto deadline = detail::deadline_after(timeout);
  return AsCompleted<T>(detail::unique_results<T>(std::forward<Range>(results)), deadline);
}

/// concurrent.futures.wait: blocks until `return_when` holds for `results` (a range of
/// AsyncResult<T> from any pools), then returns them split into done and not_done.
template <detail::AsyncResultRange Range>
DoneAndNotDone<detail::async_value_t<Range>> wait(Range&& results,
                                                  ReturnWhen return_when = ReturnWhen::all_completed) {
  using T = detail::async_value_t<Range>;
  return detail::wait_results(detail::unique_results<T>(std::forward<Range>(results)), return_when,
                              std::chrono::steady_clock::time_point::max());
}

/// As wait(results, return_when), but returns (does not throw) after `timeout` at the latest,
/// with the results not ready by then in not_done.
template <detail::AsyncResultRange Range, class Rep, class Period>
DoneAndNotDone<detail::async_value_t<Range>> wait(Range&& results, ReturnWhen return_when,
                                                  std::chrono::duration<Rep, Period> timeout) {
  using T = detail::async_value_t<Range>;
  const auto deadline = detail::deadline_after(timeout);
  return detail::wait_results(detail::unique_results<T>(std::forward<Range>(results)), return_when, deadline);
}

}  // namespace parlab
