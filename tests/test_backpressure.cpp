// Backpressure: max_pending and submit_timeout on Pool and ProcessPool.
#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"
#include "support/gates.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using parlab::AsyncResult;
using parlab::test::Gates;

int square(int x) { return x * x; }

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
  return ms;
}

TEST(Backpressure, AProducerNeverHasMoreThanMaxPendingUnfinished) {
  parlab::Pool pool{1, {.max_pending = 4}};
  std::atomic<int> submitted{0};
  std::atomic<int> finished{0};
  std::atomic<int> most_unfinished{0};
  std::vector<AsyncResult<int>> results;
  results.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    results.push_back(pool.apply_async([&, i] {
      // submitted lags the real submissions and finished leads the released slots, so this
      // never overstates how many calls are unfinished.
      const int unfinished = submitted.load() - finished.load();
      int most = most_unfinished.load();
      while (unfinished > most && !most_unfinished.compare_exchange_weak(most, unfinished)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds{50});  // slower than the producer
      ++finished;
      return i;
    }));
    ++submitted;
  }
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(results[static_cast<std::size_t>(i)].get(), i);
  EXPECT_LE(most_unfinished.load(), 4);
  EXPECT_GE(most_unfinished.load(), 2);  // the producer did run ahead of the worker
}

TEST(Backpressure, SubmitTimeoutThrowsTimeoutErrorWhileThePoolIsBlocked) {
  parlab::Pool pool{1, {.max_pending = 2, .submit_timeout = 50ms}};
  Gates gates{1};
  auto first = pool.apply_async([gate = gates.waiter(0)] {
    gate();
    return 1;
  });
  auto second = pool.apply_async(square, 2);
  try {
    (void)pool.apply_async(square, 3);
    FAIL() << "no TimeoutError";
  } catch (const parlab::TimeoutError& e) {
    EXPECT_STREQ(e.what(),
                 "parlab: submission timed out after 50 ms: max_pending (2) calls still unfinished");
  }
  EXPECT_THROW((void)pool.apply(square, 3), parlab::TimeoutError);  // a blocking call counts too
  gates.open(0);
  EXPECT_EQ(first.get(10s), 1);
  EXPECT_EQ(second.get(10s), 4);
  // Both slots are free again.
  auto third = pool.apply_async(square, 3);
  auto fourth = pool.apply_async(square, 4);
  EXPECT_EQ(third.get(10s) + fourth.get(10s), 25);
}

TEST(Backpressure, AMapCountsOnceWhateverItsSize) {
  parlab::Pool pool{1, {.max_pending = 2, .submit_timeout = 50ms}};
  Gates gates{1};
  auto map = pool.map_async(
      [gate = gates.waiter(0)](int x) {
        gate();
        return x;
      },
      std::vector<int>(100, 1));
  auto one = pool.apply_async(square, 5);
  EXPECT_THROW((void)pool.map_async(square, std::vector{1, 2}), parlab::TimeoutError);
  gates.open(0);
  EXPECT_EQ(map.get(10s).size(), 100U);
  EXPECT_EQ(one.get(10s), 25);
}

TEST(Backpressure, AFailedCallFreesItsSlot) {
  parlab::Pool pool{1, {.max_pending = 1, .submit_timeout = 10s}};
  auto failed = pool.apply_async([]() -> int { throw std::runtime_error("no"); });
  EXPECT_THROW((void)failed.get(10s), std::runtime_error);
  EXPECT_EQ(pool.apply_async(square, 6).get(10s), 36);
}

TEST(Backpressure, ACancelledCallFreesItsSlotAtOnce) {
  parlab::Pool pool{1, {.max_pending = 2, .submit_timeout = 50ms}};
  Gates gates{1};
  auto blocker = pool.apply_async([gate = gates.waiter(0)] {
    gate();
    return 1;
  });
  auto queued = pool.apply_async(square, 2);
  EXPECT_THROW((void)pool.apply_async(square, 3), parlab::TimeoutError);  // both slots taken
  ASSERT_TRUE(queued.cancel());  // never started: its slot is free while the worker is still blocked
  auto next = pool.apply_async(square, 3);
  gates.open(0);
  EXPECT_EQ(blocker.get(10s), 1);
  EXPECT_EQ(next.get(10s), 9);
  EXPECT_THROW((void)queued.get(), parlab::CancelledError);
}

TEST(Backpressure, TerminateWakesABlockedProducerWithPoolNotRunning) {
  parlab::Pool pool{1, {.max_pending = 1}};
  Gates gates{1};
  auto running = pool.apply_async([gate = gates.waiter(0)] {
    gate();
    return 1;
  });
  auto producer = std::async(std::launch::async, [&pool] { return pool.apply_async(square, 2); });
  EXPECT_EQ(producer.wait_for(100ms), std::future_status::timeout);  // blocked: the slot is taken
  pool.terminate();
  ASSERT_EQ(producer.wait_for(10s), std::future_status::ready);
  EXPECT_THROW((void)producer.get(), parlab::PoolNotRunning);
  gates.open(0);
  EXPECT_EQ(running.get(10s), 1);  // a Pool's running task finishes
  pool.join();
}

TEST(Backpressure, CloseWakesABlockedProducerWithPoolNotRunning) {
  parlab::Pool pool{1, {.max_pending = 1}};
  Gates gates{1};
  auto running = pool.apply_async([gate = gates.waiter(0)] {
    gate();
    return 1;
  });
  auto producer = std::async(std::launch::async, [&pool] { return pool.apply_async(square, 2); });
  EXPECT_EQ(producer.wait_for(100ms), std::future_status::timeout);
  pool.close();
  ASSERT_EQ(producer.wait_for(10s), std::future_status::ready);
  EXPECT_THROW((void)producer.get(), parlab::PoolNotRunning);
  gates.open(0);
  EXPECT_EQ(running.get(10s), 1);
}

TEST(Backpressure, ANestedSubmissionFromAFullPoolsOwnTaskDoesNotBlock) {
  parlab::Pool pool{1, {.max_pending = 1}};
  auto outer = pool.apply_async([&pool] {
    // The outer call holds the only slot; the nested ones go in anyway.
    auto inner = pool.apply_async(square, 3);
    return inner.get() + pool.apply(square, 4);
  });
  EXPECT_EQ(outer.get(30s), 25);
}

TEST(Backpressure, ACallbackSubmittingToAFullPoolDoesNotBlock) {
  parlab::Pool pool{1, {.max_pending = 1}};
  AsyncResult<int> inner;
  // The result holds its slot until its callback ran; the callback's submission goes in anyway.
  auto outer = pool.apply_async(
      parlab::Callbacks<int>{
          .callback = [&pool, &inner](const int& x) { inner = pool.apply_async(square, x); }},
      square, 2);
  ASSERT_TRUE(outer.wait_for(30s));
  EXPECT_EQ(inner.get(30s), 16);
}

TEST(Backpressure, ANegativeSubmitTimeoutIsRefused) {
  EXPECT_THROW(parlab::Pool(1, {.max_pending = 1, .submit_timeout = std::chrono::milliseconds{-1}}),
               std::invalid_argument);
}

TEST(Backpressure, OnAProcessPoolTooTimeoutThenTerminate) {
  parlab::ProcessPool pool{1, {.max_pending = 1, .submit_timeout = 100ms}};
  auto sleeping = pool.apply_async(sleep_ms, 60'000);
  EXPECT_THROW((void)pool.apply_async(square, 2), parlab::TimeoutError);
  pool.terminate();  // kills the sleeping worker: its result fails, its slot is free
  EXPECT_THROW((void)sleeping.get(10s), parlab::PoolTerminated);
  EXPECT_THROW((void)pool.apply_async(square, 2), parlab::PoolNotRunning);
  pool.join();
}

TEST(Backpressure, OnAProcessPoolAProducerStaysWithinTheLimit) {
  parlab::ProcessPool pool{2, {.max_pending = 3}};
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < 50; ++i)
    results.push_back(pool.apply_async(square, i));
  long sum = 0;
  for (auto& r : results)
    sum += r.get(30s);
  EXPECT_EQ(sum, 40425L);  // sum of i*i for i < 50
}

}  // namespace
