#pragma once
/// \file
/// ThreadBackend, the backend of parlab::Pool: a chunk's calls run on the worker thread that
/// claimed it (invoke_each).

#include "parlab/detail/stop.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/errors.hpp"
#include "parlab/worker.hpp"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::detail {

/// Calls fn on items [begin, end) — `at(i)` gives item i — and hands each result or exception
/// to `sink.value(i, result)` / `sink.value(i)` (void) / `sink.error(i, exception)`. Once the
/// job's stop is requested (`sink.stop_token()`), the items not started are `sink.cancelled(i)`;
/// a task that takes the stop token gets it (current_stop_token()), and when it returns or
/// throws after the stop it was stopped: cancelled too.
template <class Fn, class At, class Sink>
void invoke_each(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
  using Ref = decltype(at(begin));
  using R = std::invoke_result_t<Fn&, Ref>;
  const std::stop_token stop = sink.stop_token();
  const CurrentStopToken current{stop};
  for (std::size_t i = begin; i < end; ++i) {
    if (stop.stop_requested()) {
      sink.cancelled(i);
      continue;
    }
    const auto call = [&] {
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn, at(i));
        if (stop_aware_v<Fn> && stop.stop_requested()) return sink.cancelled(i);
        sink.value(i);
      } else if constexpr (stop_aware_v<Fn>) {
        auto&& result = std::invoke(fn, at(i));
        if (stop.stop_requested()) return sink.cancelled(i);
        sink.value(i, std::forward<decltype(result)>(result));
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
        if (stop_aware_v<Fn> && stop.stop_requested()) {
          sink.cancelled(i);
        } else {
          sink.error(i, std::current_exception());
        }
      }
    }
  }
}

/// The thread backend: a chunk runs right here, on the worker thread that claimed it.
class ThreadBackend {
 public:
  /// `initializer` (if any) runs on each worker thread before its first chunk.
  explicit ThreadBackend(std::size_t workers, Initializer initializer = {})
      : initializer_(std::move(initializer)), initialized_(workers, 0) {}
  /// Items per chunk when the caller gives none (Python's rule for map).
  [[nodiscard]] static std::size_t default_chunksize(std::size_t items, std::size_t workers) {
    const std::size_t parts = 4 * workers;
    return std::max<std::size_t>(1, (items + parts - 1) / parts);
  }
  template <class Fn, class At, class Sink>
  void run(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
    if (initializer_) {
      if (const std::exception_ptr error = initialize_this_worker()) {
        for (std::size_t i = begin; i < end; ++i)
          sink.error(i, error);
        return;
      }
    }
    invoke_each(fn, at, begin, end, sink);
  }
  /// Threads cannot be stopped: running tasks finish.
  void terminate() {}
  void shutdown() {}

 private:
  /// Runs the initializer on this worker thread unless it already succeeded here; its failure
  /// (an InitializerError), or null. Each worker thread touches only its own flag.
  std::exception_ptr initialize_this_worker() {
    char& done = initialized_[current_worker_index()];
    if (done != 0) return nullptr;
    try {
      initializer_();
    } catch (...) {
      return std::make_exception_ptr(InitializerError(std::current_exception()));
    }
    done = 1;
    return nullptr;
  }

  Initializer initializer_;
  std::vector<char> initialized_;  // per worker thread: its initializer succeeded
};

}  // namespace parlab::detail
