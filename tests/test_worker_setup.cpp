// Per-worker set-up on Pool and ProcessPool: the initializer with its arguments (Python's
// initializer + initargs) and parlab::worker_index().
#include "parlab/parlab.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using parlab::worker_index;

// ---- Pool ----

/// What a Pool's initializer saw: one entry per call, with the worker index it ran on.
struct InitLog {
  std::mutex mu;
  std::vector<std::optional<std::size_t>> indices;
  std::vector<std::string> arguments;
};

thread_local std::string db_name;  // set by the initializer on each worker thread

void open_db(InitLog* log, const std::string& name, int connections) {
  db_name = name + ":" + std::to_string(connections);
  std::lock_guard lock{log->mu};
  log->indices.push_back(worker_index());
  log->arguments.push_back(db_name);
}

TEST(PoolInitializer, RunsOncePerWorkerOnThatWorkerWithItsArguments) {
  InitLog log;
  constexpr std::size_t workers = 3;
  std::latch all_running{workers};
  {
    parlab::Pool pool{workers, {.initializer = {open_db, &log, std::string{"lab.sqlite"}, 4}}};
    // Each task waits until one task runs on every worker, so every worker runs one.
    const auto seen = pool.map(
        [&](int) {
          all_running.arrive_and_wait();
          return std::make_pair(worker_index(), db_name);
        },
        std::vector<int>(workers), {.chunksize = 1});
    std::set<std::size_t> task_indices;
    for (const auto& [index, name] : seen) {
      ASSERT_TRUE(index.has_value());
      task_indices.insert(*index);
      EXPECT_EQ(name, "lab.sqlite:4");
    }
    EXPECT_EQ(task_indices, (std::set<std::size_t>{0, 1, 2}));
    // More work on the same workers: no second initialization.
    EXPECT_EQ(pool.map([](int x) { return db_name + std::to_string(x); }, std::vector<int>(20, 1)),
              std::vector<std::string>(20, "lab.sqlite:41"));
  }
  ASSERT_EQ(log.indices.size(), workers);
  std::set<std::size_t> init_indices;
  for (const auto& index : log.indices) {
    ASSERT_TRUE(index.has_value());
    init_indices.insert(*index);
  }
  EXPECT_EQ(init_indices, (std::set<std::size_t>{0, 1, 2}));
  EXPECT_EQ(log.arguments, std::vector<std::string>(workers, "lab.sqlite:4"));
  EXPECT_EQ(db_name, "");  // not on this thread
}

TEST(PoolInitializer, AFunctionWithoutArgumentsAndACapturingLambdaWork) {
  std::atomic<int> calls{0};
  {
    parlab::Pool pool{2, {.initializer = [&calls] { ++calls; }}};
    EXPECT_EQ(pool.apply([] { return 7; }), 7);
  }
  EXPECT_EQ(calls.load(), 1);  // lazily: only the worker that ran a chunk
  parlab::Pool plain{2};       // no options: no initializer
  EXPECT_EQ(plain.apply([] { return 8; }), 8);
}

TEST(PoolInitializer, ThrowingFailsTheWorkersTasksWithItsMessageAndIsTriedAgain) {
  std::atomic<int> calls{0};
  parlab::Pool pool{1,
                    {.initializer = {[](std::atomic<int>* n) {
                                       if (++*n == 1) throw std::runtime_error("no database");
                                     },
                                     &calls}}};
  try {
    (void)pool.map([](int x) { return x; }, std::vector<int>{1, 2, 3});
    FAIL() << "the map should fail";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 0U);
    EXPECT_THAT(e.what(), testing::HasSubstr("initializer failed"));
    EXPECT_THAT(e.what(), testing::HasSubstr("no database"));
    try {
      e.rethrow_original();
    } catch (const parlab::InitializerError& init) {
      EXPECT_THAT(init.what(),
                  testing::StartsWith("parlab: initializer failed: std::runtime_error: no database"));
      EXPECT_THROW(std::rethrow_exception(init.original()), std::runtime_error);
    }
  }
  // Tried again before the worker's next chunk: it succeeds now, and runs no more.
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 2), 3);
  EXPECT_EQ(calls.load(), 2);
}

TEST(PoolInitializer, ApplyFromAThrowingInitializerRaisesInitializerError) {
  parlab::Pool pool{2, {.initializer = [] { throw std::invalid_argument("bad config"); }}};
  EXPECT_THROW((void)pool.apply([] { return 1; }), parlab::InitializerError);
}

TEST(WorkerIndex, DistinctPerPoolThreadAndNulloptOutside) {
  EXPECT_FALSE(worker_index().has_value());
  constexpr std::size_t workers = 4;
  std::latch all_running{workers};
  parlab::Pool pool{workers};
  const auto indices = pool.map(
      [&](int) {
        all_running.arrive_and_wait();
        return *worker_index();
      },
      std::vector<int>(workers), {.chunksize = 1});
  EXPECT_EQ(std::set<std::size_t>(indices.begin(), indices.end()), (std::set<std::size_t>{0, 1, 2, 3}));
  // A thread a task starts is not a worker.
  EXPECT_FALSE(pool.apply([] {
    std::optional<std::size_t> inner = 0;
    std::thread{[&] { inner = worker_index(); }}.join();
    return inner.has_value();
  }));
  EXPECT_FALSE(worker_index().has_value());
}

// ---- ProcessPool ----

// Set in each worker process by the initializer.
std::string worker_db;
int init_calls = 0;
std::optional<std::size_t> init_index;

void open_worker_db(std::string name, int connections) {
  worker_db = name + ":" + std::to_string(connections);
  ++init_calls;
  init_index = worker_index();
}

/// What a task sees in its worker: pid, the initializer's effect and the worker's index.
struct Seen {
  long pid = 0;
  std::string db;
  int calls = 0;
  long init_index = -1;
  long index = -1;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(pid, db, calls, init_index, index);
  }
};

Seen look(int /*x*/) {
  return {static_cast<long>(::getpid()), worker_db, init_calls,
          init_index ? static_cast<long>(*init_index) : -1,
          worker_index() ? static_cast<long>(*worker_index()) : -1};
}

int crash(int /*x*/) {
  ::raise(SIGKILL);
  return 0;
}

TEST(ProcessPoolInitializer, RunsOncePerWorkerProcessWithItsArguments) {
  parlab::ProcessPool pool{2, {.initializer = {open_worker_db, std::string{"lab.sqlite"}, 4}}};
  const auto pids = pool.pids();
  const auto seen = pool.map(look, std::vector<int>(40), {.chunksize = 1});
  std::set<long> indices;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.db, "lab.sqlite:4");
    EXPECT_EQ(s.calls, 1);
    EXPECT_EQ(s.init_index, s.index);  // the initializer ran on that worker, with its index
    ASSERT_GE(s.index, 0);
    ASSERT_LT(s.index, 2);
    EXPECT_EQ(pids[static_cast<std::size_t>(s.index)], s.pid);
    indices.insert(s.index);
  }
  EXPECT_FALSE(indices.empty());
  EXPECT_EQ(worker_db, "");  // ran in the workers, not here
  EXPECT_EQ(init_calls, 0);
}

TEST(ProcessPoolInitializer, AReplacementWorkerRunsItAgainAndKeepsTheIndex) {
  parlab::ProcessPool pool{1, {.initializer = {open_worker_db, std::string{"db"}, 1}}};
  const Seen before = pool.apply(look, 0);
  EXPECT_EQ(before.db, "db:1");
  EXPECT_EQ(before.index, 0);
  EXPECT_THROW((void)pool.apply(crash, 0), parlab::WorkerCrashed);
  const Seen after = pool.apply(look, 0);
  EXPECT_NE(after.pid, before.pid);
  EXPECT_EQ(after.db, "db:1");
  EXPECT_EQ(after.calls, 1);
  EXPECT_EQ(after.init_index, 0);
  EXPECT_EQ(after.index, 0);
}

TEST(ProcessPoolInitializer, ACaptureLessLambdaWithArguments) {
  parlab::ProcessPool pool{1,
                           {.initializer = {[](std::vector<int> parts, std::string sep) {
                                              worker_db.clear();
                                              for (int p : parts)
                                                worker_db += std::to_string(p) + sep;
                                            },
                                            std::vector<int>{1, 2, 3}, std::string{"-"}}}};
  EXPECT_EQ(pool.apply(look, 0).db, "1-2-3-");
}

void refuse(std::string why) { throw std::invalid_argument(why); }

TEST(ProcessPoolInitializer, ThrowingFailsTheTasksWithItsMessage) {
  parlab::ProcessPool pool{1, {.initializer = {refuse, std::string{"no database"}}}};
  const auto outcomes = pool.map_outcomes(look, std::vector<int>{1, 2});
  for (const auto& outcome : outcomes) {
    ASSERT_FALSE(outcome.ok());
    try {
      outcome.rethrow();
    } catch (const parlab::RemoteError& e) {
      EXPECT_EQ(e.type_name(), "std::invalid_argument");
      EXPECT_THAT(e.what(), testing::HasSubstr("initializer failed: no database"));
    }
  }
}

TEST(ProcessPoolWorkerIndex, IsTheWorkersSlotAndNulloptInTheProgram) {
  EXPECT_FALSE(worker_index().has_value());
  parlab::ProcessPool pool{3};
  const auto pids = pool.pids();
  for (const Seen& s : pool.map(look, std::vector<int>(30), {.chunksize = 1})) {
    ASSERT_GE(s.index, 0);
    ASSERT_LT(s.index, 3);
    EXPECT_EQ(pids[static_cast<std::size_t>(s.index)], s.pid);
  }
}

}  // namespace
