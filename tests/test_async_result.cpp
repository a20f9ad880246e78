// AsyncResult: get / get(timeout) / wait / wait_for / ready / successful and the callbacks.
#include <parlab/pool.hpp>

#include "support/callbacks.hpp"
#include "support/gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using parlab::test::Gate;

TEST(AsyncResult, GetReturnsTheValueRepeatedly) {
  parlab::Pool pool{2};
  auto result = pool.apply_async([](int x) { return x * 2; }, 21);
  EXPECT_EQ(result.get(), 42);
  EXPECT_EQ(result.get(), 42);
  EXPECT_TRUE(result.ready());
  EXPECT_TRUE(result.successful());
}

TEST(AsyncResult, RvalueGetMovesTheValueOut) {
  parlab::Pool pool{1};
  std::string s = pool.apply_async([] { return std::string(1000, 'x'); }).get();
  EXPECT_EQ(s.size(), 1000U);
}

TEST(AsyncResult, GetWithTimeoutThrowsThenTheResultIsStillObtainable) {
  parlab::Pool pool{1};
  Gate gate;
  auto result = pool.apply_async([&gate] {
    gate.wait();
    return 7;
  });
  EXPECT_THROW((void)result.get(10ms), parlab::TimeoutError);
  EXPECT_FALSE(result.ready());
  gate.open();
  EXPECT_EQ(result.get(10s), 7);
}

TEST(AsyncResult, WaitForReportsReadiness) {
  parlab::Pool pool{1};
  Gate gate;
  auto result = pool.apply_async([&gate] { gate.wait(); });
  EXPECT_FALSE(result.wait_for(5ms));
  gate.open();
  EXPECT_TRUE(result.wait_for(10s));
  result.wait();
  EXPECT_TRUE(result.ready());
}

TEST(AsyncResult, SuccessfulBeforeReadyThrowsLikePythonsValueError) {
  parlab::Pool pool{1};
  Gate gate;
  auto result = pool.apply_async([&gate] { gate.wait(); });
  EXPECT_THROW((void)result.successful(), std::logic_error);
  gate.open();
  result.wait();
  EXPECT_TRUE(result.successful());
}

TEST(AsyncResult, ApplyAsyncErrorKeepsItsOriginalType) {
  parlab::Pool pool{2};
  auto result = pool.apply_async([]() -> int { throw std::out_of_range("nope"); });
  result.wait();
  EXPECT_FALSE(result.successful());
  EXPECT_THROW((void)result.get(), std::out_of_range);
  try {
    (void)result.get();
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "nope");
  }
}

TEST(AsyncResult, CallbackRunsBeforeGetReturns) {
  parlab::Pool pool{2};
  std::atomic<int> seen{0};
  auto result = pool.apply_async(
      parlab::Callbacks<int>{.callback = [&](const int& v) { seen = v; }}, [](int x) { return x + 1; }, 41);
  EXPECT_EQ(result.get(), 42);
  EXPECT_EQ(seen.load(), 42);
}

TEST(AsyncResult, ErrorCallbackGetsTheException) {
  parlab::Pool pool{2};
  std::string message;
  std::atomic<bool> called_value{false};
  auto result = pool.apply_async(
      parlab::Callbacks<int>{
          .callback = [&](const int&) { called_value = true; },
          .error_callback = [&](const std::exception_ptr& e) { message = parlab::describe(e); }},
      []() -> int { throw std::runtime_error("boom"); });
  result.wait();
  EXPECT_EQ(message, "std::runtime_error: boom");
  EXPECT_FALSE(called_value.load());
}

TEST(AsyncResult, VoidCallback) {
  parlab::Pool pool{1};
  std::atomic<bool> called{false};
  auto result = pool.apply_async(parlab::Callbacks<void>{.callback = [&] { called = true; }}, [] {});
  result.get();
  EXPECT_TRUE(called.load());
}

TEST(AsyncResult, ThrowingCallbackDoesNotLoseTheResult) {
  parlab::Pool pool{1};
  auto result = pool.apply_async(
      parlab::Callbacks<int>{.callback = [](const int&) { throw std::runtime_error("callback bug"); }},
      [] { return 5; });
  EXPECT_EQ(result.get(), 5);
}

TEST(AsyncResult, EmptyHandleThrows) {
  parlab::AsyncResult<int> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_THROW((void)empty.ready(), std::logic_error);
  EXPECT_THROW((void)empty.get(), std::logic_error);
}

TEST(AsyncResult, CopiesShareOneResult) {
  parlab::Pool pool{1};
  auto a = pool.apply_async([] { return 3; });
  auto b = a;
  EXPECT_EQ(a.get(), 3);
  EXPECT_EQ(b.get(), 3);
}

TEST(AsyncResult, ManyWaitersAllWake) {
  parlab::Pool pool{1};
  Gate gate;
  auto result = pool.apply_async([&gate] {
    gate.wait();
    return 9;
  });
  std::atomic<int> sum{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i)
    waiters.emplace_back([&] { sum += result.get(); });
  std::this_thread::sleep_for(5ms);
  gate.open();
  for (auto& t : waiters)
    t.join();
  EXPECT_EQ(sum.load(), 36);
}

TEST(AsyncResultCallbacks, RunOneAtATimeOnOneThreadOfThePool) {
  parlab::Pool pool{4};
  parlab::test::expect_callbacks_one_at_a_time(
      pool, [](long x) { return x * x; }, 200);
}

TEST(AsyncResultCallbacks, RunInTheOrderTheResultsCompleted) {
  parlab::Pool pool{4};
  std::vector<int> order;  // written by the callbacks only, read after they all ran
  Gate hold_callbacks;
  std::atomic<bool> first_started{false};
  auto first = pool.apply_async(parlab::Callbacks<int>{.callback =
                                                           [&](const int& v) {
                                                             order.push_back(v);
                                                             first_started = true;
                                                             hold_callbacks.wait();
                                                           }},
                                [] { return 0; });
  while (!first_started.load())
    std::this_thread::yield();
  // While the callback thread is held, three results complete in the order 3, 1, 2.
  Gate gates[4];
  std::vector<parlab::AsyncResult<int>> later;
  for (int i = 1; i <= 3; ++i)
    later.push_back(pool.apply_async(
        parlab::Callbacks<int>{.callback = [&](const int& v) { order.push_back(v); }},
        [&gates](int k) {
          gates[k].wait();
          return k;
        },
        i));
  for (int k : {3, 1, 2}) {
    gates[k].open();
    std::this_thread::sleep_for(100ms);  // its completion is queued before the next task ends
  }
  hold_callbacks.open();
  first.wait();
  for (auto& r : later)
    r.wait();
  EXPECT_EQ(order, (std::vector<int>{0, 3, 1, 2}));
}

TEST(AsyncResultCallbacks, AThrowingCallbackIsReportedAndTheNextOnesStillRun) {
  parlab::Pool pool{2};
  testing::internal::CaptureStderr();
  auto bad = pool.apply_async(
      parlab::Callbacks<int>{.callback = [](const int&) { throw std::runtime_error("callback bug"); }},
      [] { return 5; });
  EXPECT_EQ(bad.get(), 5);
  std::atomic<int> later{0};
  auto good = pool.apply_async(parlab::Callbacks<int>{.callback = [&](const int& v) { later = v; }},
                               [] { return 6; });
  EXPECT_EQ(good.get(), 6);
  EXPECT_EQ(later.load(), 6);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("a result callback threw (ignored): std::runtime_error: callback bug"),
            std::string::npos)
      << err;
}

TEST(AsyncResultCallbacks, ACallbackWaitingForAResultWhoseCallbackComesLaterIsALogicError) {
  parlab::Pool pool{2};
  Gate second_may_finish;
  auto second = std::make_shared<parlab::AsyncResult<int>>();
  std::string error;
  *second = pool.apply_async(parlab::Callbacks<int>{.callback = [](const int&) {}}, [&second_may_finish] {
    second_may_finish.wait();
    return 2;
  });
  auto first = pool.apply_async(parlab::Callbacks<int>{.callback =
                                                           [&](const int&) {
                                                             try {
                                                               (void)second->get();  // would wait for ever
                                                             } catch (const std::logic_error& e) {
                                                               error = e.what();
                                                             }
                                                           }},
                                [] { return 1; });
  first.wait();
  EXPECT_NE(error.find("a result callback waits for a result whose own callback runs after it"),
            std::string::npos)
      << error;
  second_may_finish.open();
  EXPECT_EQ(second->get(), 2);
}

TEST(AsyncResultCallbacks, JoinWaitsForEveryCallback) {
  std::atomic<int> ran{0};
  {
    parlab::Pool pool{2};
    for (int i = 0; i < 5; ++i)
      (void)pool.apply_async(parlab::Callbacks<int>{.callback =
                                                        [&](const int&) {
                                                          std::this_thread::sleep_for(10ms);
                                                          ++ran;
                                                        }},
                             [] { return 1; });
    pool.close();
    pool.join();
    EXPECT_EQ(ran.load(), 5);
  }
}

TEST(AsyncResultCallbacks, JoinFromACallbackIsALogicError) {
  parlab::Pool pool{1};
  std::string error;
  auto r = pool.apply_async(parlab::Callbacks<int>{.callback =
                                                       [&](const int&) {
                                                         try {
                                                           pool.join();
                                                         } catch (const std::logic_error& e) {
                                                           error = e.what();
                                                         }
                                                       }},
                            [] { return 1; });
  r.wait();
  EXPECT_NE(error.find("join() called from a result callback"), std::string::npos) << error;
}

TEST(AsyncResultCallbacks, TerminateRunsTheErrorCallbacksOfDroppedWork) {
  std::atomic<int> errors{0};
  {
    parlab::Pool pool{1};
    Gate release;
    auto busy = pool.apply_async([&release] { release.wait(); });
    std::vector<parlab::AsyncResult<int>> dropped;
    for (int i = 0; i < 3; ++i)
      dropped.push_back(pool.apply_async(
          parlab::Callbacks<int>{.error_callback = [&](const std::exception_ptr&) { ++errors; }},
          [] { return 1; }));
    std::thread opener{[&release] {
      std::this_thread::sleep_for(50ms);
      release.open();
    }};
    pool.terminate();
    opener.join();
    pool.join();
    for (auto& r : dropped)
      EXPECT_THROW((void)r.get(), parlab::PoolTerminated);
  }
  EXPECT_EQ(errors.load(), 3);
}

}  // namespace
