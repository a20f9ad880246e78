// aio with the pools: wrap_future, run_in_executor and anext on Pool and ProcessPool (MpiPool:
// tests/mpi/test_aio_mpi_pool.cpp), and the bridge's behaviour when the loop ends first.
#include "parlab/aio_pool.hpp"
#include "parlab/process_pool.hpp"
#include "support/files.hpp"
#include "support/gate.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

namespace aio = parlab::aio;
using namespace std::chrono_literals;
using aio::Task;
using parlab::AsyncResult;
using parlab::CancelledError;
using parlab::Pool;
using parlab::ProcessPool;
using parlab::TaskError;
using parlab::test::Gate;
using parlab::test::TempDir;
using Clock = std::chrono::steady_clock;

int square(int x) { return x * x; }
int throw_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not allowed");
  return x;
}
long worker_pid(int /*unused*/) { return static_cast<long>(::getpid()); }
/// Marks that it runs (the file `running` in `dir`), then sleeps `ms`.
int mark_and_sleep(std::string dir, int ms) {
  std::ofstream{std::filesystem::path(dir) / "running"} << ms;
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
  return ms;
}
int slow_square(int x) {
  std::this_thread::sleep_for(2ms);
  return x * x;
}

struct Oops : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Ticks `n` times on the loop (a short sleep each), then opens `gate`; returns the ticks.
Task<int> tick_then_open(int n, Gate* gate) {
  int ticks = 0;
  for (; ticks < n; ++ticks)
    co_await aio::sleep(2ms);
  gate->open();
  co_return ticks;
}

/// Awaits `result` and records the thread it resumed on.
Task<int> await_and_record(AsyncResult<int> result, std::thread::id* resumed_on) {
  const int value = co_await aio::wrap_future(std::move(result));
  *resumed_on = std::this_thread::get_id();
  co_return value;
}

TEST(WrapFuture, TheLoopRunsOtherTasksWhileThePoolWorks) {
  Pool pool{2};
  Gate gate;
  // The pool task waits until the loop has ticked 5 times: a blocked loop thread would never tick.
  auto result = pool.apply_async([&gate] {
    gate.wait();
    return 42;
  });
  std::thread::id resumed_on;
  auto [value, ticks] =
      aio::run(aio::gather(await_and_record(result, &resumed_on), tick_then_open(5, &gate)));
  EXPECT_EQ(value, 42);
  EXPECT_EQ(ticks, 5);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());  // aio::run's loop runs on this thread
}

TEST(WrapFuture, ValueAndExceptionKeepTheirTypesOnTheLoopThread) {
  Pool pool{2};
  auto ok = pool.apply_async(square, 7);
  auto text = pool.apply_async([] { return std::string(1000, 'x'); });
  auto nothing = pool.apply_async([] {});
  auto custom = pool.apply_async([]() -> int { throw Oops("custom failure"); });
  auto standard = pool.apply_async(throw_on_three, 3);
  const auto loop_thread = std::this_thread::get_id();
  aio::run([&]() -> Task<void> {
    EXPECT_EQ(co_await aio::wrap_future(ok), 49);
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    EXPECT_EQ((co_await aio::wrap_future(text)).size(), 1000U);
    co_await aio::wrap_future(nothing);
    try {
      (void)co_await aio::wrap_future(custom);
      ADD_FAILURE() << "no exception";
    } catch (const Oops& e) {
      EXPECT_STREQ(e.what(), "custom failure");
      EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    }
    try {
      (void)co_await aio::wrap_future(standard);
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "three is not allowed");
    }
  });
  EXPECT_EQ(ok.get(), 49);  // wrap_future copied the value: the result still has it
}

TEST(WrapFuture, AResultReadyBeforeTheAwaitGivesItsValue) {
  Pool pool{1};
  auto result = pool.apply_async(square, 6);
  result.wait();
  EXPECT_EQ(aio::run(aio::wrap_future(result)), 36);
  EXPECT_THROW((void)aio::wrap_future(AsyncResult<int>{}), std::invalid_argument);
}

TEST(WrapFuture, AThousandConcurrentAwaits) {
  Pool pool{4};
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 1000; ++i)
    tasks.push_back(aio::wrap_future(pool.apply_async(slow_square, i % 50)));
  auto values = aio::run(aio::gather(std::move(tasks)));
  ASSERT_EQ(values.size(), 1000U);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(values[static_cast<std::size_t>(i)], (i % 50) * (i % 50)) << i;
}

TEST(WrapFuture, ACancelledAwaitResumesAtOnceAndCancelsThePoolTask) {
  Pool pool{1};
  Gate gate;
  std::atomic<bool> finished{false};
  // Not stoppable: the task runs on after the cancel; the await must not wait for it.
  auto result = pool.apply_async([&gate, &finished] {
    gate.wait();
    finished = true;
    return 1;
  });
  aio::run([&]() -> Task<void> {
    try {
      (void)co_await aio::wait_for(aio::wrap_future(result), 50ms);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const parlab::TimeoutError&) {
    }
  });
  EXPECT_FALSE(finished);  // the pool task still runs: the await did not wait for it
  EXPECT_TRUE(result.cancelled());
  gate.open();
  EXPECT_THROW(result.get(), CancelledError);
}

TEST(WrapFuture, CancellingTheAwaitStopsAStopTokenTask) {
  Pool pool{1};
  std::atomic<bool> stopped{false};
  auto result = pool.apply_async([&stopped](std::stop_token stop) {
    while (!stop.stop_requested())
      std::this_thread::sleep_for(1ms);
    stopped = true;
    return 0;
  });
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    try {
      (void)co_await aio::wait_for(aio::wrap_future(result), 50ms);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const parlab::TimeoutError&) {
    }
  });
  EXPECT_THROW(result.get(), CancelledError);  // ready once the task has stopped
  EXPECT_TRUE(stopped);
  EXPECT_LT(Clock::now() - start, 30s);  // it would loop for ever unstopped
}

Task<int> fail_soon() {
  co_await aio::sleep(10ms);
  throw Oops("gather fails");
}

TEST(WrapFuture, AFailingGatherCancelsThePoolTask) {
  Pool pool{1};
  auto result = pool.apply_async([](std::stop_token stop) {
    while (!stop.stop_requested())
      std::this_thread::sleep_for(1ms);
    return 0;
  });
  EXPECT_THROW((void)aio::run(aio::gather(aio::wrap_future(result), fail_soon())), Oops);
  EXPECT_TRUE(result.cancelled());
  EXPECT_THROW(result.get(), CancelledError);
}

TEST(RunInExecutor, PoolCallsWithArgumentsAndMoveOnlyResults) {
  Pool pool{2};
  aio::run([&]() -> Task<void> {
    EXPECT_EQ(co_await aio::run_in_executor(
                  pool, [](int a, int b) { return a + b; }, 2, 3),
              5);
    std::unique_ptr<int> boxed = co_await aio::run_in_executor(
        pool, [](int x) { return std::make_unique<int>(x); }, 4);
    EXPECT_EQ(*boxed, 4);
    const std::string joined = co_await aio::run_in_executor(
        pool, [](std::string a, std::string b) { return a + b; }, std::string("as"), std::string("ync"));
    EXPECT_EQ(joined, "async");
    try {
      (void)co_await aio::run_in_executor(pool, throw_on_three, 3);
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument&) {
    }
  });
}

TEST(RunInExecutor, ProcessPoolValuesAndErrors) {
  ProcessPool pool{2};
  aio::run([&]() -> Task<void> {
    EXPECT_EQ(co_await aio::run_in_executor(pool, square, 9), 81);
    EXPECT_EQ(co_await aio::run_in_executor(
                  pool, [](int x) { return x + 1; }, 1),
              2);  // captureless lambda
    EXPECT_EQ(co_await aio::wrap_future(pool.apply_async(square, 5)), 25);
    std::vector<Task<int>> many;
    for (int i = 0; i < 20; ++i)
      many.push_back(aio::run_in_executor(pool, square, i));
    const auto squares = co_await aio::gather(std::move(many));
    EXPECT_EQ(squares[19], 361);
    try {
      (void)co_await aio::run_in_executor(pool, throw_on_three, 3);
      ADD_FAILURE() << "no exception";
    } catch (const parlab::RemoteError& e) {  // as pool.apply(throw_on_three, 3) throws
      EXPECT_NE(std::string(e.what()).find("three is not allowed"), std::string::npos) << e.what();
    }
  });
}

/// Waits on the loop (polling, not blocking) until `file` exists.
Task<void> until_exists(std::filesystem::path file) {
  while (!std::filesystem::exists(file))
    co_await aio::sleep(5ms);
}

TEST(RunInExecutor, ProcessPoolCancelKillsTheRunningWorkerAndThePoolGoesOn) {
  TempDir dir;
  ProcessPool pool{1};
  const long old_pid = pool.pids().at(0);
  auto result = pool.apply_async(mark_and_sleep, dir.path().string(), 60'000);
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    co_await until_exists(dir.path() / "running");  // the task runs in the worker
    try {
      (void)co_await aio::wait_for(aio::wrap_future(result), 100ms);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const parlab::TimeoutError&) {
    }
    // The pool goes on, with a new worker, awaited from the same loop.
    EXPECT_NE(co_await aio::run_in_executor(pool, worker_pid, 0), old_pid);
  });
  EXPECT_THROW(result.get(), CancelledError);
  EXPECT_LT(Clock::now() - start, 30s);  // not the task's 60 s
  EXPECT_NE(pool.pids().at(0), old_pid);
  EXPECT_EQ(pool.apply(square, 7), 49);
}

TEST(Anext, ImapUnorderedConsumedFromTheLoop) {
  Pool pool{3};
  Gate gate;
  std::vector<int> items(40);
  std::iota(items.begin(), items.end(), 0);
  // Every item waits for the gate, which the loop opens after ticking: anext must not block it.
  auto results = pool.imap_unordered(
      [&gate](int x) {
        gate.wait();
        return x * x;
      },
      items);
  std::vector<int> got;
  aio::run([&]() -> Task<void> {
    auto consume = [](parlab::ImapResult<int>* imap, std::vector<int>* out) -> Task<int> {
      while (auto value = co_await aio::anext(*imap))
        out->push_back(*value);
      co_return 0;
    };
    auto both = aio::gather(consume(&results, &got), tick_then_open(5, &gate));
    co_await std::move(both);
  });
  std::sort(got.begin(), got.end());
  std::vector<int> expected;
  for (int x : items)
    expected.push_back(x * x);
  EXPECT_EQ(got, expected);
}

TEST(Anext, ImapInInputOrderWithItsErrors) {
  Pool pool{3};
  auto results = pool.imap(throw_on_three, std::vector<int>{0, 1, 2, 3, 4, 5});
  aio::run([&]() -> Task<void> {
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(co_await aio::anext(results), i);
    try {
      (void)co_await aio::anext(results);
      ADD_FAILURE() << "no TaskError";
    } catch (const TaskError& e) {
      EXPECT_EQ(e.index(), 3U);
    }
    EXPECT_EQ(co_await aio::anext(results), 4);
    EXPECT_EQ(co_await aio::anext(results), 5);
    EXPECT_EQ(co_await aio::anext(results), std::nullopt);
  });
}

TEST(Anext, ACancelledAnextLeavesTheImapRunning) {
  Pool pool{2};
  Gate gate;
  auto results = pool.imap_unordered(
      [&gate](int x) {
        gate.wait();
        return x;
      },
      std::vector<int>{1, 2, 3});
  aio::run([&]() -> Task<void> {
    try {
      (void)co_await aio::wait_for(aio::anext(results), 30ms);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const parlab::TimeoutError&) {
    }
    gate.open();
    int sum = 0;
    while (auto value = co_await aio::anext(results))
      sum += *value;
    EXPECT_EQ(sum, 6);
  });
}

TEST(Anext, ProcessPoolImapUnordered) {
  ProcessPool pool{2};
  auto results = pool.imap_unordered(slow_square, std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  const int sum = aio::run([&]() -> Task<int> {
    int total = 0;
    while (auto value = co_await aio::anext(results))
      total += *value;
    co_return total;
  });
  EXPECT_EQ(sum, 204);
}

/// Awaits `result` for ever: the loop ends first.
Task<void> await_past_the_end(AsyncResult<int> result, bool* resumed) {
  (void)co_await aio::wrap_future(std::move(result));
  *resumed = true;
}

TEST(PoolBridge, TheLoopEndingWhileAResultIsPendingCancelsItAndIsSafe) {
  Pool pool{1};
  Gate gate;
  auto result = pool.apply_async([&gate] {
    gate.wait();
    return 5;
  });
  bool resumed = false;
  aio::run([&]() -> Task<void> {
    boost::asio::co_spawn(co_await aio::this_loop(), await_past_the_end(result, &resumed),
                          boost::asio::detached);
    co_await aio::sleep(20ms);
  });  // main is done: the waiting task is destroyed, the pool task cancelled (as asyncio.run does)
  EXPECT_FALSE(resumed);
  EXPECT_TRUE(result.cancelled());
  gate.open();  // the pool task completes after the loop is gone
  EXPECT_THROW(result.get(), CancelledError);
}

/// Parks until the notification stored in `*late` is made (it never is while the loop runs).
Task<void> park_for_late(std::function<void()>* late) {
  auto wait = aio::detail::wait_notified([late](std::function<void()> notify) {
    *late = std::move(notify);
    return aio::detail::PoolBridge::Stop{};
  });
  co_await std::move(wait);
}

TEST(PoolBridge, ANotificationAfterTheLoopIsGoneIsDropped) {
  std::function<void()> late;
  aio::run([&]() -> Task<void> {
    boost::asio::co_spawn(co_await aio::this_loop(), park_for_late(&late), boost::asio::detached);
    co_await aio::sleep(5ms);
  });
  ASSERT_TRUE(late);
  std::thread([&late] { late(); }).join();  // the loop's io_context is destroyed: nothing is posted
  late = nullptr;
}

TEST(PoolBridge, LoopsEndingAsResultsCompleteAreSafe) {
  Pool pool{2};
  for (int round = 0; round < 30; ++round) {
    std::vector<AsyncResult<int>> results;
    for (int i = 0; i < 20; ++i)
      results.push_back(pool.apply_async(
          [](int us) {
            std::this_thread::sleep_for(std::chrono::microseconds{us});
            return us;
          },
          i * 100));
    aio::run([&]() -> Task<void> {
      auto loop = co_await aio::this_loop();
      for (auto& result : results)
        boost::asio::co_spawn(loop, aio::wrap_future(result), boost::asio::detached);
      co_await aio::sleep(1ms);
    });
    for (auto& result : results)
      result.wait();
  }
}

}  // namespace
