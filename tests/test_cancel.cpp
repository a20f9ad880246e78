// AsyncResult::cancel() and fail-fast maps on Pool and ProcessPool (MpiPool: tests/mpi).
#include "parlab/futures.hpp"
#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"
#include "support/files.hpp"
#include "support/gate.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using parlab::CancelledError;
using parlab::MapOptions;
using parlab::Pool;
using parlab::ProcessPool;
using parlab::TaskError;
using parlab::test::Gate;
using parlab::test::TempDir;
using Clock = std::chrono::steady_clock;

/// Waits until `done()` (polling), failing the test after 10 s.
template <class Pred>
void wait_until(Pred done) {
  const auto deadline = Clock::now() + 10s;
  while (!done()) {
    ASSERT_LT(Clock::now(), deadline) << "timed out waiting for the test's condition";
    std::this_thread::sleep_for(1ms);
  }
}

/// Whether `error` is a CancelledError.
bool is_cancelled(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// ---- Pool ----

/// Occupies the only worker of `pool` until `gate` opens; returns once that task runs.
parlab::AsyncResult<void> occupy_the_worker(Pool& pool, Gate& gate) {
  auto busy = std::make_shared<std::atomic<bool>>(false);
  auto blocker = pool.apply_async([busy, &gate] {
    *busy = true;
    gate.wait();
  });
  wait_until([&] { return busy->load(); });
  return blocker;
}

TEST(PoolCancel, QueuedTaskIsDroppedAndNeverRuns) {
  Pool pool{1};
  Gate gate;
  auto blocker = occupy_the_worker(pool, gate);
  std::atomic<bool> ran{false};
  auto queued = pool.apply_async([&] {
    ran = true;
    return 1;
  });
  EXPECT_FALSE(queued.cancelled());
  EXPECT_TRUE(queued.cancel());
  EXPECT_TRUE(queued.cancelled());
  EXPECT_TRUE(queued.cancel());  // again: still cancelled
  // Nothing of it had started: it is ready now, while the only worker is still blocked.
  EXPECT_TRUE(queued.ready());
  EXPECT_THROW(queued.get(), CancelledError);
  EXPECT_FALSE(queued.successful());
  gate.open();
  blocker.get();
  pool.close();
  pool.join();
  EXPECT_FALSE(ran.load());
}

TEST(PoolCancel, RunningTaskWithStopTokenStopsEarly) {
  Pool pool{2};
  std::atomic<bool> started{false}, observed{false};
  auto result = pool.apply_async(
      [&](std::stop_token stop, int n) {
        started = true;
        while (!stop.stop_requested())
          std::this_thread::sleep_for(1ms);
        observed = true;
        return n;
      },
      5);
  wait_until([&] { return started.load(); });
  EXPECT_FALSE(result.ready());
  EXPECT_TRUE(result.cancel());
  ASSERT_TRUE(result.wait_for(10s)) << "the task did not stop";
  EXPECT_TRUE(observed.load());
  EXPECT_TRUE(result.cancelled());
  EXPECT_THROW(result.get(), CancelledError);
}

TEST(PoolCancel, RunningTaskWithoutTokenFinishesButResultIsCancelled) {
  Pool pool{1};
  Gate gate;
  std::atomic<bool> started{false}, finished{false};
  auto result = pool.apply_async([&] {
    started = true;
    gate.wait();
    finished = true;
    return 7;
  });
  wait_until([&] { return started.load(); });
  EXPECT_TRUE(result.cancel());
  EXPECT_FALSE(result.ready());  // it runs until the gate opens: ready once nothing runs
  gate.open();
  EXPECT_THROW(result.get(), CancelledError);
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);  // the pool goes on
}

TEST(PoolCancel, ReadyResultIsNotCancelled) {
  Pool pool{1};
  auto result = pool.apply_async([] { return 7; });
  result.wait();
  EXPECT_FALSE(result.cancel());
  EXPECT_FALSE(result.cancelled());
  EXPECT_EQ(result.get(), 7);
  auto map = pool.map_async([](int x) { return 2 * x; }, std::vector<int>{1, 2});
  map.wait();
  EXPECT_FALSE(map.cancel());
  EXPECT_EQ(map.get(), (std::vector<int>{2, 4}));
}

TEST(PoolCancel, MapAsyncStopsWithItemsNotRun) {
  Pool pool{2};
  std::atomic<int> ran{0};
  std::vector<int> items(100);
  for (int i = 0; i < 100; ++i)
    items[static_cast<std::size_t>(i)] = i;
  // Each worker takes one item (chunksize 1) and waits for the stop: two items run, no other.
  auto result = pool.map_async(
      [&](std::stop_token stop, int x) {
        ++ran;
        while (!stop.stop_requested())
          std::this_thread::sleep_for(1ms);
        return x;
      },
      items, {.chunksize = 1});
  wait_until([&] { return ran.load() == 2; });
  EXPECT_TRUE(result.cancel());
  ASSERT_TRUE(result.wait_for(10s));
  EXPECT_THROW(result.get(), CancelledError);
  pool.close();
  pool.join();
  EXPECT_EQ(ran.load(), 2);
}

TEST(PoolCancel, MapWithoutTokenStopsBeforeTheNextItem) {
  Pool pool{1};
  Gate gate;
  std::atomic<int> ran{0};
  // One chunk of 10 items: the first blocks; once cancelled, the other nine are not run.
  auto result = pool.map_async(
      [&](int x) {
        if (++ran == 1) gate.wait();
        return x;
      },
      std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {.chunksize = 10});
  wait_until([&] { return ran.load() == 1; });
  EXPECT_TRUE(result.cancel());
  gate.open();
  EXPECT_THROW(result.get(), CancelledError);
  EXPECT_EQ(ran.load(), 1);
}

TEST(PoolCancel, MapOutcomesAsyncKeepsFinishedItems) {
  Pool pool{1};
  Gate gate;
  std::atomic<bool> third_started{false};
  auto result = pool.map_outcomes_async(
      [&](int x) {
        if (x == 1) throw std::runtime_error("one");
        if (x == 3) {
          third_started = true;
          gate.wait();
        }
        return 10 * x;
      },
      std::vector<int>{0, 1, 2, 3, 4, 5, 6}, {.chunksize = 1});
  wait_until([&] { return third_started.load(); });
  EXPECT_TRUE(result.cancel());
  gate.open();
  auto outcomes = result.get();  // not an error
  EXPECT_TRUE(result.cancelled());
  ASSERT_EQ(outcomes.size(), 7U);
  EXPECT_EQ(outcomes[0].value(), 0);
  EXPECT_FALSE(outcomes[1].ok());
  EXPECT_THROW(outcomes[1].rethrow(), std::runtime_error);
  EXPECT_FALSE(is_cancelled(outcomes[1].error()));
  EXPECT_EQ(outcomes[2].value(), 20);
  EXPECT_EQ(outcomes[3].value(), 30);  // it was running, without a token: it finished
  for (std::size_t i = 4; i < 7; ++i) {
    EXPECT_FALSE(outcomes[i].ok()) << i;
    EXPECT_TRUE(is_cancelled(outcomes[i].error())) << i;
  }
}

TEST(PoolCancel, ErrorCallbackGetsCancelledError) {
  Pool pool{1};
  Gate gate;
  auto blocker = occupy_the_worker(pool, gate);
  bool got_cancelled = false, got_value = false;
  auto result = pool.apply_async(
      parlab::Callbacks<int>{
          .callback = [&](const int&) { got_value = true; },
          .error_callback = [&](const std::exception_ptr& error) { got_cancelled = is_cancelled(error); }},
      [] { return 1; });
  EXPECT_TRUE(result.cancel());
  result.wait();  // ready once its callback ran
  EXPECT_TRUE(got_cancelled);
  EXPECT_FALSE(got_value);
  gate.open();
  blocker.get();
}

TEST(PoolCancel, StopTokenFunctionsWorkWithEveryCall) {
  Pool pool{2};
  const auto sum = [](std::stop_token stop, int a, int b) { return stop.stop_requested() ? -1 : a + b; };
  const std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap(sum, pairs), (std::vector<int>{3, 7}));
  EXPECT_EQ(pool.starmap_async(sum, pairs).get(), (std::vector<int>{3, 7}));
  EXPECT_EQ(pool.apply(sum, 2, 3), 5);
  const auto twice = [](std::stop_token stop, int x) { return stop.stop_possible() ? 2 * x : -1; };
  EXPECT_EQ(pool.map_async(twice, std::vector<int>{1, 2}).get(), (std::vector<int>{2, 4}));
  EXPECT_EQ(pool.apply_async(twice, 4).get(), 8);
  // A call nobody can cancel hands out a token that can never stop.
  EXPECT_EQ(pool.map([](std::stop_token stop, int x) { return stop.stop_possible() ? -1 : x; },
                     std::vector<int>{1, 2}),
            (std::vector<int>{1, 2}));
}

// ---- fail-fast ----

TEST(FailFast, PoolStopsAtTheFirstError) {
  Pool pool{2};
  std::atomic<int> ran{0};
  std::vector<int> items(100);
  for (int i = 0; i < 100; ++i)
    items[static_cast<std::size_t>(i)] = i;
  const auto start = Clock::now();
  try {
    pool.map(
        [&](int x) {
          ++ran;
          if (x == 2) throw std::invalid_argument("item 2");
          std::this_thread::sleep_for(200ms);
          return x;
        },
        items, {.fail_fast = true});
    FAIL() << "no TaskError";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.index(), 2U);
    EXPECT_THROW(e.rethrow_original(), std::invalid_argument);
  }
  // 100 tasks of 200 ms on 2 workers take 10 s; fail-fast ends after a few of them.
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_LT(ran.load(), 100);
  pool.close();
  pool.join();
  EXPECT_LT(ran.load(), 100);
}

TEST(FailFast, StoppedItemsDoNotOverrideTheError) {
  Pool pool{2};
  std::atomic<bool> first_started{false};
  // Item 0 runs until it is stopped, then throws; item 1 fails meanwhile: the map fails at 1.
  try {
    pool.map(
        [&](std::stop_token stop, int x) {
          if (x == 0) {
            first_started = true;
            while (!stop.stop_requested())
              std::this_thread::sleep_for(1ms);
            throw std::runtime_error("interrupted");
          }
          while (!first_started.load())
            std::this_thread::sleep_for(1ms);
          throw std::invalid_argument("one");
        },
        std::vector<int>{0, 1, 2, 3}, {.chunksize = 1, .fail_fast = true});
    FAIL() << "no TaskError";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.index(), 1U);
    EXPECT_THROW(e.rethrow_original(), std::invalid_argument);
  }
}

TEST(FailFast, MapAsyncAndMapIntoFailFast) {
  Pool pool{1};
  std::atomic<int> ran{0};
  const auto fail_at_one = [&](int x) {
    ++ran;
    if (x == 1) throw std::invalid_argument("one");
    return x;
  };
  const std::vector<int> items{0, 1, 2, 3, 4, 5};
  auto result = pool.map_async(fail_at_one, items, {.chunksize = 1, .fail_fast = true});
  try {
    result.get();
    FAIL() << "no TaskError";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.index(), 1U);
  }
  EXPECT_FALSE(result.cancelled());  // failed, not cancelled
  EXPECT_EQ(ran.load(), 2);          // one worker: nothing after item 1 ran
  ran = 0;
  std::vector<int> out(items.size(), -1);
  EXPECT_THROW(pool.map_into(fail_at_one, items, out, {.chunksize = 6, .fail_fast = true}), TaskError);
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[2], -1);
}

TEST(FailFast, DefaultRunsEveryItem) {
  Pool pool{1};
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.map(
                   [&](int x) {
                     ++ran;
                     if (x == 1) throw std::invalid_argument("one");
                     return x;
                   },
                   std::vector<int>{0, 1, 2, 3}, {.chunksize = 1}),
               TaskError);
  EXPECT_EQ(ran.load(), 4);
}

TEST(FailFast, RejectedWhereEveryOutcomeIsHandedOut) {
  Pool pool{1};
  const auto id = [](int x) { return x; };
  const std::vector<int> items{1, 2};
  EXPECT_THROW((void)pool.map_outcomes(id, items, {.fail_fast = true}), std::invalid_argument);
  EXPECT_THROW((void)pool.map_outcomes_async(id, items, {.fail_fast = true}), std::invalid_argument);
  EXPECT_THROW((void)pool.imap(id, items, {.fail_fast = true}), std::invalid_argument);
}

// ---- ProcessPool ----

/// Marks that it started (a file named after `x` in `dir`), then sleeps `ms` milliseconds.
int mark_and_sleep(std::string dir, int x, int ms) {
  std::ofstream{std::filesystem::path(dir) / std::to_string(x)} << x;
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
  return x;
}
int mark_and_sleep_item(std::tuple<std::string, int, int> item) { return std::apply(mark_and_sleep, item); }

/// Marks that item x ran, then fails for x == 2 and sleeps 200 ms for the others.
int mark_fail_third(std::string dir, int x) {
  std::ofstream{std::filesystem::path(dir) / std::to_string(x)} << x;
  if (x == 2) throw std::invalid_argument("item 2");
  std::this_thread::sleep_for(200ms);
  return x;
}

int square(int x) { return x * x; }
/// In a worker process the stop token can never stop: the program kills the worker instead.
int negate_if_stoppable(std::stop_token stop, int x) { return stop.stop_possible() ? -x : x; }

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir))
    ++n;
  return n;
}

TEST(ProcessPoolCancel, RunningTaskIsKilledAndItsWorkerReplaced) {
  TempDir dir;
  ProcessPool pool{1};
  const long old_pid = pool.pids().at(0);
  auto result = pool.apply_async(mark_and_sleep, dir.path().string(), 0, 60'000);
  wait_until([&] { return std::filesystem::exists(dir.path() / "0"); });  // it is running
  const auto start = Clock::now();
  EXPECT_TRUE(result.cancel());
  EXPECT_THROW(result.get(), CancelledError);
  EXPECT_LT(Clock::now() - start, 5s);  // not the task's 60 s
  EXPECT_NE(pool.pids().at(0), old_pid);
  EXPECT_EQ(pool.apply(square, 7), 49);  // the pool goes on, with a new worker
  EXPECT_NE(pool.pids().at(0), old_pid);
  EXPECT_NE(pool.pids().at(0), 0);
}

TEST(ProcessPoolCancel, MapOutcomesAsyncKeepsFinishedItems) {
  TempDir dir;
  ProcessPool pool{1};
  std::vector<std::tuple<std::string, int, int>> items;
  for (int i = 0; i < 5; ++i)
    items.emplace_back(dir.path().string(), i, i < 2 ? 20 : 60'000);  // items 0, 1 finish; 2 sleeps
  // (20 ms each: the worker sends results every 5 ms, so theirs are sent before item 2 starts.)
  auto result = pool.map_outcomes_async(mark_and_sleep_item, items, {.chunksize = 5});
  wait_until([&] { return std::filesystem::exists(dir.path() / "2"); });
  EXPECT_TRUE(result.cancel());
  auto outcomes = result.get();
  ASSERT_EQ(outcomes.size(), 5U);
  EXPECT_EQ(outcomes[0].value(), 0);
  EXPECT_EQ(outcomes[1].value(), 1);
  for (std::size_t i = 2; i < 5; ++i)
    EXPECT_TRUE(is_cancelled(outcomes[i].error())) << i;
  EXPECT_EQ(files_in(dir.path()), 3U);  // items 3 and 4 never ran
}

TEST(ProcessPoolCancel, StopTokenFunctionsTravel) {
  ProcessPool pool{1};
  EXPECT_EQ(pool.map_async(negate_if_stoppable, std::vector<int>{1, 2}).get(), (std::vector<int>{1, 2}));
  EXPECT_EQ(
      pool.apply_async([](std::stop_token stop, int x) { return stop.stop_possible() ? -x : x; }, 3).get(),
      3);
}

TEST(FailFast, ProcessPoolKillsTheRunningTasks) {
  TempDir dir;
  ProcessPool pool{2};
  std::vector<std::tuple<std::string, int>> items;
  for (int i = 0; i < 100; ++i)
    items.emplace_back(dir.path().string(), i);
  const auto start = Clock::now();
  try {
    (void)pool.starmap(mark_fail_third, items, {.fail_fast = true});
    FAIL() << "no TaskError";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.index(), 2U);
    EXPECT_NE(std::string(e.what()).find("item 2"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 5s);  // the whole map takes 10 s
  EXPECT_LT(files_in(dir.path()), 100U);
  EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
}

}  // namespace
