// parlab::aio's synchronisation primitives and queues: Event, Lock, Condition,
// BoundedSemaphore, Queue, LifoQueue, PriorityQueue; first-come-first-served wake order,
// cancellation while waiting (nothing taken, nothing lost), destruction with waiters, and a
// producer/consumer stress.
#include <parlab/aio.hpp>
#include <parlab/aio_sync.hpp>
#include <parlab/errors.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

namespace aio = parlab::aio;
using aio::Task;
using std::chrono::milliseconds;

bool is_aborted(const boost::system::system_error& e) {
  return e.code() == boost::asio::error::operation_aborted;
}

/// Runs `body` on a new loop, failing (TimeoutError) rather than hanging after 30 s.
template <class F>
void run_test(F body) {
  aio::run([&]() -> Task<void> { co_await aio::wait_for(body(), 30s); });
}

/// Sleeps until `*log` has `entries` entries (at most 10 s).
Task<void> until_logged(const std::vector<std::string>* log, std::size_t entries) {
  for (int i = 0; i < 1000 && log->size() < entries; ++i)
    co_await aio::sleep(10ms);
}

// Event

Task<void> wait_event(aio::Event* event, std::string name, std::vector<std::string>* log) {
  co_await event->wait();
  log->push_back(name);
}

Task<void> set_after(aio::Event* event, milliseconds delay, std::vector<std::string>* log) {
  co_await aio::sleep(delay);
  log->push_back("set");
  event->set();
}

TEST(AioEvent, SetWakesEveryWaiterAndLaterWaitsReturnAtOnce) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Event event;
    EXPECT_FALSE(event.is_set());
    co_await aio::gather(wait_event(&event, "a", &log), wait_event(&event, "b", &log),
                         wait_event(&event, "c", &log), set_after(&event, 20ms, &log));
    EXPECT_TRUE(event.is_set());
    co_await wait_event(&event, "late", &log);
    event.clear();
    EXPECT_FALSE(event.is_set());
    EXPECT_THROW(co_await aio::wait_for(event.wait(), 20ms), parlab::TimeoutError);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"set", "a", "b", "c", "late"}));
}

Task<void> give_up_on_event(aio::Event* event, std::vector<std::string>* log) {
  try {
    co_await aio::wait_for(event->wait(), 20ms);
    log->push_back("impatient woken");
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

TEST(AioEvent, ACancelledWaiterLeavesTheLine) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Event event;
    co_await aio::gather(give_up_on_event(&event, &log), wait_event(&event, "patient", &log),
                         set_after(&event, 60ms, &log));
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "set", "patient"}));
}

/// Awaits `wait` and records whether it ended with operation_aborted.
Task<void> expect_aborted(Task<void> wait, bool* aborted) {
  try {
    co_await std::move(wait);
  } catch (const boost::system::system_error& e) {
    *aborted = is_aborted(e);
  }
}

template <class T>
Task<void> destroy_after(std::unique_ptr<T>* primitive, milliseconds delay) {
  co_await aio::sleep(delay);
  primitive->reset();
}

TEST(AioEvent, DestroyingItResumesWaitersWithOperationAborted) {
  bool first = false;
  bool second = false;
  run_test([&]() -> Task<void> {
    auto event = std::make_unique<aio::Event>();
    co_await aio::gather(expect_aborted(event->wait(), &first), expect_aborted(event->wait(), &second),
                         destroy_after(&event, 10ms));
  });
  EXPECT_TRUE(first);
  EXPECT_TRUE(second);
}

// Lock

Task<void> lock_in_turn(aio::Lock* lock, int id, std::vector<int>* order, int* inside, int* most) {
  co_await aio::sleep(milliseconds(5 * id));
  auto held = co_await lock->hold();
  *most = std::max(*most, ++*inside);
  order->push_back(id);
  co_await aio::sleep(10ms);
  --*inside;
}

TEST(AioLock, ExcludesAndServesWaitersInArrivalOrder) {
  std::vector<int> order;
  int inside = 0;
  int most = 0;
  run_test([&]() -> Task<void> {
    aio::Lock lock;
    std::vector<Task<void>> tasks;
    for (int id = 0; id < 6; ++id)
      tasks.push_back(lock_in_turn(&lock, id, &order, &inside, &most));
    co_await aio::gather(std::move(tasks));
    EXPECT_FALSE(lock.locked());
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(most, 1);
}

TEST(AioLock, ReleaseWhenNotLockedThrowsLogicError) {
  run_test([&]() -> Task<void> {
    aio::Lock lock;
    EXPECT_THROW(lock.release(), std::logic_error);
    co_await lock.acquire();
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_THROW(lock.release(), std::logic_error);
    {
      auto held = co_await lock.hold();
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
  });
}

Task<void> give_up_on_lock(aio::Lock* lock, std::vector<std::string>* log) {
  try {
    co_await aio::wait_for(lock->acquire(), 20ms);
    log->push_back("impatient acquired");
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

Task<void> hold_lock_and_log(aio::Lock* lock, milliseconds start, std::string name,
                             std::vector<std::string>* log) {
  co_await aio::sleep(start);
  auto held = co_await lock->hold();
  log->push_back(name);
}

Task<void> release_lock_after_log(aio::Lock* lock, const std::vector<std::string>* log) {
  co_await until_logged(log, 1);
  lock->release();
}

TEST(AioLock, ACancelledWaiterTakesNothing) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Lock lock;
    co_await lock.acquire();
    co_await aio::gather(give_up_on_lock(&lock, &log), hold_lock_and_log(&lock, 5ms, "patient", &log),
                         release_lock_after_log(&lock, &log));
    EXPECT_FALSE(lock.locked()) << "the cancelled waiter must not keep the lock";
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "patient"}));
}

TEST(AioLock, DestroyingItResumesWaitersWithOperationAborted) {
  bool aborted = false;
  run_test([&]() -> Task<void> {
    auto lock = std::make_unique<aio::Lock>();
    co_await lock->acquire();
    co_await aio::gather(expect_aborted(lock->acquire(), &aborted), destroy_after(&lock, 10ms));
  });
  EXPECT_TRUE(aborted);
}

// Condition

/// Takes the condition's lock, waits for a notification, and logs whether it holds the lock then.
Task<void> wait_notified(aio::Condition* cond, int id, std::vector<std::string>* log) {
  co_await aio::sleep(milliseconds(5 * id));
  auto held = co_await cond->hold();
  co_await cond->wait();
  log->push_back(std::to_string(id) + (cond->locked() ? " locked" : " unlocked"));
}

/// Notifies `n` waiters, one notify() at a time, once `waiting` tasks wait.
Task<void> notify_one_by_one(aio::Condition* cond, int n, std::vector<std::string>* log) {
  co_await aio::sleep(50ms);
  for (int i = 0; i < n; ++i) {
    {
      auto held = co_await cond->hold();
      cond->notify();
    }
    co_await until_logged(log, static_cast<std::size_t>(i) + 1);
  }
}

TEST(AioCondition, NotifyWakesWaitersInArrivalOrderHoldingTheLock) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    co_await aio::gather(wait_notified(&cond, 0, &log), wait_notified(&cond, 1, &log),
                         wait_notified(&cond, 2, &log), notify_one_by_one(&cond, 3, &log));
    EXPECT_FALSE(cond.locked());
  });
  EXPECT_EQ(log, (std::vector<std::string>{"0 locked", "1 locked", "2 locked"}));
}

Task<void> notify_all_after(aio::Condition* cond, milliseconds delay) {
  co_await aio::sleep(delay);
  auto held = co_await cond->hold();
  cond->notify_all();
}

TEST(AioCondition, NotifyAllWakesEveryWaiterAndNotifyNMany) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    co_await aio::gather(wait_notified(&cond, 0, &log), wait_notified(&cond, 1, &log),
                         wait_notified(&cond, 2, &log), notify_all_after(&cond, 50ms));
    EXPECT_EQ(log.size(), 3U);
    log.clear();

    std::vector<Task<void>> waiters;
    for (int id = 0; id < 4; ++id)
      waiters.push_back(wait_notified(&cond, id, &log));
    auto notify_two = [](aio::Condition* c) -> Task<void> {
      co_await aio::sleep(50ms);
      auto held = co_await c->hold();
      c->notify(2);
    };
    auto tasks = aio::gather(aio::gather(std::move(waiters)), notify_two(&cond));
    EXPECT_THROW(co_await aio::wait_for(std::move(tasks), 200ms), parlab::TimeoutError);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"0 locked", "1 locked"})) << "notify(2) wakes two";
}

TEST(AioCondition, WaitAndNotifyWithoutTheLockThrowLogicError) {
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    EXPECT_THROW(cond.notify(), std::logic_error);
    EXPECT_THROW(cond.notify_all(), std::logic_error);
    EXPECT_THROW(co_await cond.wait(), std::logic_error);
    EXPECT_THROW(cond.release(), std::logic_error);
  });
}

Task<void> hold_lock_for(aio::Lock* lock, milliseconds start, milliseconds hold,
                         std::vector<std::string>* log) {
  co_await aio::sleep(start);
  auto held = co_await lock->hold();
  log->push_back("holder has the lock");
  co_await aio::sleep(hold);
  log->push_back("holder releases");
}

/// Waits on `cond` with a timeout; logs whether the lock is held when the timeout comes out.
Task<void> wait_with_timeout(aio::Condition* cond, milliseconds timeout, std::vector<std::string>* log) {
  co_await cond->acquire();
  try {
    co_await aio::wait_for(cond->wait(), timeout);
    log->push_back("notified");
  } catch (const parlab::TimeoutError&) {
    log->push_back(cond->locked() ? "timed out holding the lock" : "timed out without the lock");
  }
  cond->release();
}

TEST(AioCondition, ACancelledWaitReacquiresTheLockBeforeThrowing) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Lock lock;
    aio::Condition cond{lock};
    // The waiter times out at 30 ms while another task holds the lock until about 110 ms.
    co_await aio::gather(wait_with_timeout(&cond, 30ms, &log), hold_lock_for(&lock, 10ms, 100ms, &log));
    EXPECT_FALSE(lock.locked());
  });
  EXPECT_EQ(log, (std::vector<std::string>{"holder has the lock", "holder releases",
                                           "timed out holding the lock"}));
}

Task<void> notify_and_hold(aio::Condition* cond, milliseconds start, milliseconds hold,
                           std::vector<std::string>* log) {
  co_await aio::sleep(start);
  auto held = co_await cond->hold();
  cond->notify();
  log->push_back("notified, holding");
  co_await aio::sleep(hold);
  log->push_back("notifier releases");
}

TEST(AioCondition, ACancellationWhileReacquiringStillReacquires) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    // Notified at 10 ms, the waiter waits for the lock; the timeout (40 ms) comes meanwhile.
    co_await aio::gather(wait_with_timeout(&cond, 40ms, &log), notify_and_hold(&cond, 10ms, 100ms, &log));
    EXPECT_FALSE(cond.locked());
  });
  EXPECT_EQ(log, (std::vector<std::string>{"notified, holding", "notifier releases",
                                           "timed out holding the lock"}));
}

Task<void> notify_one_after(aio::Condition* cond, milliseconds delay) {
  co_await aio::sleep(delay);
  auto held = co_await cond->hold();
  cond->notify();
}

TEST(AioCondition, ACancelledWaiterTakesNoNotification) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    // The first waiter gives up at 20 ms; the one notify() at 50 ms goes to the second.
    co_await aio::gather(wait_with_timeout(&cond, 20ms, &log), wait_notified(&cond, 1, &log),
                         notify_one_after(&cond, 50ms));
    EXPECT_FALSE(cond.locked());
  });
  EXPECT_EQ(log, (std::vector<std::string>{"timed out holding the lock", "1 locked"}));
}

Task<void> produce_under(aio::Condition* cond, int* value, int until) {
  while (*value < until) {
    co_await aio::sleep(5ms);
    auto held = co_await cond->hold();
    ++*value;
    cond->notify_all();
  }
}

Task<int> wait_for_value(aio::Condition* cond, const int* value, int target) {
  auto held = co_await cond->hold();
  auto reached_target = [value, target] { return *value >= target; };
  bool reached = co_await cond->wait_for(reached_target);
  EXPECT_TRUE(reached);
  EXPECT_TRUE(cond->locked());
  co_return *value;
}

TEST(AioCondition, WaitForReturnsOncePredicateHolds) {
  run_test([&]() -> Task<void> {
    aio::Condition cond;
    int value = 0;
    auto both = co_await aio::gather(wait_for_value(&cond, &value, 5), produce_under(&cond, &value, 8));
    const int seen = std::get<0>(both);
    EXPECT_GE(seen, 5);
    EXPECT_LE(seen, 8);
    // Already true: returns at once.
    auto held = co_await cond.hold();
    auto all_produced = [&value] { return value == 8; };
    EXPECT_TRUE(co_await cond.wait_for(all_produced));
  });
}

Task<void> wait_on_condition(aio::Condition* cond, bool* aborted) {
  co_await cond->acquire();
  try {
    co_await cond->wait();
  } catch (const boost::system::system_error& e) {
    *aborted = is_aborted(e);
  }
}

Task<void> wait_on_condition_later(aio::Condition* cond, bool* aborted) {
  co_await aio::sleep(5ms);
  co_await wait_on_condition(cond, aborted);
}

Task<void> notify_then_destroy(std::unique_ptr<aio::Condition>* cond, milliseconds delay) {
  co_await aio::sleep(delay);
  co_await (*cond)->acquire();
  (*cond)->notify();  // the first waiter now waits for the lock, which this task keeps
  co_await aio::sleep(10ms);
  cond->reset();
}

TEST(AioCondition, DestroyingItResumesWaitersWithOperationAborted) {
  bool waiting_for_notify = false;
  bool waiting_for_lock = false;
  run_test([&]() -> Task<void> {
    auto cond = std::make_unique<aio::Condition>();
    co_await aio::gather(wait_on_condition(cond.get(), &waiting_for_lock),
                         wait_on_condition_later(cond.get(), &waiting_for_notify),
                         notify_then_destroy(&cond, 20ms));
  });
  EXPECT_TRUE(waiting_for_lock);
  EXPECT_TRUE(waiting_for_notify);
}

// BoundedSemaphore

TEST(AioBoundedSemaphore, ReleaseBeyondTheInitialValueThrowsLogicError) {
  run_test([&]() -> Task<void> {
    aio::BoundedSemaphore sem{2};
    EXPECT_THROW(sem.release(), std::logic_error);
    co_await sem.acquire();
    co_await sem.acquire();
    EXPECT_TRUE(sem.locked());
    EXPECT_EQ(sem.value(), 0U);
    sem.release();
    sem.release();
    EXPECT_EQ(sem.value(), 2U);
    EXPECT_THROW(sem.release(), std::logic_error);
    EXPECT_EQ(sem.value(), 2U);
    {
      auto permit = co_await sem.hold();
      EXPECT_EQ(sem.value(), 1U);
    }
    EXPECT_EQ(sem.value(), 2U);
  });
}

Task<void> give_up_on_bounded(aio::BoundedSemaphore* sem, std::vector<std::string>* log) {
  try {
    co_await aio::wait_for(sem->acquire(), 20ms);
    log->push_back("impatient acquired");
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

Task<void> hold_bounded_after(aio::BoundedSemaphore* sem, milliseconds start, std::vector<std::string>* log) {
  co_await aio::sleep(start);
  auto permit = co_await sem->hold();
  log->push_back("patient");
}

Task<void> release_bounded_after_log(aio::BoundedSemaphore* sem, const std::vector<std::string>* log) {
  co_await until_logged(log, 1);
  sem->release();
}

TEST(AioBoundedSemaphore, ACancelledWaiterTakesNoPermit) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::BoundedSemaphore sem{1};
    co_await sem.acquire();
    co_await aio::gather(give_up_on_bounded(&sem, &log), hold_bounded_after(&sem, 5ms, &log),
                         release_bounded_after_log(&sem, &log));
    EXPECT_EQ(sem.value(), 1U) << "a permit leaked or was lost";
    EXPECT_THROW(sem.release(), std::logic_error);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "patient"}));
}

Task<void> take_bounded(aio::BoundedSemaphore* sem, int id, std::vector<int>* order) {
  co_await aio::sleep(milliseconds(5 * id));
  auto permit = co_await sem->hold();
  order->push_back(id);
  co_await aio::sleep(20ms);
}

TEST(AioBoundedSemaphore, BoundsConcurrencyInArrivalOrder) {
  std::vector<int> order;
  run_test([&]() -> Task<void> {
    aio::BoundedSemaphore sem{2};
    std::vector<Task<void>> tasks;
    for (int id = 0; id < 6; ++id)
      tasks.push_back(take_bounded(&sem, id, &order));
    co_await aio::gather(std::move(tasks));
    EXPECT_EQ(sem.value(), 2U);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// Queue

TEST(AioQueue, NowaitOperationsAreFifoAndThrowWhenFullOrEmpty) {
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue{2};
    EXPECT_EQ(queue.maxsize(), 2U);
    EXPECT_TRUE(queue.empty());
    EXPECT_FALSE(queue.full());
    EXPECT_THROW(queue.get_nowait(), aio::QueueEmpty);
    queue.put_nowait(1);
    co_await queue.put(2);
    EXPECT_TRUE(queue.full());
    EXPECT_EQ(queue.qsize(), 2U);
    EXPECT_THROW(queue.put_nowait(3), aio::QueueFull);
    EXPECT_EQ(queue.get_nowait(), 1);
    EXPECT_EQ(co_await queue.get(), 2);
    EXPECT_TRUE(queue.empty());

    aio::Queue<std::unique_ptr<int>> unbounded;  // move-only items, no bound
    for (int i = 0; i < 1000; ++i)
      unbounded.put_nowait(std::make_unique<int>(i));
    EXPECT_FALSE(unbounded.full());
    EXPECT_EQ(unbounded.maxsize(), 0U);
    EXPECT_EQ(*unbounded.get_nowait(), 0);
    EXPECT_EQ(*(co_await unbounded.get()), 1);
  });
}

Task<void> put_all(aio::Queue<int>* queue, int from, int to, std::vector<std::string>* log) {
  for (int i = from; i < to; ++i) {
    co_await queue->put(i);
    log->push_back("put " + std::to_string(i));
  }
}

/// Gets `n` items, sleeping `pause` before each.
Task<void> get_slowly(aio::Queue<int>* queue, int n, milliseconds pause, std::vector<std::string>* log) {
  for (int i = 0; i < n; ++i) {
    co_await aio::sleep(pause);
    EXPECT_LE(queue->qsize(), queue->maxsize());
    int item = co_await queue->get();
    log->push_back("got " + std::to_string(item));
  }
}

TEST(AioQueue, PutWaitsWhileTheQueueIsFull) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue{2};
    co_await aio::gather(put_all(&queue, 0, 4, &log), get_slowly(&queue, 4, 10ms, &log));
  });
  EXPECT_EQ(log, (std::vector<std::string>{"put 0", "put 1", "got 0", "put 2", "got 1", "put 3", "got 2",
                                           "got 3"}));
}

Task<void> get_one(aio::Queue<int>* queue, int id, std::vector<std::string>* log) {
  co_await aio::sleep(milliseconds(5 * id));
  int item = co_await queue->get();
  log->push_back(std::to_string(id) + " got " + std::to_string(item));
}

Task<void> put_later(aio::Queue<int>* queue, milliseconds delay, std::vector<int> items) {
  co_await aio::sleep(delay);
  for (int item : items) {
    queue->put_nowait(item);
    EXPECT_EQ(queue->qsize(), 0U) << "the item goes straight to a waiting getter";
    EXPECT_THROW(queue->get_nowait(), aio::QueueEmpty) << "a late comer must not take a waiter's item";
  }
}

TEST(AioQueue, GettersAreServedInArrivalOrder) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue;
    std::vector<int> items{10, 20, 30};
    co_await aio::gather(get_one(&queue, 0, &log), get_one(&queue, 1, &log), get_one(&queue, 2, &log),
                         put_later(&queue, 50ms, std::move(items)));
  });
  EXPECT_EQ(log, (std::vector<std::string>{"0 got 10", "1 got 20", "2 got 30"}));
}

Task<void> get_with_timeout(aio::Queue<int>* queue, milliseconds timeout, std::vector<std::string>* log) {
  try {
    int item = co_await aio::wait_for(queue->get(), timeout);
    log->push_back("impatient got " + std::to_string(item));
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

TEST(AioQueue, ACancelledGetTakesNoItem) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue;
    std::vector<int> items{42};
    co_await aio::gather(get_with_timeout(&queue, 20ms, &log), get_one(&queue, 1, &log),
                         put_later(&queue, 50ms, std::move(items)));
    queue.put_nowait(7);
    EXPECT_EQ(queue.get_nowait(), 7) << "no getter is left in the line";
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "1 got 42"}));
}

Task<void> put_with_timeout(aio::Queue<int>* queue, int item, milliseconds timeout,
                            std::vector<std::string>* log) {
  try {
    co_await aio::wait_for(queue->put(item), timeout);
    log->push_back("impatient put " + std::to_string(item));
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

Task<void> put_after(aio::Queue<int>* queue, int item, milliseconds delay, std::vector<std::string>* log) {
  co_await aio::sleep(delay);
  co_await queue->put(item);
  log->push_back("put " + std::to_string(item));
}

TEST(AioQueue, ACancelledPutPutsNothing) {
  std::vector<std::string> log;
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue{1};
    queue.put_nowait(1);
    co_await aio::gather(put_with_timeout(&queue, 2, 20ms, &log), put_after(&queue, 3, 5ms, &log),
                         get_slowly(&queue, 2, 40ms, &log));  // the first get comes after the timeout
    EXPECT_TRUE(queue.empty());
    queue.task_done();
    queue.task_done();
    co_await aio::wait_for(queue.join(), 1s);  // 1 and 3 were put; 2 was not
    EXPECT_THROW(queue.task_done(), std::logic_error);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "got 1", "put 3", "got 3"}));
}

Task<void> work_through(aio::Queue<int>* queue, int n, std::vector<int>* done) {
  for (int i = 0; i < n; ++i) {
    int item = co_await queue->get();
    co_await aio::sleep(5ms);
    done->push_back(item);
    queue->task_done();
  }
}

Task<void> join_and_log(aio::Queue<int>* queue, const std::vector<int>* done,
                        std::vector<std::size_t>* seen) {
  co_await queue->join();
  seen->push_back(done->size());
}

TEST(AioQueue, JoinWaitsUntilEveryItemIsDone) {
  std::vector<int> done;
  std::vector<std::size_t> seen;
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue;
    co_await queue.join();  // nothing put: returns at once
    for (int i = 0; i < 5; ++i)
      queue.put_nowait(i);
    co_await aio::gather(join_and_log(&queue, &done, &seen), join_and_log(&queue, &done, &seen),
                         work_through(&queue, 5, &done));
    EXPECT_THROW(queue.task_done(), std::logic_error);
    queue.put_nowait(9);
    EXPECT_THROW(co_await aio::wait_for(queue.join(), 20ms), parlab::TimeoutError);
  });
  EXPECT_EQ(done, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(seen, (std::vector<std::size_t>{5, 5})) << "join returned before every item was done";
}

Task<void> expect_shut_down(Task<void> wait, std::vector<std::string>* log, std::string name) {
  try {
    co_await std::move(wait);
    log->push_back(name + " returned");
  } catch (const aio::QueueShutDown&) {
    log->push_back(name + " shut down");
  }
}

Task<void> get_into(aio::Queue<int>* queue, std::vector<int>* got) { got->push_back(co_await queue->get()); }

Task<void> shutdown_after(aio::Queue<int>* queue, milliseconds delay, bool immediate) {
  co_await aio::sleep(delay);
  queue->shutdown(immediate);
}

TEST(AioQueue, ShutdownWakesWaitersAndStopsPuts) {
  std::vector<std::string> log;
  std::vector<int> got;
  run_test([&]() -> Task<void> {
    aio::Queue<int> empty_queue;
    co_await aio::gather(expect_shut_down(get_into(&empty_queue, &got), &log, "getter"),
                         shutdown_after(&empty_queue, 10ms, false));
    EXPECT_THROW(empty_queue.put_nowait(1), aio::QueueShutDown);
    EXPECT_THROW(co_await empty_queue.put(1), aio::QueueShutDown);

    aio::Queue<int> full_queue{2};
    full_queue.put_nowait(1);
    full_queue.put_nowait(2);
    co_await aio::gather(expect_shut_down(full_queue.put(3), &log, "putter"),
                         shutdown_after(&full_queue, 10ms, false));
    // Not immediate: the items still there can be got, then get throws.
    got.push_back(co_await full_queue.get());
    got.push_back(full_queue.get_nowait());
    EXPECT_THROW(full_queue.get_nowait(), aio::QueueShutDown);
    EXPECT_THROW(co_await full_queue.get(), aio::QueueShutDown);
    full_queue.task_done();
    full_queue.task_done();
    co_await aio::wait_for(full_queue.join(), 1s);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"getter shut down", "putter shut down"}));
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST(AioQueue, ShutdownImmediateDropsItemsAndReleasesJoin) {
  run_test([&]() -> Task<void> {
    aio::Queue<int> queue;
    for (int i = 0; i < 3; ++i)
      queue.put_nowait(i);
    EXPECT_EQ(queue.get_nowait(), 0);  // taken, not yet done
    auto joined = aio::gather(queue.join(), shutdown_after(&queue, 10ms, true));
    EXPECT_THROW(co_await aio::wait_for(std::move(joined), 100ms), parlab::TimeoutError)
        << "the taken item is still not done";
    EXPECT_TRUE(queue.empty());
    EXPECT_THROW(queue.get_nowait(), aio::QueueShutDown);
    queue.task_done();
    co_await aio::wait_for(queue.join(), 1s);
  });
}

TEST(AioQueue, DestroyingItResumesWaitersWithOperationAborted) {
  bool getter = false;
  bool putter = false;
  bool joiner = false;
  run_test([&]() -> Task<void> {
    auto empty_queue = std::make_unique<aio::Queue<int>>();
    auto full_queue = std::make_unique<aio::Queue<int>>(1);
    full_queue->put_nowait(1);
    auto get = [](aio::Queue<int>* queue) -> Task<void> { co_await queue->get(); };
    co_await aio::gather(expect_aborted(get(empty_queue.get()), &getter),
                         expect_aborted(full_queue->put(2), &putter),
                         expect_aborted(full_queue->join(), &joiner), destroy_after(&empty_queue, 10ms),
                         destroy_after(&full_queue, 10ms));
  });
  EXPECT_TRUE(getter);
  EXPECT_TRUE(putter);
  EXPECT_TRUE(joiner);
}

// LifoQueue, PriorityQueue: the same queue with another order

template <class Q, class T>
Task<void> put_into(Q* queue, T item, std::vector<std::string>* log) {
  co_await queue->put(std::move(item));
  log->push_back("put");
}

TEST(AioLifoQueue, LastInFirstOutAlsoForAWaitingPutter) {
  std::vector<std::string> log;
  std::vector<int> got;
  run_test([&]() -> Task<void> {
    aio::LifoQueue<int> queue{2};
    queue.put_nowait(1);
    queue.put_nowait(2);
    EXPECT_THROW(queue.put_nowait(3), aio::QueueFull);
    auto get_all = [](aio::LifoQueue<int>* q, std::vector<int>* out) -> Task<void> {
      co_await aio::sleep(20ms);
      for (int i = 0; i < 3; ++i)
        out->push_back(co_await q->get());
    };
    co_await aio::gather(put_into(&queue, 3, &log), get_all(&queue, &got));
    EXPECT_THROW(queue.get_nowait(), aio::QueueEmpty);
  });
  // 2 is taken first; the waiting 3 fills its place and, being the last in, comes next.
  EXPECT_EQ(got, (std::vector<int>{2, 3, 1}));
  EXPECT_EQ(log, (std::vector<std::string>{"put"}));
}

TEST(AioPriorityQueue, LeastFirstByCompare) {
  run_test([&]() -> Task<void> {
    aio::PriorityQueue<std::pair<int, std::string>> jobs;
    jobs.put_nowait({3, "c"});
    jobs.put_nowait({1, "a"});
    std::pair<int, std::string> b{2, "b"};
    co_await jobs.put(std::move(b));
    EXPECT_EQ(jobs.qsize(), 3U);
    EXPECT_EQ(jobs.get_nowait().second, "a");
    EXPECT_EQ((co_await jobs.get()).second, "b");
    EXPECT_EQ(jobs.get_nowait().second, "c");

    aio::PriorityQueue<int, std::greater<int>> largest_first;
    const std::vector<int> numbers{4, 9, 1, 7};
    for (int i : numbers)
      largest_first.put_nowait(i);
    std::vector<int> order;
    while (!largest_first.empty())
      order.push_back(largest_first.get_nowait());
    EXPECT_EQ(order, (std::vector<int>{9, 7, 4, 1}));

    struct ByValue {
      bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const { return *a < *b; }
    };
    aio::PriorityQueue<std::unique_ptr<int>, ByValue> move_only;
    move_only.put_nowait(std::make_unique<int>(5));
    move_only.put_nowait(std::make_unique<int>(2));
    EXPECT_EQ(*move_only.get_nowait(), 2);
    EXPECT_EQ(*move_only.get_nowait(), 5);
  });
}

Task<void> get_priority(aio::PriorityQueue<int>* queue, milliseconds delay, std::vector<int>* got) {
  co_await aio::sleep(delay);
  got->push_back(co_await queue->get());
}

TEST(AioPriorityQueue, WaitingPuttersAndGettersKeepThePriorityOrder) {
  std::vector<std::string> log;
  std::vector<int> got;
  run_test([&]() -> Task<void> {
    aio::PriorityQueue<int> queue{2};
    queue.put_nowait(5);
    queue.put_nowait(1);
    // 0 waits for a place; once the 1 is taken it goes in, and it is the least.
    co_await aio::gather(put_into(&queue, 0, &log), get_priority(&queue, 20ms, &got));
    EXPECT_EQ(queue.get_nowait(), 0);
    EXPECT_EQ(queue.get_nowait(), 5);
    // A getter waiting on the empty queue receives the next item put.
    auto put_later_nowait = [](aio::PriorityQueue<int>* q) -> Task<void> {
      co_await aio::sleep(20ms);
      q->put_nowait(8);
    };
    co_await aio::gather(get_priority(&queue, 0ms, &got), put_later_nowait(&queue));
    EXPECT_TRUE(queue.empty());
  });
  EXPECT_EQ(got, (std::vector<int>{1, 8}));
  EXPECT_EQ(log, (std::vector<std::string>{"put"}));
}

// Two producers, three consumers, 10,000 items through a queue of 16, with 1 ms timeouts on both
// sides that cancel puts and gets while they wait (the consumers stop now and then, so puts time
// out; gets time out when the producers pause and at the end): every item is received exactly once.

Task<void> stress_produce(aio::Queue<int>* queue, int from, int to, int* cancelled) {
  for (int i = from; i < to;) {
    if (i % 1000 == 0) co_await aio::sleep(5ms);  // gets may time out meanwhile
    try {
      co_await aio::wait_for(queue->put(i), 1ms);
      ++i;
    } catch (const parlab::TimeoutError&) {
      ++*cancelled;  // not put: put it again
    }
  }
}

Task<void> stress_consume(aio::Queue<int>* queue, aio::Event* gate, std::vector<int>* received,
                          int* cancelled) {
  for (;;) {
    co_await gate->wait();
    try {
      int item = co_await aio::wait_for(queue->get(), 1ms);
      ++(*received)[static_cast<std::size_t>(item)];
      if (item % 7 == 0) co_await aio::sleep(0ms);
      queue->task_done();
    } catch (const parlab::TimeoutError&) {
      ++*cancelled;
    } catch (const aio::QueueShutDown&) {
      co_return;
    }
  }
}

/// Stops the consumers for 5 ms every 10 ms until the producers are done: the queue fills up and
/// puts time out meanwhile.
Task<void> stress_gate(aio::Event* gate, const bool* produced) {
  while (!*produced) {
    gate->clear();
    co_await aio::sleep(5ms);
    gate->set();
    co_await aio::sleep(10ms);
  }
}

Task<void> stress_finish(aio::Queue<int>* queue, Task<void> producers, bool* produced) {
  co_await std::move(producers);
  *produced = true;
  co_await queue->join();
  co_await aio::sleep(20ms);  // the consumers' gets time out on the empty queue meanwhile
  queue->shutdown();
}

TEST(AioQueue, TwoProducersThreeConsumersReceiveEveryItemOnce) {
  constexpr int items = 10'000;
  std::vector<int> received(items, 0);
  int cancelled_puts = 0;
  int cancelled_gets = 0;
  aio::run([&]() -> Task<void> {
    aio::Queue<int> queue{16};
    std::vector<Task<void>> producers;
    producers.push_back(stress_produce(&queue, 0, items / 2, &cancelled_puts));
    producers.push_back(stress_produce(&queue, items / 2, items, &cancelled_puts));
    aio::Event gate;
    bool produced = false;
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 3; ++i)
      tasks.push_back(stress_consume(&queue, &gate, &received, &cancelled_gets));
    tasks.push_back(stress_gate(&gate, &produced));
    tasks.push_back(stress_finish(&queue, aio::gather(std::move(producers)), &produced));
    co_await aio::wait_for(aio::gather(std::move(tasks)), 120s);
    EXPECT_TRUE(queue.empty());
  });
  EXPECT_EQ(std::count(received.begin(), received.end(), 1), items) << "an item was lost or received twice";
  EXPECT_GT(cancelled_gets, 0) << "the consumers' gets should have timed out on the empty queue";
  EXPECT_GT(cancelled_puts, 0) << "the consumers' pauses should have made puts time out";
  RecordProperty("cancelled_puts", cancelled_puts);
  RecordProperty("cancelled_gets", cancelled_gets);
}

}  // namespace
