#pragma once
/// \file
/// The exceptions parlab throws.

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>

namespace parlab {

/// A wait ran out of time (AsyncResult::get(timeout)); the result can still be obtained later.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Work was submitted to a pool that is closed or terminated (Python: "Pool not running").
class PoolNotRunning : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Work that terminate() dropped before it ran.
class PoolTerminated : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An item of a map-like call failed: carries the item's index and the original exception.
class TaskError : public std::runtime_error {
 public:
  /// `original` is the exception the task threw, for item `index` of the input.
  TaskError(std::size_t index, std::exception_ptr original);
  /// Position of the failing item in the input.
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// The exception the task threw.
  [[nodiscard]] std::exception_ptr original() const noexcept { return original_; }
  /// Throws the task's own exception, with its original type.
  [[noreturn]] void rethrow_original() const { std::rethrow_exception(original_); }

 private:
  std::size_t index_;
  std::exception_ptr original_;
};

/// "TypeName: message" of an exception, e.g. "std::invalid_argument: bad row".
[[nodiscard]] std::string describe(const std::exception_ptr& error);

}  // namespace parlab
