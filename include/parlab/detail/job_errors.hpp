#pragma once
/// \file
/// How a job reports failure: FirstError (the lowest failing index of a map) and the error of
/// work that terminate() dropped or cancel() stopped.

#include "parlab/errors.hpp"

#include <cstddef>
#include <exception>
#include <mutex>
#include <utility>

namespace parlab::detail {

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

/// The error of queued work that Pool::terminate() dropped.
inline std::exception_ptr terminated_error() {
  return std::make_exception_ptr(PoolTerminated("parlab: work dropped by Pool::terminate()"));
}

/// The error of work that AsyncResult::cancel() (or a fail-fast map) stopped before it ran.
inline std::exception_ptr cancelled_error() {
  return std::make_exception_ptr(CancelledError("parlab: the work was cancelled"));
}

}  // namespace parlab::detail
