#pragma once
/// \file
/// MapJob, the job behind map, map_async, starmap, map_into and map_outcomes: workers claim
/// chunks of indices of a random-access source through an atomic cursor.

#include "parlab/async_result.hpp"
#include "parlab/detail/job_errors.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/detail/stop.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <ranges>
#include <stop_token>
#include <type_traits>
#include <utility>

namespace parlab::detail {

/// A map over a random-access source: workers claim chunks of indices through an atomic cursor,
/// the backend runs each chunk and reports every item to this job (the sink), which puts it in
/// `Slots`. A `stoppable` job (an async one, or a fail-fast one) can be stopped: by
/// AsyncResult::cancel() (request_stop), or, with `fail_fast`, by its first failing item; then
/// the items not started are dropped and the running ones are asked to stop (sink.stop_token()).
template <class Backend, class Fn, class Source, class Slots>
class MapJob final : public Job, public StopTarget {
 public:
  using Output = typename Slots::Output;

  MapJob(Backend* backend, Fn fn, Source source, Slots slots, std::size_t chunksize,
         std::function<void(std::size_t, std::size_t)> progress, std::shared_ptr<ResultState<Output>> state,
         bool stoppable, bool fail_fast)
      : backend_(backend),
        fn_(std::move(fn)),
        source_(std::move(source)),
        first_(std::ranges::begin(source_)),
        size_(static_cast<std::size_t>(std::ranges::size(source_))),
        chunk_(chunksize),
        progress_(std::move(progress)),
        slots_(std::move(slots)),
        state_(std::move(state)),
        stop_(stoppable || fail_fast ? std::stop_source{} : std::stop_source{std::nostopstate}),
        fail_fast_(fail_fast) {}

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
    } else if (!fail_fast_) {
      errors_.record(i, std::move(error));
    } else if (!stop_.stop_requested()) {  // after a fail-fast stop, a failing item was stopped
      errors_.record(i, std::move(error));
      request_stop();
    }
  }
  /// Item i did not run, or was stopped, because the job stopped: not an error of the item.
  void cancelled(std::size_t i) {
    if constexpr (Slots::keeps_errors) slots_.set_error(i, cancelled_error());
  }
  /// Stop requested once the result was cancelled or, fail-fast, an item failed; stop_possible()
  /// is false for a job that cannot be stopped.
  [[nodiscard]] std::stop_token stop_token() const noexcept { return stop_.get_token(); }

  void request_stop() override {
    stop_.request_stop();
    const std::size_t begin = cursor_.exchange(size_);
    if (begin >= size_) return;
    for (std::size_t i = begin; i < size_; ++i)
      cancelled(i);
    finish(size_ - begin);
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
    if (!state_->settle() && !Slots::keeps_errors) {  // cancelled: map_outcomes keeps its outcomes
      state_->set_error(cancelled_error());
    } else if (auto error = errors_.as_task_error()) {
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
  std::stop_source stop_;
  const bool fail_fast_;
};

}  // namespace parlab::detail
