#pragma once
/// \file
/// parlab::Outcome<T> — the value or the error of one task, for callers who want every result
/// and every error (Pool::map_outcomes, aio::gather with return_exceptions).

#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace parlab {

/// Either a value or the exception that prevented it.
template <class T>
class Outcome {
 public:
  Outcome() = default;
  /// A successful outcome.
  static Outcome success(T value) {
    Outcome o;
    o.value_.emplace(std::move(value));
    return o;
  }
  /// A failed outcome.
  static Outcome failure(std::exception_ptr error) {
    Outcome o;
    o.error_ = std::move(error);
    return o;
  }

  /// True when the task produced a value.
  [[nodiscard]] bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// The value; rethrows the task's exception when there is none.
  [[nodiscard]] T& value() & {
    check();
    return *value_;
  }
  [[nodiscard]] const T& value() const& {
    check();
    return *value_;
  }
  [[nodiscard]] T&& value() && {
    check();
    return std::move(*value_);
  }
  /// The task's exception (null for a success).
  [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }
  /// Rethrows the task's exception; does nothing for a success.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void check() const {
    if (!value_) {
      rethrow();
      throw std::logic_error("parlab: Outcome holds neither a value nor an error");
    }
  }
  std::optional<T> value_;
  std::exception_ptr error_;
};

/// The outcome of a task that returns nothing: success or an exception.
template <>
class Outcome<void> {
 public:
  Outcome() = default;
  static Outcome success() {
    Outcome o;
    o.done_ = true;
    return o;
  }
  static Outcome failure(std::exception_ptr error) {
    Outcome o;
    o.error_ = std::move(error);
    return o;
  }
  [[nodiscard]] bool ok() const noexcept { return done_; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace parlab
