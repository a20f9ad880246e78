#include "parlab/futures.hpp"

#include <utility>

namespace parlab::detail {

void ReadyWatch::Shared::push(std::size_t index) {
  std::lock_guard lock{mu};
  ready.push_back(index);
  available.fetch_add(1, std::memory_order_release);
  cv.notify_all();
  if (helping != nullptr) helping->notify_helpers();
}

ReadyWatch::ReadyWatch(std::vector<ResultStateBase*> states)
    : states_(std::move(states)), ids_(states_.size(), 0) {
  // Those ready now come first, in input order; a notification may run at once for the others too.
  std::vector<bool> was_ready(states_.size(), false);
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (!states_[i]->ready()) continue;
    was_ready[i] = true;
    shared_->push(i);
  }
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (!was_ready[i]) ids_[i] = states_[i]->on_ready([shared = shared_, i] { shared->push(i); });
  }
}

ReadyWatch::~ReadyWatch() {
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (ids_[i] != 0) states_[i]->remove_on_ready(ids_[i]);
  }
}

std::optional<std::size_t> ReadyWatch::take() {
  std::lock_guard lock{shared_->mu};
  if (shared_->ready.empty()) return std::nullopt;
  const std::size_t index = shared_->ready.front();
  shared_->ready.pop_front();
  shared_->available.fetch_sub(1, std::memory_order_relaxed);
  return index;
}

std::optional<std::size_t> ReadyWatch::next(std::chrono::steady_clock::time_point deadline) {
  if (auto index = take()) return index;
  Scheduler* own_pool = nullptr;
  for (ResultStateBase* state : states_) {
    if (state->ready()) continue;
    own_pool = state->scheduler_if_current();
    if (own_pool != nullptr) break;
  }
  if (own_pool != nullptr) {
    // A task waiting for results of its own pool runs the pool's queued work meanwhile, as
    // AsyncResult::wait does; push() wakes it for results of other pools too.
    {
      std::lock_guard lock{shared_->mu};
      shared_->helping = own_pool;
    }
    own_pool->wait_until([this, deadline] {
      return shared_->available.load(std::memory_order_acquire) > 0 ||
             std::chrono::steady_clock::now() >= deadline;
    });
    {
      std::lock_guard lock{shared_->mu};
      shared_->helping = nullptr;
    }
    return take();
  }
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    for (ResultStateBase* state : states_) {
      if (!state->ready()) state->check_may_wait_forever();
    }
  }
  {
    std::unique_lock lock{shared_->mu};
    if (!shared_->cv.wait_until(lock, deadline, [this] { return !shared_->ready.empty(); }))
      return std::nullopt;
  }
  return take();
}

}  // namespace parlab::detail
