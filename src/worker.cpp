#include "parlab/worker.hpp"

#include "parlab/detail/scheduler.hpp"

namespace parlab {
namespace {
/// Set on the thread that serves a ProcessPool worker process or an MpiPool worker rank. It
/// comes first: such a process may have inherited a pool thread's scheduler state in a fork.
thread_local std::optional<std::size_t> remote_index;
}  // namespace

std::optional<std::size_t> worker_index() noexcept {
  if (remote_index) return remote_index;
  if (detail::current_scheduler() != nullptr) return detail::current_worker_index();
  return std::nullopt;
}

void detail::set_remote_worker_index(std::size_t index) noexcept { remote_index = index; }

}  // namespace parlab
