#pragma once
/// \file
/// ImapJob, the job behind imap and imap_unordered: workers read chunks of the input lazily, at
/// most a window ahead of the consumer, who takes the results with next().

#include "parlab/detail/job_errors.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/errors.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stop_token>
#include <utility>
#include <vector>

namespace parlab::detail {

/// Sink for one imap chunk: the results of items base, base+1, ... An imap is not stopped
/// while it runs (its consumer stops it between chunks: ImapJob::stop), so its stop token is
/// empty.
template <class Result>
struct ChunkSink {
  std::vector<Result>& results;
  std::size_t base;
  template <class V>
  void value(std::size_t i, V&& value) {
    results[i - base].value.emplace(std::forward<V>(value));
  }
  void error(std::size_t i, std::exception_ptr error) { results[i - base].error = std::move(error); }
  void cancelled(std::size_t i) { results[i - base].error = cancelled_error(); }
  [[nodiscard]] static std::stop_token stop_token() noexcept { return {}; }
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
    std::vector<ItemResult> results(items.size());
    for (std::size_t k = 0; k < items.size(); ++k)
      results[k].index = base + k;
    ChunkSink<ItemResult> sink{results, base};
    auto at = [&](std::size_t i) -> Item& { return items[i - base]; };
    backend_->run(fn_, at, base, base + items.size(), sink);
    std::size_t done = 0;
    bool wake = false;
    std::function<void()> notify;
    {
      std::lock_guard lock{mu_};
      for (auto& result : results) {
        if (ordered_) {
          pending_[result.index - consumed_] = std::move(result);
        } else {
          pending_.push_back(std::move(result));
        }
      }
      --in_flight_;
      computed_ += items.size();
      done = computed_;
      wake = waiters_ > 0;
      if (available_locked()) notify = std::exchange(notify_, nullptr);
    }
    if (progress_) progress_(done, 0);
    if (wake) consumer_cv_.notify_all();
    if (notify) notify();
    scheduler_->notify_helpers();
    return true;
  }

  void cancel() override {
    std::function<void()> notify;
    {
      std::lock_guard lock{mu_};
      terminated_ = true;
      if (available_locked()) notify = std::exchange(notify_, nullptr);
    }
    consumer_cv_.notify_all();
    if (notify) notify();
  }

  /// For a consumer that must not block (an event loop: aio::anext): true when next() would
  /// return at once (a result, the end or an error is there); else false, and `notify` is called
  /// once, outside the lock, by the thread that makes it so. A later call replaces a notification
  /// not yet made (nullptr withdraws it).
  bool notify_when_available(std::function<void()> notify) {
    std::lock_guard lock{mu_};
    if (available_locked()) {
      notify_ = nullptr;
      return true;
    }
    notify_ = std::move(notify);
    return false;
  }

  /// The next result (in input order or completion order); nullopt at the end. Throws the
  /// item's TaskError, PoolTerminated, or TimeoutError after `deadline`.
  std::optional<R> next(const std::shared_ptr<Job>& self, std::chrono::steady_clock::time_point deadline) {
    const auto available = [this] { return available_locked(); };
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
    ItemResult result;
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
      result = std::move(pending_.front().value());
      pending_.pop_front();
      // The workers drop a job whose window is full; the consumption that frees it re-queues it.
      was_full = read_ - consumed_ >= window_ && !exhausted_;
      ++consumed_;
    }
    if (was_full && !scheduler_->requeue(self)) {
      std::lock_guard lock{mu_};
      terminated_ = true;
    }
    if (result.error) throw TaskError(result.index, result.error);
    return std::move(result.value);
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
  /// One item's value or exception, with its index.
  struct ItemResult {
    std::optional<R> value;
    std::exception_ptr error;
    std::size_t index = 0;
  };

  bool claimable_locked() const {
    return !exhausted_ && !terminated_ && (read_ - consumed_ < window_ || scheduler_->closing());
  }
  bool has_result_locked() const { return !pending_.empty() && pending_.front().has_value(); }
  /// Whether next() would not wait.
  bool available_locked() const { return has_result_locked() || finished_locked(); }
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
  std::deque<std::optional<ItemResult>> pending_;  // ordered: slot per index from consumed_
  std::size_t read_ = 0;                           // items read from the input
  std::size_t consumed_ = 0;                       // items handed to the consumer
  std::size_t computed_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t waiters_ = 0;  // threads blocked on consumer_cv_
  bool exhausted_ = false;   // no more reading: the input ended or failed, or the consumer left
  bool ended_ = false;       // the input itself ended (or failed)
  bool terminated_ = false;
  std::exception_ptr input_error_;
  std::size_t input_error_index_ = 0;
  std::function<void()> notify_;  // notify_when_available's, until it is made
};

}  // namespace parlab::detail
