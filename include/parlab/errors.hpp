#pragma once
/// \file
/// The exceptions parlab throws.

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

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

/// The work behind an AsyncResult was cancelled (AsyncResult::cancel()) before it finished, or an
/// item was not run because its call stopped early (Python's concurrent.futures.CancelledError).
class CancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Ctrl-C ended aio::run (Python's KeyboardInterrupt): its main task was cancelled and has
/// finished. Like Python's, it is not an error type — it does not derive from std::exception, so
/// `catch (const std::exception&)` does not swallow it. Left uncaught, the program ends by SIGINT
/// (status 130 in a shell), as a Python program does.
class KeyboardInterrupt {
 public:
  /// "KeyboardInterrupt".
  [[nodiscard]] const char* what() const noexcept { return "KeyboardInterrupt"; }
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

/// The worker process running a task died (a signal such as SIGSEGV or SIGKILL, or an exit):
/// ProcessPool fails that task with this error, replaces the worker and goes on.
class WorkerCrashed : public std::runtime_error {
 public:
  /// `index`: the task's position in its call's input; `pid`: the worker; `status`: waitpid's
  /// status word (-1 when unknown).
  WorkerCrashed(std::size_t index, long pid, int status);
  /// Position of the task in its call's input (0 for apply).
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// Process id of the worker that died.
  [[nodiscard]] long pid() const noexcept { return pid_; }
  /// The signal that killed the worker, or 0 if it exited.
  [[nodiscard]] int signal() const noexcept;
  /// The worker's exit status if it exited, or -1 if a signal killed it (or unknown).
  [[nodiscard]] int exit_status() const noexcept;

 private:
  std::size_t index_;
  long pid_;
  int status_;
};

/// A ProcessPool worker passed ProcessOptions::max_memory_hard while it ran a task: the worker was
/// killed, that task fails with this error (it is not retried) and the pool goes on.
class MemoryLimitError : public std::runtime_error {
 public:
  /// `index`: the task's position in its call's input; `pid`: the worker; `limit`: the limit in
  /// bytes; `rss`: the worker's resident set size when it was seen over the limit.
  MemoryLimitError(std::size_t index, long pid, std::size_t limit, std::size_t rss);
  /// Position of the task in its call's input (0 for apply).
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// Process id of the worker that was killed.
  [[nodiscard]] long pid() const noexcept { return pid_; }
  /// The limit it passed, in bytes (max_memory_hard).
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t index_;
  long pid_;
  std::size_t limit_;
};

/// A Pool's initializer threw on the worker thread that was to run this task: the tasks of that
/// worker fail with this error until the initializer succeeds there (it is tried again before the
/// worker's next chunk). ProcessPool and MpiPool report a remote initializer's failure as a
/// RemoteError whose message starts with "initializer failed: ".
class InitializerError : public std::runtime_error {
 public:
  /// `original`: what the initializer threw.
  explicit InitializerError(std::exception_ptr original);
  /// The exception the initializer threw.
  [[nodiscard]] std::exception_ptr original() const noexcept { return original_; }

 private:
  std::exception_ptr original_;
};

/// An exception thrown by a task in another process (ProcessPool, MpiPool): its type name and
/// message cross the process boundary; the exception object itself cannot.
class RemoteError : public std::runtime_error {
 public:
  RemoteError(std::string type_name, const std::string& message);
  /// The demangled type name of the exception the task threw, e.g. "std::invalid_argument".
  [[nodiscard]] const std::string& type_name() const noexcept { return type_name_; }
  /// The exception's what().
  [[nodiscard]] std::string message() const;

 private:
  std::string type_name_;
};

/// "TypeName: message" of an exception, e.g. "std::invalid_argument: bad row".
[[nodiscard]] std::string describe(const std::exception_ptr& error);

namespace detail {
/// The demangled type name and what() of an exception (what() empty when not a std::exception).
std::pair<std::string, std::string> exception_parts(const std::exception_ptr& error);
}  // namespace detail

}  // namespace parlab
