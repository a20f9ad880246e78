// AsyncResult: get / get(timeout) / wait / wait_for / ready / successful and the callbacks.
#include <parlab/pool.hpp>

#include "support/gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

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

}  // namespace
