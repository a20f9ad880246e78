// parlab::Pool: Python's Pool semantics — order, chunking, errors with index, imap laziness,
// close / join / terminate, nested use, concurrent submission and progress.
#include <parlab/pool.hpp>

#include "support/gate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <list>
#include <memory>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using ::testing::ElementsAre;

namespace {

using parlab::test::Gate;

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Pool, DefaultSizeIsCpuCount) {
  parlab::Pool pool;
  EXPECT_EQ(pool.size(), parlab::cpu_count());
}

TEST(Pool, ZeroWorkersIsAnError) { EXPECT_THROW(parlab::Pool{0}, std::invalid_argument); }

TEST(PoolMap, ResultsInInputOrder) {
  parlab::Pool pool{2};
  auto out = pool.map([](int x) { return x * x; }, iota_vector(10000));
  ASSERT_EQ(out.size(), 10000U);
  for (int i = 0; i < 10000; ++i)
    EXPECT_EQ(out[static_cast<std::size_t>(i)], i * i);
}

TEST(PoolMap, EveryChunksizeGivesTheSameResult) {
  parlab::Pool pool{2};
  const auto input = iota_vector(1001);
  const auto expected = pool.map([](int x) { return 3 * x + 1; }, input);
  for (std::size_t chunk : {1U, 2U, 7U, 64U, 1000U, 5000U}) {
    EXPECT_EQ(pool.map([](int x) { return 3 * x + 1; }, input, {.chunksize = chunk}), expected)
        << "chunksize " << chunk;
  }
}

TEST(PoolMap, EmptyAndSingleInputs) {
  parlab::Pool pool{2};
  EXPECT_TRUE(pool.map([](int x) { return x; }, std::vector<int>{}).empty());
  EXPECT_THAT(pool.map([](int x) { return x + 1; }, std::vector<int>{41}), ElementsAre(42));
  auto empty = pool.map_async([](int x) { return x; }, std::vector<int>{});
  EXPECT_TRUE(empty.get().empty());
}

TEST(PoolMap, AcceptsNonRandomAccessAndLazyInputs) {
  parlab::Pool pool{2};
  std::list<int> list{1, 2, 3};
  EXPECT_THAT(pool.map([](int x) { return x * 10; }, list), ElementsAre(10, 20, 30));
  auto evens = std::views::iota(0, 10) | std::views::filter([](int x) { return x % 2 == 0; });
  EXPECT_THAT(pool.map([](int x) { return x; }, evens), ElementsAre(0, 2, 4, 6, 8));
  EXPECT_THAT(pool.map([](int x) { return x; }, std::views::iota(5, 8)), ElementsAre(5, 6, 7));
}

TEST(PoolMap, SynchronousMapDoesNotCopyTheInput) {
  parlab::Pool pool{2};
  std::vector<std::unique_ptr<int>> items;
  for (int i = 0; i < 100; ++i)
    items.push_back(std::make_unique<int>(i));
  auto out = pool.map([](const std::unique_ptr<int>& p) { return *p; }, items);
  EXPECT_EQ(out, iota_vector(100));
}

TEST(PoolMap, BoolAndNonDefaultConstructibleResults) {
  parlab::Pool pool{2};
  auto flags = pool.map([](int x) { return x % 2 == 0; }, iota_vector(1000), {.chunksize = 1});
  ASSERT_EQ(flags.size(), 1000U);
  for (std::size_t i = 0; i < flags.size(); ++i)
    EXPECT_EQ(flags[i], i % 2 == 0);

  struct NoDefault {
    explicit NoDefault(int v) : value(v) {}
    int value;
  };
  auto wrapped = pool.map([](int x) { return NoDefault{x}; }, iota_vector(50));
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(wrapped[static_cast<std::size_t>(i)].value, i);
}

TEST(PoolMap, VoidFunctionsRunForEveryItem) {
  parlab::Pool pool{2};
  std::atomic<long> sum{0};
  pool.map([&sum](int x) { sum += x; }, iota_vector(1000));
  EXPECT_EQ(sum.load(), 999L * 1000 / 2);
}

TEST(PoolMap, ErrorCarriesTheLowestFailingIndexAfterAllItemsRan) {
  parlab::Pool pool{2};
  std::atomic<int> ran{0};
  auto f = [&ran](int x) {
    ++ran;
    if (x == 777 || x == 123 || x == 900) throw std::invalid_argument("bad item " + std::to_string(x));
    return x;
  };
  try {
    (void)pool.map(f, iota_vector(1000), {.chunksize = 10});
    FAIL() << "map should have thrown";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 123U);
    EXPECT_STREQ(e.what(), "task 123 failed: std::invalid_argument: bad item 123");
    EXPECT_THROW(e.rethrow_original(), std::invalid_argument);
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(PoolMap, NonStandardExceptionsAreDescribed) {
  parlab::Pool pool{1};
  try {
    (void)pool.map([](int x) -> int { throw x; }, std::vector<int>{5});
    FAIL();
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 0U);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("int (not derived from std::exception)"));
  }
}

TEST(PoolMapAsync, LvalueInputIsCopiedSoTheCallerMayDropIt) {
  parlab::Pool pool{2};
  auto input = std::make_unique<std::vector<int>>(iota_vector(10000));
  auto result = pool.map_async([](int x) { return x + 1; }, *input);
  input.reset();  // the pool must not read the caller's vector any more (ASan would tell)
  auto out = std::move(result).get();
  EXPECT_EQ(out.size(), 10000U);
  EXPECT_EQ(out.back(), 10000);
}

TEST(PoolMapAsync, CallbackSeesTheWholeResult) {
  parlab::Pool pool{2};
  std::atomic<std::size_t> seen{0};
  auto result = pool.map_async([](int x) { return x; }, iota_vector(500), {},
                               {.callback = [&](const std::vector<int>& v) { seen = v.size(); }});
  EXPECT_EQ(result.get().size(), 500U);
  EXPECT_EQ(seen.load(), 500U);
}

TEST(PoolMapAsync, ErrorCallbackGetsTheTaskError) {
  parlab::Pool pool{2};
  std::size_t index = 0;
  auto result = pool.map_async(
      [](int x) {
        if (x == 3) throw std::runtime_error("three");
        return x;
      },
      iota_vector(10), {}, {.error_callback = [&](const std::exception_ptr& e) {
        try {
          std::rethrow_exception(e);
        } catch (const parlab::TaskError& te) {
          index = te.index();
        }
      }});
  EXPECT_THROW((void)result.get(), parlab::TaskError);
  EXPECT_EQ(index, 3U);
}

TEST(PoolStarmap, UnpacksTuplesAndPairs) {
  parlab::Pool pool{2};
  std::vector<std::tuple<int, int, int>> triples{{1, 2, 3}, {4, 5, 6}};
  EXPECT_THAT(pool.starmap([](int a, int b, int c) { return a * b + c; }, triples), ElementsAre(5, 26));
  std::vector<std::pair<std::string, int>> pairs{{"a", 2}, {"b", 3}};
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
      out += s;
    return out;
  };
  EXPECT_THAT(pool.starmap(repeat, pairs), ElementsAre("aa", "bbb"));
  EXPECT_THAT(pool.starmap_async(repeat, pairs).get(), ElementsAre("aa", "bbb"));
}

TEST(PoolApply, ReturnsTheValueAndRethrowsTheOriginalException) {
  parlab::Pool pool{2};
  EXPECT_EQ(pool.apply([](int a, int b) { return a - b; }, 10, 3), 7);
  EXPECT_THROW(pool.apply([]() -> int { throw std::length_error("long"); }), std::length_error);
  int target = 0;
  pool.apply([](int& t) { t = 5; }, target);  // apply blocks, so references are safe
  EXPECT_EQ(target, 5);
}

TEST(PoolApply, RunsOnAWorkerThread) {
  parlab::Pool pool{1};
  EXPECT_NE(pool.apply([] { return std::this_thread::get_id(); }), std::this_thread::get_id());
}

TEST(PoolApplyAsync, CopiesItsArguments) {
  parlab::Pool pool{1};
  parlab::AsyncResult<std::size_t> result;
  {
    std::string temporary(100, 'z');
    result = pool.apply_async([](const std::string& s) { return s.size(); }, temporary);
  }
  EXPECT_EQ(result.get(), 100U);
  auto moved = pool.apply_async([](std::unique_ptr<int> p) { return *p; }, std::make_unique<int>(8));
  EXPECT_EQ(moved.get(), 8);
}

TEST(PoolImap, YieldsInInputOrder) {
  parlab::Pool pool{2};
  std::vector<int> out;
  for (int v : pool.imap([](int x) { return x * 2; }, iota_vector(1000)))
    out.push_back(v);
  ASSERT_EQ(out.size(), 1000U);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
}

TEST(PoolImap, OrderHoldsWhenEarlyItemsAreSlow) {
  parlab::Pool pool{2};
  std::vector<int> out;
  auto slow_first = [](int x) {
    if (x < 2) std::this_thread::sleep_for(20ms);
    return x;
  };
  for (int v : pool.imap(slow_first, iota_vector(20)))
    out.push_back(v);
  EXPECT_EQ(out, iota_vector(20));
}

TEST(PoolImapUnordered, YieldsEveryResultInCompletionOrder) {
  parlab::Pool pool{2};
  std::vector<int> out;
  auto slow_zero = [](int x) {
    if (x == 0) std::this_thread::sleep_for(100ms);
    return x;
  };
  for (int v : pool.imap_unordered(slow_zero, iota_vector(50)))
    out.push_back(v);
  ASSERT_EQ(out.size(), 50U);
  EXPECT_NE(out.front(), 0);  // the slow item finished last, not first
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, iota_vector(50));
}

TEST(PoolImap, ReadsTheInputLazilyWithBoundedLookahead) {
  parlab::Pool pool{2};
  std::atomic<long> reads{0};
  auto counted = std::views::iota(0L, 10'000'000L) | std::views::transform([&reads](long x) {
                   ++reads;
                   return x;
                 });
  long sum = 0;
  int taken = 0;
  {
    auto results = pool.imap([](long x) { return x + 1; }, counted, {.chunksize = 4, .lookahead = 32});
    for (long v : results) {
      sum += v;
      if (++taken == 10) break;
    }
  }
  EXPECT_EQ(sum, 55);
  EXPECT_LE(reads.load(), 10 + 32 + 4);  // consumed + look-ahead window + one chunk
}

TEST(PoolImap, ErrorSurfacesAtItsPositionAfterEarlierResults) {
  parlab::Pool pool{2};
  auto results = pool.imap(
      [](int x) {
        if (x == 5) throw std::domain_error("five");
        return x;
      },
      iota_vector(10));
  std::vector<int> before;
  try {
    for (int v : results)
      before.push_back(v);
    FAIL() << "imap should have thrown";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 5U);
    EXPECT_THROW(e.rethrow_original(), std::domain_error);
  }
  EXPECT_EQ(before, iota_vector(5));
  // Python's IMapIterator goes on after an error: the remaining results are still there.
  std::vector<int> after;
  while (auto v = results.next())
    after.push_back(*v);
  EXPECT_THAT(after, ElementsAre(6, 7, 8, 9));
}

TEST(PoolImap, NextWithTimeout) {
  parlab::Pool pool{1};
  Gate gate;
  auto results = pool.imap(
      [&gate](int x) {
        gate.wait();
        return x;
      },
      std::vector<int>{1, 2});
  EXPECT_THROW((void)results.next(10ms), parlab::TimeoutError);
  gate.open();
  EXPECT_EQ(results.next(10s), 1);
  EXPECT_EQ(results.next(10s), 2);
  EXPECT_EQ(results.next(10s), std::nullopt);
}

TEST(PoolImap, DroppingTheResultEarlyStopsCleanly) {
  parlab::Pool pool{2};
  for (int round = 0; round < 50; ++round) {
    auto results = pool.imap([](int x) { return x; }, iota_vector(10000));
    (void)results.next();
  }
  EXPECT_EQ(pool.map([](int x) { return x; }, iota_vector(3)), iota_vector(3));
}

TEST(PoolImap, InputThatThrowsIsReportedAtItsPosition) {
  parlab::Pool pool{2};
  auto failing = std::views::iota(0, 100) | std::views::transform([](int x) {
                   if (x == 7) throw std::runtime_error("input broke");
                   return x;
                 });
  std::vector<int> got;
  try {
    for (int v : pool.imap([](int x) { return x; }, failing))
      got.push_back(v);
    FAIL();
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 7U);
  }
  EXPECT_EQ(got, iota_vector(7));
}

TEST(PoolLifecycle, SubmittingAfterCloseThrows) {
  parlab::Pool pool{2};
  pool.close();
  EXPECT_THROW((void)pool.apply_async([] { return 1; }), parlab::PoolNotRunning);
  EXPECT_THROW((void)pool.map([](int x) { return x; }, iota_vector(3)), parlab::PoolNotRunning);
  pool.join();
}

TEST(PoolLifecycle, JoinBeforeCloseThrows) {
  parlab::Pool pool{1};
  EXPECT_THROW(pool.join(), std::logic_error);
}

TEST(PoolLifecycle, CloseLetsQueuedWorkFinish) {
  parlab::Pool pool{1};
  std::vector<parlab::AsyncResult<int>> results;
  for (int i = 0; i < 20; ++i) {
    results.push_back(pool.apply_async([i] {
      std::this_thread::sleep_for(1ms);
      return i;
    }));
  }
  pool.close();
  pool.join();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(results[static_cast<std::size_t>(i)].ready());
    EXPECT_EQ(results[static_cast<std::size_t>(i)].get(), i);
  }
}

TEST(PoolLifecycle, DestructorClosesAndJoins) {
  std::atomic<int> done{0};
  parlab::AsyncResult<void> last;
  {
    parlab::Pool pool{1};
    for (int i = 0; i < 10; ++i) {
      last = pool.apply_async([&done] {
        std::this_thread::sleep_for(1ms);
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 10);
  EXPECT_TRUE(last.ready());
}

TEST(PoolLifecycle, TerminateDropsQueuedWorkAndFinishesRunningTasks) {
  parlab::Pool pool{1};
  Gate started, release;
  auto running = pool.apply_async([&] {
    started.open();
    release.wait();
    return 1;
  });
  started.wait();
  auto queued = pool.apply_async([] { return 2; });
  auto queued_map = pool.map_async([](int x) { return x; }, iota_vector(100));
  pool.terminate();
  release.open();
  pool.join();
  EXPECT_EQ(running.get(), 1);
  EXPECT_THROW((void)queued.get(), parlab::PoolTerminated);
  try {
    (void)queued_map.get();
    FAIL();
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 0U);
    EXPECT_THROW(e.rethrow_original(), parlab::PoolTerminated);
  }
  EXPECT_THROW((void)pool.apply_async([] { return 3; }), parlab::PoolNotRunning);
}

TEST(PoolLifecycle, CloseAndJoinDrainAnUnconsumedImap) {
  parlab::Pool pool{2};
  auto results = pool.imap([](int x) { return x * 3; }, iota_vector(500), {.lookahead = 8});
  EXPECT_EQ(results.next(), 0);
  pool.close();
  pool.join();  // must not wait for the consumer: the stream drains its input instead
  std::vector<int> rest;
  while (auto v = results.next())
    rest.push_back(*v);
  ASSERT_EQ(rest.size(), 499U);
  EXPECT_EQ(rest.back(), 499 * 3);
}

TEST(PoolLifecycle, TerminateEndsAnImapThatWaitsForItsWindow) {
  parlab::Pool pool{2};
  auto results = pool.imap([](int x) { return x; }, iota_vector(1000), {.lookahead = 8});
  EXPECT_EQ(results.next(), 0);
  std::this_thread::sleep_for(20ms);  // the workers fill the window and drop the job
  pool.terminate();
  pool.join();
  std::size_t got = 1;
  EXPECT_THROW(
      {
        while (results.next())
          ++got;
      },
      parlab::PoolTerminated);
  EXPECT_LE(got, 9U);
}

TEST(PoolNested, MapInsideATaskWithOneWorker) {
  parlab::Pool pool{1};
  auto out = pool.map(
      [&pool](int x) {
        auto inner = pool.map([](int y) { return y * y; }, iota_vector(x));
        return std::accumulate(inner.begin(), inner.end(), 0);
      },
      iota_vector(10));
  EXPECT_EQ(out[9], 204);  // 0² + 1² + … + 8²
}

TEST(PoolNested, MapInsideATaskWithTwoWorkers) {
  parlab::Pool pool{2};
  auto out = pool.map(
      [&pool](int x) {
        auto inner = pool.map([&pool](int y) { return pool.apply([](int z) { return z + 1; }, y); },
                              iota_vector(x), {.chunksize = 1});
        return std::accumulate(inner.begin(), inner.end(), 0);
      },
      iota_vector(20), {.chunksize = 1});
  for (int x = 0; x < 20; ++x)
    EXPECT_EQ(out[static_cast<std::size_t>(x)], x * (x + 1) / 2);
}

TEST(PoolNested, WaitingOnAnAsyncResultOfTheSamePool) {
  parlab::Pool pool{1};
  auto outer = pool.apply_async([&pool] {
    auto inner = pool.apply_async([] { return 20; });
    return inner.get() + 1;
  });
  EXPECT_EQ(outer.get(5s), 21);
}

TEST(PoolNested, ImapInsideATaskWithOneWorker) {
  parlab::Pool pool{1};
  int total = pool.apply([&pool] {
    int sum = 0;
    for (int v : pool.imap([](int x) { return x; }, iota_vector(100), {.lookahead = 4}))
      sum += v;
    return sum;
  });
  EXPECT_EQ(total, 4950);
}

TEST(PoolNested, NestedWorkIsAllowedWhileThePoolCloses) {
  std::atomic<int> sum{0};
  {
    parlab::Pool pool{2};
    for (int i = 0; i < 4; ++i) {
      (void)pool.apply_async([&pool, &sum] {
        std::this_thread::sleep_for(5ms);
        auto v = pool.map([](int x) { return x; }, iota_vector(10));
        sum += std::accumulate(v.begin(), v.end(), 0);
      });
    }
  }  // close() + join() while the tasks still submit nested maps
  EXPECT_EQ(sum.load(), 4 * 45);
}

TEST(PoolConcurrency, SubmissionFromSeveralThreads) {
  parlab::Pool pool{2};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, &ok, t] {
      for (int i = 0; i < 50; ++i) {
        auto out = pool.map([t](int x) { return x + t; }, iota_vector(100), {.chunksize = 3});
        auto single = pool.apply_async([t, i] { return t * 1000 + i; });
        if (out[99] == 99 + t && single.get() == t * 1000 + i) ++ok;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST(PoolProgress, ReportsEveryItemOnce) {
  parlab::Pool pool{2};
  std::atomic<std::size_t> max_done{0};
  std::atomic<int> calls{0};
  std::atomic<std::size_t> total_seen{0};
  (void)pool.map([](int x) { return x; }, iota_vector(1000),
                 {.chunksize = 100, .progress = [&](std::size_t done, std::size_t total) {
                    ++calls;
                    total_seen = total;
                    std::size_t prev = max_done.load();
                    while (done > prev && !max_done.compare_exchange_weak(prev, done)) {
                    }
                  }});
  EXPECT_EQ(calls.load(), 10);
  EXPECT_EQ(max_done.load(), 1000U);
  EXPECT_EQ(total_seen.load(), 1000U);
}

TEST(PoolProgress, ImapReportsDoneWithUnknownTotal) {
  parlab::Pool pool{2};
  std::atomic<std::size_t> max_done{0};
  auto results = pool.imap([](int x) { return x; }, iota_vector(100),
                           {.chunksize = 10, .progress = [&](std::size_t done, std::size_t total) {
                              EXPECT_EQ(total, 0U);
                              std::size_t prev = max_done.load();
                              while (done > prev && !max_done.compare_exchange_weak(prev, done)) {
                              }
                            }});
  std::size_t n = 0;
  for (int v : results)
    n += v >= 0 ? 1 : 0;
  EXPECT_EQ(n, 100U);
  EXPECT_EQ(max_done.load(), 100U);
}

}  // namespace

namespace {

TEST(PoolMapInto, WritesIntoTheCallersBuffer) {
  parlab::Pool pool{2};
  std::vector<long> out(1000, -1);
  pool.map_into([](int x) { return 2L * x; }, iota_vector(1000), out, {.chunksize = 7});
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(out[static_cast<std::size_t>(i)], 2L * i);
}

TEST(PoolMapInto, ShortOutputIsAnError) {
  parlab::Pool pool{1};
  std::vector<int> out(3);
  EXPECT_THROW(pool.map_into([](int x) { return x; }, iota_vector(4), out), std::invalid_argument);
}

TEST(PoolMapInto, ErrorCarriesTheIndex) {
  parlab::Pool pool{2};
  std::vector<int> out(100);
  try {
    pool.map_into(
        [](int x) {
          if (x == 42) throw std::runtime_error("no");
          return x;
        },
        iota_vector(100), out);
    FAIL();
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 42U);
  }
  EXPECT_EQ(out[99], 99);
}

}  // namespace
