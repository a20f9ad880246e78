#include "parlab/aio_sync.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <exception>
#include <memory>
#include <stdexcept>

namespace parlab::aio {

Event::~Event() = default;  // the line resumes its waiters with operation_aborted

void Event::set() {
  set_ = true;
  while (waiters_.wake_one()) {
  }
}

Task<void> Event::wait() {
  if (set_) co_return;
  auto wait = waiters_.wait();
  co_await std::move(wait);
}

void Lock::release() {
  if (!locked()) throw std::logic_error("parlab: aio::Lock::release: the lock is not acquired");
  Semaphore::release();
}

Condition::~Condition() = default;  // the lines resume their waiters with operation_aborted

Task<void> Condition::wait() {
  if (!locked()) throw std::logic_error("parlab: aio::Condition::wait: the lock is not acquired");
  // What the frame needs once resumed: the condition may be gone by then.
  Lock* lock = lock_;
  const bool own_lock = lock == &own_lock_;
  std::weak_ptr<bool> alive = alive_;
  lock->release();
  std::exception_ptr cancelled;
  try {
    auto notified = waiters_.wait();
    co_await std::move(notified);
  } catch (const boost::system::system_error&) {
    if (alive.expired()) throw;  // destroyed: there is nothing to re-acquire
    cancelled = std::current_exception();
  }
  // Re-acquire the lock before returning, also when cancelled (before or while re-acquiring):
  // Asio would otherwise throw at every co_await of a cancelled task.
  const bool throw_if_cancelled = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    try {
      co_await lock->acquire();
      break;
    } catch (const boost::system::system_error&) {
      cancelled = std::current_exception();
    }
    if (own_lock && alive.expired()) break;  // the condition and its lock were destroyed
  }
  co_await boost::asio::this_coro::throw_if_cancelled(throw_if_cancelled);
  if (cancelled) std::rethrow_exception(cancelled);
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw std::logic_error("parlab: aio::Condition::notify: the lock is not acquired");
  for (std::size_t i = 0; i < n && waiters_.wake_one(); ++i) {
  }
}

void BoundedSemaphore::release() {
  if (value() >= bound_)
    throw std::logic_error("parlab: aio::BoundedSemaphore::release: released more times than acquired");
  Semaphore::release();
}

namespace detail {

QueueCounts::QueueCounts(std::size_t maxsize) : maxsize_(maxsize) { finished_.set(); }

void QueueCounts::added() {
  ++unfinished_;
  finished_.clear();
}

void QueueCounts::task_done() {
  if (unfinished_ == 0)
    throw std::logic_error("parlab: aio::Queue::task_done: called more times than items were put");
  if (--unfinished_ == 0) finished_.set();
}

void QueueCounts::shut_down(std::size_t dropped) {
  shut_down_ = true;
  unfinished_ -= std::min(dropped, unfinished_);
  if (unfinished_ == 0) finished_.set();
}

void QueueCounts::throw_full() { throw QueueFull("parlab: aio::Queue::put_nowait: the queue is full"); }

void QueueCounts::throw_empty() { throw QueueEmpty("parlab: aio::Queue::get_nowait: the queue is empty"); }

void QueueCounts::throw_shut_down() { std::rethrow_exception(shut_down_error()); }

std::exception_ptr QueueCounts::shut_down_error() {
  return std::make_exception_ptr(QueueShutDown("parlab: aio::Queue: the queue is shut down"));
}

}  // namespace detail

}  // namespace parlab::aio
