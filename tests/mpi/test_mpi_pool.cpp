// MpiPool under mpirun (-np 2 and -np 4 in ctest): rank 0 runs these tests; the other ranks
// serve tasks from MpiPool::start() in main() and exit when rank 0 ends.
#include <parlab/futures.hpp>
#include <parlab/mapreduce.hpp>
#include <parlab/mpi_pool.hpp>

#include "support/callbacks.hpp"
#include "support/touchy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

long square(long x) { return x * x; }
long between(long lo, long x, long hi) { return lo <= x && x <= hi ? 1 : 0; }
double mean(const std::vector<double>& row) {
  return std::accumulate(row.begin(), row.end(), 0.0) / static_cast<double>(row.size());
}
int checked_sqrt(int x) {
  if (x < 0) throw std::domain_error("negative input " + std::to_string(x));
  return static_cast<int>(std::sqrt(x));
}
long pid_of_worker(int /*unused*/) { return static_cast<long>(::getpid()); }
int rank_after(int millis) {
  std::this_thread::sleep_for(std::chrono::milliseconds{millis});
  return parlab::MpiPool::rank();
}
long not_registered(long x) { return x + 1; }
int padded_second(std::string padding) {
  std::this_thread::sleep_for(std::chrono::seconds{1});
  return static_cast<int>(padding.size());
}
int stop_token_first(std::stop_token stop, int x) { return stop.stop_possible() ? -x : x; }
int fail_third_or_sleep(int x) {
  if (x == 2) throw std::invalid_argument("item 2");
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  return x;
}

using parlab::test::Touchy;
using parlab::test::touchy_value;
int make_a_pool(int /*unused*/) {
  parlab::MpiPool nested;  // on a worker rank: an error, not a second serve loop
  return 0;
}

}  // namespace

PARLAB_MPI_TASK(square);
PARLAB_MPI_TASK(between);
PARLAB_MPI_TASK(mean);
PARLAB_MPI_TASK(checked_sqrt);
PARLAB_MPI_TASK(pid_of_worker);
PARLAB_MPI_TASK(rank_after);
PARLAB_MPI_TASK(make_a_pool);
PARLAB_MPI_TASK(touchy_value);
PARLAB_MPI_TASK(padded_second);
PARLAB_MPI_TASK(fail_third_or_sleep);
PARLAB_MPI_TASK(stop_token_first);

namespace {

std::vector<long> iota(long n) {
  std::vector<long> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0L);
  return v;
}

TEST(MpiPool, UsesEveryRankButZero) {
  parlab::MpiPool pool;
  EXPECT_EQ(pool.size(), static_cast<std::size_t>(parlab::MpiPool::ranks() - 1));
  EXPECT_EQ(parlab::MpiPool::rank(), 0);
}

TEST(MpiPool, MapKeepsInputOrder) {
  parlab::MpiPool pool;
  const auto xs = iota(10'000);
  const auto out = pool.map(square, xs);
  ASSERT_EQ(out.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    ASSERT_EQ(out[i], xs[i] * xs[i]) << "at " << i;
}

TEST(MpiPool, TasksRunInOtherProcesses) {
  parlab::MpiPool pool;
  const auto pids = pool.map(pid_of_worker, std::vector<int>(64, 0), {.chunksize = 1});
  for (const long pid : pids)
    EXPECT_NE(pid, static_cast<long>(::getpid()));
}

TEST(MpiPool, StarmapUnpacksTuples) {
  parlab::MpiPool pool;
  std::vector<std::tuple<long, long, long>> rows;
  for (long x = 0; x < 100; ++x)
    rows.emplace_back(10, x, 20);
  const auto in_range = pool.starmap(between, rows);
  EXPECT_EQ(std::accumulate(in_range.begin(), in_range.end(), 0L), 11);
}

TEST(MpiPool, LambdasNeedNoRegistration) {
  parlab::MpiPool pool;
  const auto out =
      pool.map([](const std::string& s) { return s + "!"; }, std::vector<std::string>{"a", "bc"});
  EXPECT_EQ(out, (std::vector<std::string>{"a!", "bc!"}));
}

TEST(MpiPool, LargeArgumentsAndResults) {
  parlab::MpiPool pool;
  std::vector<std::vector<double>> rows(8, std::vector<double>(250'000));
  for (std::size_t r = 0; r < rows.size(); ++r)
    std::iota(rows[r].begin(), rows[r].end(), static_cast<double>(r));
  const auto means = pool.map(mean, rows, {.chunksize = 4});
  for (std::size_t r = 0; r < rows.size(); ++r)
    EXPECT_DOUBLE_EQ(means[r], mean(rows[r]));
  const auto echoed = pool.map([](const std::vector<double>& row) { return row; }, rows);
  EXPECT_EQ(echoed, rows);
}

TEST(MpiPool, AnArgumentThatCannotBeSentFailsAlone) {
  parlab::MpiPool pool;
  std::vector<Touchy> items{{-1}, {2}, {-3}, {4}, {-5}, {-6}, {7}};
  const auto outcomes = pool.map_outcomes(touchy_value, items, {.chunksize = 7});
  ASSERT_EQ(outcomes.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].v > 0) {
      EXPECT_EQ(outcomes[i].value(), items[i].v) << i;
    } else {
      EXPECT_THROW(outcomes[i].rethrow(), std::domain_error) << i;
    }
  }
}

TEST(MpiPool, BigChunksTravelInSeveralMessages) {
  parlab::MpiPool pool;
  // One chunk of ~8 MB of arguments: many messages, results in order, every row checked.
  std::vector<std::vector<double>> rows(4'000, std::vector<double>(250));
  for (std::size_t r = 0; r < rows.size(); ++r)
    std::iota(rows[r].begin(), rows[r].end(), static_cast<double>(r));
  const auto means = pool.map(mean, rows, {.chunksize = rows.size()});
  for (std::size_t r = 0; r < rows.size(); ++r)
    ASSERT_DOUBLE_EQ(means[r], mean(rows[r])) << r;
}

TEST(MpiPool, ExceptionComesBackWithIndexTypeAndMessage) {
  parlab::MpiPool pool;
  std::vector<int> xs{4, 9, -3, 16, -5};
  try {
    (void)pool.map(checked_sqrt, xs, {.chunksize = 2});
    FAIL() << "map did not throw";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 2U);
    try {
      e.rethrow_original();
    } catch (const parlab::RemoteError& remote) {
      EXPECT_EQ(remote.type_name(), "std::domain_error");
      EXPECT_EQ(remote.message(), "negative input -3");
    }
  }
  const auto outcomes = pool.map_outcomes(checked_sqrt, xs);
  ASSERT_EQ(outcomes.size(), xs.size());
  EXPECT_EQ(outcomes[1].value(), 3);
  EXPECT_FALSE(outcomes[4].ok());
}

TEST(MpiPool, UnregisteredFunctionIsAnErrorOnRankZero) {
  parlab::MpiPool pool;
  try {
    (void)pool.map(not_registered, iota(3));
    FAIL() << "map of an unregistered function did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("PARLAB_MPI_TASK("), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)pool.apply_async(not_registered, 1L), std::invalid_argument);
  EXPECT_THROW((void)pool.imap(not_registered, iota(3)), std::invalid_argument);
  EXPECT_EQ(pool.apply(square, 7L), 49);  // the pool still works
}

TEST(MpiPool, OnlyRankZeroMakesPools) {
  parlab::MpiPool pool;
  try {
    (void)pool.apply(make_a_pool, 0);
    FAIL() << "a task made an MpiPool on a worker rank";
  } catch (const parlab::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::logic_error");
    EXPECT_NE(e.message().find("only rank 0 makes pools"), std::string::npos) << e.message();
  }
  EXPECT_EQ(pool.apply(square, 3L), 9);  // that rank still serves
}

TEST(MpiPool, CallbacksRunOneAtATimeOnOneThreadOfThePool) {
  parlab::MpiPool pool;
  parlab::test::expect_callbacks_one_at_a_time(pool, square, 60);
}

TEST(MpiPool, ApplyAndAsyncForms) {
  parlab::MpiPool pool;
  EXPECT_EQ(pool.apply(square, 12L), 144);
  std::promise<long> called;
  auto r = pool.apply_async(parlab::Callbacks<long>{.callback = [&](const long& v) { called.set_value(v); }},
                            square, 5L);
  EXPECT_EQ(r.get(std::chrono::seconds{30}), 25);
  EXPECT_EQ(called.get_future().get(), 25);
  auto m = pool.map_async(square, iota(100));
  EXPECT_EQ(m.get(std::chrono::seconds{30})[99], 99L * 99L);
  auto s = pool.starmap_async(between, std::vector<std::tuple<long, long, long>>{{0, 1, 2}, {0, 5, 2}});
  EXPECT_EQ(s.get(std::chrono::seconds{30}), (std::vector<long>{1, 0}));
}

TEST(MpiPool, MaxPendingAndTheFuturesFunctions) {
  parlab::MpiPool pool{1, {.max_pending = 1, .submit_timeout = std::chrono::milliseconds{100}}};
  auto slow = pool.apply_async(rank_after, 1500);
  EXPECT_THROW((void)pool.apply_async(square, 2L), parlab::TimeoutError);  // the one slot is taken
  const auto waited =
      parlab::wait(std::vector{slow}, parlab::ReturnWhen::all_completed, std::chrono::seconds{30});
  ASSERT_EQ(waited.done.size(), 1U);
  EXPECT_EQ(slow.exception(), nullptr);
  std::vector<parlab::AsyncResult<long>> results{pool.apply_async(square, 3L)};
  long sum = 0;
  for (auto& r : parlab::as_completed(results, std::chrono::seconds{30}))
    sum += r.get();
  EXPECT_EQ(sum, 9);
}

TEST(MpiPool, ImapInOrderAndUnordered) {
  parlab::MpiPool pool;
  std::vector<long> ordered;
  for (long v : pool.imap(square, iota(500), {.chunksize = 7}))
    ordered.push_back(v);
  ASSERT_EQ(ordered.size(), 500U);
  for (std::size_t i = 0; i < ordered.size(); ++i)
    ASSERT_EQ(ordered[i], static_cast<long>(i * i));
  std::multiset<long> unordered;
  for (long v : pool.imap_unordered(square, iota(500)))
    unordered.insert(v);
  EXPECT_EQ(unordered, std::multiset<long>(ordered.begin(), ordered.end()));
}

TEST(MpiPool, IdleRanksTakeTheNextChunk) {
  if (parlab::MpiPool::ranks() < 3) GTEST_SKIP() << "needs two worker ranks";
  parlab::MpiPool pool{2};
  // Item 0 keeps one rank busy while the other rank runs nearly everything else.
  // (A fixed split would give each rank about 20 items.)
  std::vector<int> millis(41, 2);
  millis[0] = 1500;
  const auto ranks = pool.map(rank_after, millis, {.chunksize = 1});
  const int slow_rank = ranks[0];
  const auto on_slow = std::count(ranks.begin(), ranks.end(), slow_rank);
  EXPECT_LT(on_slow, 10) << "the rank busy with the long item also ran " << on_slow - 1 << " others";
  EXPECT_EQ(std::set<int>(ranks.begin(), ranks.end()).size(), 2U);
}

TEST(MpiPool, SeveralPoolsAtOnce) {
  parlab::MpiPool a, b;
  auto ra = a.map_async(square, iota(2'000));
  auto rb = b.map_async(checked_sqrt, std::vector<int>(2'000, 81));
  EXPECT_EQ(ra.get()[1999], 1999L * 1999L);
  EXPECT_EQ(rb.get()[0], 9);
}

TEST(MpiPool, MapReduceCountsWordsLikeASerialLoop) {
  parlab::MpiPool pool;
  std::vector<std::string> docs;
  for (int d = 0; d < 60; ++d) {
    std::string doc;
    for (int w = 0; w < 40; ++w) {
      doc += 'w';
      doc += std::to_string((d * 7 + w * 13) % 17);
      doc += ' ';
    }
    docs.push_back(doc);
  }
  std::map<std::string, long> expected;
  for (const auto& doc : docs)
    for (std::size_t at = 0; at < doc.size();) {
      const auto end = doc.find(' ', at);
      ++expected[doc.substr(at, end - at)];
      at = end + 1;
    }
  const auto mapper = [](const std::string& doc) {
    std::vector<std::pair<std::string, long>> pairs;
    for (std::size_t at = 0; at < doc.size();) {
      const auto end = doc.find(' ', at);
      pairs.emplace_back(doc.substr(at, end - at), 1);
      at = end + 1;
    }
    return pairs;
  };
  const auto sum = [](const std::string&, std::vector<long> counts) {
    return std::accumulate(counts.begin(), counts.end(), 0L);
  };
  EXPECT_EQ(parlab::map_reduce(pool, docs, mapper, sum), expected);
  EXPECT_EQ(parlab::map_reduce(pool, docs, mapper, sum, sum, {.chunksize = 3}), expected);  // with a combiner
}

// Cancel: batches not sent are dropped; a batch a rank runs finishes.
TEST(MpiPool, CancelDropsTheBatchesNotSent) {
  parlab::MpiPool pool{1};
  // Items of 300 KB: one per message, two messages in flight; 1 s each, 10 s in all.
  const std::vector<std::string> items(10, std::string(300'000, 'x'));
  const auto start = std::chrono::steady_clock::now();
  auto result = pool.map_outcomes_async(padded_second, items, {.chunksize = 10});
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  EXPECT_TRUE(result.cancel());
  const auto outcomes = result.get(std::chrono::seconds{60});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{8});
  ASSERT_EQ(outcomes.size(), 10U);
  std::size_t finished = 0;
  for (const auto& outcome : outcomes) {
    if (!outcome.ok()) {
      EXPECT_THROW(outcome.rethrow(), parlab::CancelledError);
      continue;
    }
    ++finished;
    EXPECT_EQ(outcome.value(), 300'000);
  }
  EXPECT_LE(finished, 2U);  // at most the two messages sent
  EXPECT_FALSE(outcomes[9].ok());
  EXPECT_TRUE(result.cancelled());
}

TEST(MpiPool, StopTokenFunctionsAreFoundByName) {
  parlab::MpiPool pool{1};
  // On a rank the token can never stop (what a rank runs finishes).
  EXPECT_EQ(pool.map_async(stop_token_first, std::vector<int>{1, 2}).get(std::chrono::seconds{30}),
            (std::vector<int>{1, 2}));
}

TEST(MpiPool, FailFastStopsSendingWork) {
  parlab::MpiPool pool{1};
  std::vector<int> items(100);
  std::iota(items.begin(), items.end(), 0);
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)pool.map(fail_third_or_sleep, items, {.chunksize = 1, .fail_fast = true});
    FAIL() << "no TaskError";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 2U);
    EXPECT_NE(std::string(e.what()).find("item 2"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{5});  // all: 10 s
}

// ---- initializer and worker_index (issue 15, item 5) ----

// In each worker rank: how many times each pool's initializer ran there (a rank serves many pools).
std::map<std::string, int> init_runs;
void count_init(std::string pool, int weight) { init_runs[pool] += weight; }
void refuse_init(std::string why) { throw std::invalid_argument(why); }
void unregistered_init() {}

/// (worker_index, rank, runs of `pool`'s initializer on this rank).
std::tuple<long, int, int> where_and_runs(std::string pool) {
  const auto index = parlab::worker_index();
  return {index ? static_cast<long>(*index) : -1L, parlab::MpiPool::rank(), init_runs[pool]};
}

}  // namespace

PARLAB_MPI_TASK(count_init);
PARLAB_MPI_TASK(refuse_init);
PARLAB_MPI_TASK(where_and_runs);

namespace {

TEST(MpiPool, InitializerRunsOnceOnEachWorkerRankWithItsArguments) {
  parlab::MpiPool pool{0, {.initializer = {count_init, std::string{"pool-a"}, 1}}};
  const auto seen = pool.map(where_and_runs, std::vector<std::string>(64, "pool-a"), {.chunksize = 1});
  std::set<int> ranks;
  for (const auto& [index, rank, runs] : seen) {
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(index, rank - 1);  // worker_index(): the pool thread that drives the rank
    ranks.insert(rank);
  }
  EXPECT_FALSE(ranks.empty());
  EXPECT_FALSE(parlab::worker_index().has_value());
  // A second pool runs its own initializer, once per rank as well.
  parlab::MpiPool second{
      0, {.initializer = {[](std::string name) { init_runs[name] += 10; }, std::string{"pool-b"}}}};
  for (const auto& [index, rank, runs] : second.map(where_and_runs, std::vector<std::string>(8, "pool-b")))
    EXPECT_EQ(runs, 10);
}

TEST(MpiPool, WorkerIndexIsRankMinusOneWithoutInitializer) {
  parlab::MpiPool pool;
  for (const auto& [index, rank, runs] :
       pool.map(where_and_runs, std::vector<std::string>(16, "none"), {.chunksize = 1}))
    EXPECT_EQ(index, rank - 1);
}

TEST(MpiPool, AThrowingInitializerFailsTheTasksOfItsRank) {
  parlab::MpiPool pool{0, {.initializer = {refuse_init, std::string{"no database"}}}};
  const auto outcomes = pool.map_outcomes(where_and_runs, std::vector<std::string>(6, "x"));
  for (const auto& outcome : outcomes) {
    ASSERT_FALSE(outcome.ok());
    try {
      outcome.rethrow();
    } catch (const parlab::RemoteError& e) {
      EXPECT_EQ(e.type_name(), "std::invalid_argument");
      EXPECT_NE(std::string{e.what()}.find("initializer failed: no database"), std::string::npos) << e.what();
    }
  }
}

TEST(MpiPool, AnUnregisteredInitializerIsAnErrorOnRankZero) {
  EXPECT_THROW(parlab::MpiPool(0, {.initializer = unregistered_init}), std::invalid_argument);
}

}  // namespace

int main(int argc, char** argv) {
  parlab::MpiPool::start();  // worker ranks serve here and exit when rank 0 is done
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
