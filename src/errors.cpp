#include "parlab/errors.hpp"

#include "demangle.hpp"

#include <cxxabi.h>
#include <sys/wait.h>

#include <cstring>
#include <typeinfo>

namespace parlab {
namespace {

std::string crash_message(std::size_t index, long pid, int status) {
  std::string how;
  if (status == -1) {
    how = "died";
  } else if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    how = "was killed by signal " + std::to_string(WTERMSIG(status)) +
          (name ? std::string{" (SIG"} + name + ")" : "");
  } else {
    how = "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return "task " + std::to_string(index) + ": worker process " + std::to_string(pid) + " " + how;
}

}  // namespace

std::pair<std::string, std::string> detail::exception_parts(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const RemoteError& e) {
    return {e.type_name(), e.message()};
  } catch (const std::exception& e) {
    return {demangle(typeid(e).name()), e.what()};
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return {type ? demangle(type->name()) + " (not derived from std::exception)" : "unknown exception", ""};
  }
}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no exception";
  auto [type, message] = detail::exception_parts(error);
  return message.empty() ? type : type + ": " + message;
}

WorkerCrashed::WorkerCrashed(std::size_t index, long pid, int status)
    : std::runtime_error(crash_message(index, pid, status)), index_(index), pid_(pid), status_(status) {}

int WorkerCrashed::signal() const noexcept {
  return status_ != -1 && WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
}

int WorkerCrashed::exit_status() const noexcept {
  return status_ != -1 && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

MemoryLimitError::MemoryLimitError(std::size_t index, long pid, std::size_t limit, std::size_t rss)
    : std::runtime_error("parlab: task " + std::to_string(index) + ": worker process " + std::to_string(pid) +
                         " was killed: its resident memory (" + std::to_string(rss) +
                         " bytes) passed max_memory_hard (" + std::to_string(limit) + " bytes)"),
      index_(index),
      pid_(pid),
      limit_(limit) {}

InitializerError::InitializerError(std::exception_ptr original)
    : std::runtime_error("parlab: initializer failed: " + describe(original)),
      original_(std::move(original)) {}

RemoteError::RemoteError(std::string type_name, const std::string& message)
    : std::runtime_error(message), type_name_(std::move(type_name)) {}

std::string RemoteError::message() const { return what(); }

TaskError::TaskError(std::size_t index, std::exception_ptr original)
    : std::runtime_error("task " + std::to_string(index) + " failed: " + describe(original)),
      index_(index),
      original_(std::move(original)) {}

}  // namespace parlab
