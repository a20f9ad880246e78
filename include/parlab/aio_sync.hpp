#pragma once
/// \file
/// parlab::aio's synchronisation primitives and queues, as asyncio has them: Event, Lock,
/// Condition, BoundedSemaphore, Queue, LifoQueue and PriorityQueue (Semaphore is in aio.hpp).
/// Each one lives on the event loop and is not thread-safe (use it from the loop's tasks, as in
/// Python); each serves its waiters first come, first served; a waiter cancelled while it waits
/// leaves the line and takes nothing; destroying one resumes its waiters with operation_aborted.

#include "parlab/aio.hpp"
#include "parlab/detail/aio_outcome.hpp"
#include "parlab/detail/aio_parked_line.hpp"
#include "parlab/outcome.hpp"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::aio {

/// asyncio.Event: set() wakes every task waiting in wait(), and later waits return at once until
/// clear().
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  /// Tasks still waiting resume with operation_aborted.
  ~Event();

  /// Sets the flag and wakes every waiter.
  void set();
  /// Clears the flag; waiters already woken still return.
  void clear() noexcept { set_ = false; }
  /// Whether the flag is set.
  [[nodiscard]] bool is_set() const noexcept { return set_; }
  /// Waits until the flag is set (returns at once if it is). Throws boost::system::system_error
  /// (operation_aborted) when cancelled while waiting.
  Task<void> wait();

 private:
  bool set_ = false;
  detail::ParkedLine<> waiters_;
};

/// asyncio.Lock: a Semaphore of one permit whose release() checks that it is held.
class Lock : private Semaphore {
 public:
  /// Releases the lock when destroyed (or on release()); move-only.
  using Guard = Semaphore::Guard;

  Lock() : Semaphore(1) {}

  /// Takes the lock, waiting in line while another task holds it. Throws
  /// boost::system::system_error (operation_aborted) when cancelled while waiting.
  using Semaphore::acquire;
  /// acquire(), returning a Guard that releases the lock (`async with lock:`).
  using Semaphore::hold;
  /// Whether the lock is held.
  using Semaphore::locked;
  /// Releases the lock: the first waiter gets it. Throws std::logic_error when it is not held
  /// (Python: RuntimeError).
  void release();
};

/// asyncio.Condition: tasks wait() until another task holding the lock notifies them.
class Condition {
 public:
  /// Releases the lock when destroyed (or on release()); move-only.
  using Guard = Lock::Guard;

  /// A condition with a lock of its own.
  Condition() = default;
  /// A condition on `lock`, which must outlive it (several conditions may share one lock).
  explicit Condition(Lock& lock) : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  /// Tasks still waiting (to be notified, or to re-acquire its own lock) resume with
  /// operation_aborted, without the lock.
  ~Condition();

  /// Takes the lock (Lock::acquire).
  Task<void> acquire() { return lock_->acquire(); }
  /// Releases the lock (Lock::release).
  void release() { lock_->release(); }
  /// Whether the lock is held.
  [[nodiscard]] bool locked() const noexcept { return lock_->locked(); }
  /// acquire(), returning a Guard that releases the lock (`async with cond:`).
  Task<Guard> hold() { return lock_->hold(); }

  /// Releases the lock, waits until notified, and re-acquires the lock before returning, also when
  /// cancelled: the cancellation (operation_aborted) is thrown once the lock is held again, as
  /// Python does. Throws std::logic_error when the lock is not held.
  Task<void> wait();
  /// Waits until `predicate()` is true (checked first, then after each notification) and returns
  /// its value; the lock must be held, and is held on return.
  template <class Predicate>
  Task<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  /// Wakes the first `n` tasks waiting in wait(); each then re-acquires the lock. Throws
  /// std::logic_error when the lock is not held.
  void notify(std::size_t n = 1);
  /// Wakes every task waiting in wait().
  void notify_all() { notify(waiters_.size()); }

 private:
  Lock own_lock_;
  Lock* lock_ = &own_lock_;
  detail::ParkedLine<> waiters_;
  /// Expires with the condition: a waiter resumed by the destructor must not touch the lock.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// asyncio.BoundedSemaphore: a Semaphore whose release() beyond its initial value is an error.
class BoundedSemaphore : private Semaphore {
 public:
  /// Releases a permit when destroyed (or on release()); move-only.
  using Guard = Semaphore::Guard;

  /// A semaphore with `value` permits, never more.
  explicit BoundedSemaphore(std::size_t value = 1) : Semaphore(value), bound_(value) {}

  /// Takes a permit, waiting in line when none is free (Semaphore::acquire).
  using Semaphore::acquire;
  /// acquire(), returning a Guard that releases the permit.
  using Semaphore::hold;
  /// Whether acquire() would wait.
  using Semaphore::locked;
  /// Free permits.
  using Semaphore::value;
  /// Returns a permit. Throws std::logic_error when every permit is already free (Python:
  /// ValueError).
  void release();

 private:
  std::size_t bound_;
};

/// Queue::get_nowait() on an empty queue (asyncio.QueueEmpty).
class QueueEmpty : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Queue::put_nowait() on a full queue (asyncio.QueueFull).
class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A put to a queue that was shut down, or a get from one that is shut down and empty
/// (asyncio.QueueShutDown, Python 3.13).
class QueueShutDown : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// What a queue keeps that does not depend on its items: the bound, the count of unfinished items with
/// the event join() waits for, and whether it is shut down (src/aio_sync.cpp).
class QueueCounts {
 public:
  explicit QueueCounts(std::size_t maxsize);

  [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
  /// Whether a queue of `size` items is full.
  [[nodiscard]] bool full(std::size_t size) const noexcept { return maxsize_ > 0 && size >= maxsize_; }
  /// Whether shutdown() was called.
  [[nodiscard]] bool shut_down() const noexcept { return shut_down_; }
  /// One more item entered the queue.
  void added();
  /// Queue::task_done.
  void task_done();
  /// Queue::join.
  Task<void> join() { return finished_.wait(); }
  /// Marks the queue shut down; `dropped` items were removed unprocessed (shutdown(immediate)).
  void shut_down(std::size_t dropped);

  /// Throw QueueFull, QueueEmpty, QueueShutDown with their messages.
  [[noreturn]] static void throw_full();
  [[noreturn]] static void throw_empty();
  [[noreturn]] static void throw_shut_down();
  /// A QueueShutDown, for the waiters that shutdown() resumes.
  static std::exception_ptr shut_down_error();

 private:
  std::size_t maxsize_;
  std::size_t unfinished_ = 0;
  Event finished_;
  bool shut_down_ = false;
};

/// The items of a Queue (first in, first out) or of a LifoQueue (last in, first out).
template <class T, bool LastInFirstOut>
class SequenceItems {
 public:
  void push(T item) { items_.push_back(std::move(item)); }
  T pop() {
    if constexpr (LastInFirstOut) {
      T item = std::move(items_.back());
      items_.pop_back();
      return item;
    } else {
      T item = std::move(items_.front());
      items_.pop_front();
      return item;
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::deque<T> items_;
};

/// The items of a PriorityQueue: a heap that gives the least item by Compare first.
template <class T, class Compare>
class HeapItems {
 public:
  void push(T item) {
    items_.push_back(std::move(item));
    std::push_heap(items_.begin(), items_.end(), after_);
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), after_);
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  /// std::push_heap keeps the greatest first: order by "comes after" to keep the least first.
  struct After {
    Compare compare;
    bool operator()(const T& a, const T& b) const { return compare(b, a); }
  };
  std::vector<T> items_;
  After after_{};
};

}  // namespace detail

/// A queue of at most `maxsize` items (0: unbounded) in the order `Items` keeps them: Queue,
/// LifoQueue and PriorityQueue. put() waits while the queue is full, get() while it is empty;
/// waiting tasks are served first come, first served, and an item goes straight to the getter
/// that has waited longest. A cancelled get() takes no item, a cancelled put() puts nothing.
/// task_done() and join() count the items processed.
template <class T, class Items>
class BasicQueue {
 public:
  /// A queue of at most `maxsize` items; 0 means unbounded.
  explicit BasicQueue(std::size_t maxsize = 0) : counts_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;
  /// Tasks waiting in put() or get() resume with operation_aborted (a waiting put's item is
  /// destroyed); join() waiters too.
  ~BasicQueue() = default;

  /// Puts `item` in the queue, waiting in line while the queue is full. Throws
  /// boost::system::system_error (operation_aborted) when cancelled while waiting (nothing is put),
  /// QueueShutDown after shutdown().
  Task<void> put(T item) {
    if (counts_.shut_down()) counts_.throw_shut_down();
    if (!full()) {
      add(std::move(item));
      co_return;
    }
    auto wait = putters_.wait(std::move(item));
    Outcome<void> outcome = co_await std::move(wait);
    outcome.rethrow();
  }
  /// Removes and returns the next item, waiting in line while the queue is empty. Throws
  /// boost::system::system_error (operation_aborted) when cancelled while waiting (no item is
  /// taken), QueueShutDown when the queue is shut down and empty.
  Task<T> get() {
    if (!empty()) co_return take();
    if (counts_.shut_down()) counts_.throw_shut_down();
    auto wait = getters_.wait();
    Outcome<T> got = co_await std::move(wait);
    co_return detail::unwrap(std::move(got));
  }
  /// Puts `item` without waiting; throws QueueFull when the queue is full, QueueShutDown after
  /// shutdown().
  void put_nowait(T item) {
    if (counts_.shut_down()) counts_.throw_shut_down();
    if (full()) counts_.throw_full();
    add(std::move(item));
  }
  /// Removes and returns the next item without waiting; throws QueueEmpty when the queue is
  /// empty (QueueShutDown when it is also shut down).
  T get_nowait() {
    if (empty()) {
      if (counts_.shut_down()) counts_.throw_shut_down();
      counts_.throw_empty();
    }
    return take();
  }

  /// Items in the queue (an item handed straight to a waiting getter is not counted).
  [[nodiscard]] std::size_t qsize() const noexcept { return items_.size(); }
  /// Whether the queue has no items.
  [[nodiscard]] bool empty() const noexcept { return items_.size() == 0; }
  /// Whether the queue has maxsize() items (never for an unbounded queue).
  [[nodiscard]] bool full() const noexcept { return counts_.full(items_.size()); }
  /// The bound given to the constructor (0: unbounded).
  [[nodiscard]] std::size_t maxsize() const noexcept { return counts_.maxsize(); }

  /// Marks one item got earlier as processed. Throws std::logic_error when called more times than
  /// items were put (Python: ValueError).
  void task_done() { counts_.task_done(); }
  /// Waits until every item put has been marked by task_done().
  Task<void> join() { return counts_.join(); }

  /// Python 3.13's shutdown: later put() and put_nowait() throw QueueShutDown, and so do get() and
  /// get_nowait() once the queue is empty; tasks waiting in put() or get() resume with
  /// QueueShutDown. With `immediate`, the items still queued are dropped and count as done for
  /// join().
  void shutdown(bool immediate = false) {
    std::size_t dropped = 0;
    if (immediate) {
      dropped = items_.size();
      items_.clear();
    }
    counts_.shut_down(dropped);
    while (!getters_.empty())
      getters_.pop_front().waiter->resume(Outcome<T>::failure(detail::QueueCounts::shut_down_error()));
    while (!putters_.empty())
      putters_.pop_front().waiter->resume(Outcome<void>::failure(detail::QueueCounts::shut_down_error()));
  }

 private:
  /// Adds an item to a queue that is not full: to the getter that has waited longest, if any.
  void add(T item) {
    counts_.added();
    if (getters_.empty()) {
      items_.push(std::move(item));
    } else {
      getters_.pop_front().waiter->resume(Outcome<T>::success(std::move(item)));
    }
  }
  /// Takes the next item; the putter that has waited longest, if any, fills the freed place.
  T take() {
    T item = items_.pop();
    if (!putters_.empty()) {
      auto putter = putters_.pop_front();
      add(std::move(putter.data));
      putter.waiter->resume(Outcome<void>::success());
    }
    return item;
  }

  detail::QueueCounts counts_;
  Items items_;
  detail::ParkedLine<Outcome<void>, T> putters_;
  detail::ParkedLine<Outcome<T>> getters_;
};

/// asyncio.Queue: first in, first out.
template <class T>
using Queue = BasicQueue<T, detail::SequenceItems<T, false>>;

/// asyncio.LifoQueue: last in, first out.
template <class T>
using LifoQueue = BasicQueue<T, detail::SequenceItems<T, true>>;

/// asyncio.PriorityQueue: the least item by `Compare` first (std::less: the smallest, as Python's
/// heapq; std::greater: the largest). Items that compare equal come out in no particular order.
template <class T, class Compare = std::less<T>>
using PriorityQueue = BasicQueue<T, detail::HeapItems<T, Compare>>;

}  // namespace parlab::aio
