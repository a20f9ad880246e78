// ProcessPool's memory limits: max_memory_per_child replaces a worker whose resident memory grew
// past it after a chunk; max_memory_hard kills the task during which the worker crossed it
// (MemoryLimitError) and the pool goes on.
#include "parlab/process_pool.hpp"
#include "support/files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

constexpr std::size_t mb = 1024 * 1024;

/// The calling process's resident set size in bytes.
std::size_t own_rss(int /*x*/) {
  std::ifstream statm{"/proc/self/statm"};
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// The resident set of a fresh worker (under a sanitizer it is much larger than in a release
/// build): the limits below are set above it.
std::size_t worker_baseline() {
  parlab::ProcessPool probe{1};
  return probe.apply(own_rss, 0);
}

long worker_pid(int /*x*/) { return static_cast<long>(::getpid()); }

/// Allocates `megabytes` and writes to every page, so that they are resident.
std::unique_ptr<char[]> touch(std::size_t megabytes) {
  const std::size_t bytes = megabytes * mb;
  auto block = std::make_unique_for_overwrite<char[]>(bytes);
  for (std::size_t i = 0; i < bytes; i += 4096)
    static_cast<volatile char*>(block.get())[i] = 1;
  return block;
}

std::vector<std::unique_ptr<char[]>> kept;  // in the worker: memory a task keeps (a leak)

/// Grows the worker by `megabytes` that stay resident after the task; returns the worker's pid.
long grow_and_keep(int megabytes) {
  kept.push_back(touch(static_cast<std::size_t>(megabytes)));
  return static_cast<long>(::getpid());
}

/// Uses `megabytes` for the length of the task, recording each attempt in the file `log`. A task
/// of 1 GiB or more then holds it for 20 s, so that however loaded the machine, the pool sees it
/// over the limit before the task ends (and the test takes 20 s longer only when it fails).
int use_memory(std::tuple<int, std::string> args) {
  const auto& [megabytes, log] = args;
  std::ofstream{log, std::ios::app} << megabytes << '\n';
  const auto block = touch(static_cast<std::size_t>(megabytes));
  if (megabytes >= 1024) std::this_thread::sleep_for(std::chrono::seconds{20});
  return megabytes;
}

TEST(ProcessMemory, SoftLimitReplacesAWorkerThatGrewPastIt) {
  const std::size_t limit = worker_baseline() + 32 * mb;
  parlab::ProcessPool pool{1, {.max_memory_per_child = limit}};
  const long first = pool.apply(worker_pid, 0);
  EXPECT_EQ(pool.apply(worker_pid, 0), first);      // under the limit: kept
  EXPECT_EQ(pool.apply(grow_and_keep, 64), first);  // the task itself runs to the end
  const long second = pool.apply(worker_pid, 0);
  EXPECT_NE(second, first);  // over the limit after it: replaced
  EXPECT_EQ(pool.apply(worker_pid, 0), second);
}

TEST(ProcessMemory, SoftLimitIsCheckedAfterEachChunk) {
  const std::size_t limit = worker_baseline() + 32 * mb;
  parlab::ProcessPool pool{1, {.max_memory_per_child = limit}};
  // Chunks of one: the worker that grew is replaced after its task, so no pid runs two growths.
  const auto pids = pool.map(grow_and_keep, std::vector<int>{64, 64, 64}, {.chunksize = 1});
  EXPECT_EQ(std::set<long>(pids.begin(), pids.end()).size(), 3U);
}

TEST(ProcessMemory, HardLimitKillsTheTaskThatCrossedItAndTheMapGoesOn) {
  parlab::test::TempDir dir;
  const std::string log = (dir.path() / "attempts").string();
  const std::size_t limit = worker_baseline() + 128 * mb;
  parlab::ProcessPool pool{2, {.retries = 2, .max_memory_hard = limit}};
  std::vector<std::tuple<int, std::string>> items;
  for (const int megabytes : {1, 2, 1024, 3, 4, 5})
    items.emplace_back(megabytes, log);
  const auto pids_before = pool.pids();
  // Chunks [0, 4) and [4, 6): item 3 comes after the killed task in its chunk.
  const auto outcomes = pool.map_outcomes(use_memory, items, {.chunksize = 4});
  ASSERT_EQ(outcomes.size(), items.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (i == 2) continue;
    ASSERT_TRUE(outcomes[i].ok()) << i;
    EXPECT_EQ(outcomes[i].value(), std::get<0>(items[i]));
  }
  ASSERT_FALSE(outcomes[2].ok());
  try {
    outcomes[2].rethrow();
    FAIL();
  } catch (const parlab::MemoryLimitError& e) {
    EXPECT_EQ(e.index(), 2U);
    EXPECT_EQ(e.limit(), limit);
    EXPECT_THAT(pids_before, testing::Contains(e.pid()));
    EXPECT_THAT(pool.pids(), testing::Not(testing::Contains(e.pid())));  // replaced
    EXPECT_THAT(e.what(), testing::StartsWith("parlab: task 2: worker process"));
    EXPECT_THAT(e.what(), testing::HasSubstr("max_memory_hard"));
  }
  // Not retried (retries is for deaths): the 1024 MB task ran once.
  const std::string attempts = parlab::test::read_file(log);
  std::size_t big = 0;
  for (std::size_t at = attempts.find("1024\n"); at != std::string::npos;
       at = attempts.find("1024\n", at + 1))
    ++big;
  EXPECT_EQ(big, 1U);
  // The pool goes on.
  EXPECT_EQ(pool.apply(use_memory, std::tuple<int, std::string>{6, log}), 6);
}

TEST(ProcessMemory, HardLimitOnApply) {
  parlab::test::TempDir dir;
  const std::string log = (dir.path() / "attempts").string();
  parlab::ProcessPool pool{1, {.max_memory_hard = worker_baseline() + 128 * mb}};
  try {
    (void)pool.apply(use_memory, std::tuple<int, std::string>{1024, log});
    FAIL();
  } catch (const parlab::MemoryLimitError& e) {
    EXPECT_EQ(e.index(), 0U);
  }
  EXPECT_EQ(pool.apply(use_memory, std::tuple<int, std::string>{1, log}), 1);
}

}  // namespace
