// ProcessPool: the Pool API over worker processes, and every failure it promises to survive.
#include "parlab/parlab.hpp"
#include "support/callbacks.hpp"
#include "support/files.hpp"
#include "support/touchy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using parlab::ProcessOptions;
using parlab::ProcessPool;

int square(int x) { return x * x; }
long square_long(long x) { return x * x; }
int add(int a, int b) { return a + b; }
long worker_pid(int /*x*/) { return static_cast<long>(::getpid()); }

int throw_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not allowed");
  return x;
}

/// A crash of the given kind, in the worker that runs it.
enum CrashKind { none = 0, segv, sigkill, abort_call, exit_3, terminate_call };
int crash(int kind) {
  switch (kind) {
    case segv:
      ::raise(SIGSEGV);
      break;
    case sigkill:
      ::raise(SIGKILL);
      break;
    case abort_call:
      std::abort();
    case exit_3:
      ::_exit(3);
    case terminate_call:
      std::terminate();
    default:
      break;
  }
  return kind;
}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
  return ms;
}

struct Point {
  int x = 0;
  double y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label);
  }
  bool operator==(const Point&) const = default;
};

Point move_point(Point p) {
  p.x += 1;
  p.y *= 2;
  p.label += "!";
  return p;
}

/// Open file descriptors of this process.
std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

/// Child processes of this process that are not yet reaped or still running.
std::set<long> children() {
  std::set<long> out;
  for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in{task.path() / "children"};
    long pid = 0;
    while (in >> pid)
      out.insert(pid);
  }
  return out;
}

bool process_gone(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return true;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;  // a sanitizer's SIGSEGV handler ends the process its own way
#else
constexpr bool sanitized = false;
#endif

// The signal a crash kind ends with.
int expected_signal(int kind) {
  switch (kind) {
    case segv:
      return SIGSEGV;
    case sigkill:
      return SIGKILL;
    case abort_call:
    case terminate_call:
      return SIGABRT;
    default:
      return 0;
  }
}

TEST(ProcessPool, MapStarmapApplyAndImapGiveThreadPoolResults) {
  ProcessPool pool{2};
  std::vector<int> xs(1000);
  for (int i = 0; i < 1000; ++i)
    xs[static_cast<std::size_t>(i)] = i;
  const auto squares = pool.map(square, xs);
  ASSERT_EQ(squares.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    EXPECT_EQ(squares[i], xs[i] * xs[i]);

  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{3, 7, 11}));
  EXPECT_EQ(pool.apply(add, 20, 22), 42);
  EXPECT_EQ(pool.apply_async(square, 9).get(), 81);
  EXPECT_EQ(pool.map_async(square, std::vector<int>{1, 2, 3}).get(), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(pool.starmap_async(add, pairs).get(), (std::vector<int>{3, 7, 11}));

  std::vector<int> ordered;
  for (int v : pool.imap(square, xs, {.chunksize = 7}))
    ordered.push_back(v);
  EXPECT_EQ(ordered, squares);
  std::multiset<int> unordered;
  for (int v : pool.imap_unordered(square, xs))
    unordered.insert(v);
  EXPECT_EQ(unordered, std::multiset<int>(squares.begin(), squares.end()));
}

TEST(ProcessPool, CallbacksRunOneAtATimeOnOneThreadOfThePool) {
  ProcessPool pool{2};
  parlab::test::expect_callbacks_one_at_a_time(pool, square_long, 60);
}

TEST(ProcessPool, OptionsAsTheDesignWritesThem) {
  parlab::ProcessPool procs{2, {.task_timeout = 10s, .max_tasks_per_child = 1000}};
  EXPECT_EQ(procs.size(), 2U);
  EXPECT_EQ(procs.pids().size(), 2U);
  EXPECT_EQ(procs.map(square, std::vector<int>{4, 5}), (std::vector<int>{16, 25}));
}

TEST(ProcessPool, CaptureLessLambdasStdTypesAndUserTypesTravel) {
  ProcessPool pool{2};
  auto words =
      pool.map([](const std::string& s) { return s + s; }, std::vector<std::string>{"ab", "", "xyz"});
  EXPECT_EQ(words, (std::vector<std::string>{"abab", "", "xyzxyz"}));

  using Dict = std::map<std::string, std::vector<double>>;
  auto sums = pool.map(
      [](const Dict& d) {
        double total = 0;
        for (const auto& [key, values] : d)
          for (double v : values)
            total += v;
        return std::optional<double>{total};
      },
      std::vector<Dict>{{{"a", {1.5, 2.5}}, {"b", {}}}, {}});
  EXPECT_EQ(sums, (std::vector<std::optional<double>>{4.0, 0.0}));

  auto points = pool.map(move_point, std::vector<Point>{{1, 1.5, "p"}, {-3, 0, ""}});
  EXPECT_EQ(points, (std::vector<Point>{{2, 3.0, "p!"}, {-2, 0, "!"}}));

  pool.map([](int) {}, std::vector<int>{1, 2, 3});  // void results
}

using parlab::test::Touchy;
using parlab::test::touchy_value;

TEST(ProcessPool, AnArgumentThatCannotBeSentFailsAlone) {
  ProcessPool pool{2};
  std::vector<Touchy> items{{1}, {2}, {-3}, {4}, {-5}, {6}};
  auto outcomes = pool.map_outcomes(touchy_value, items, {.chunksize = 6});
  ASSERT_EQ(outcomes.size(), 6U);
  for (std::size_t i : {0U, 1U, 3U, 5U})
    EXPECT_EQ(outcomes[i].value(), items[i].v);
  EXPECT_THROW(outcomes[2].rethrow(), std::domain_error);
  EXPECT_THROW(outcomes[4].rethrow(), std::domain_error);
}

TEST(ProcessPool, TaskExceptionReachesTheCallerWithTypeMessageAndIndex) {
  ProcessPool pool{2};
  try {
    (void)pool.map(throw_on_three, std::vector<int>{0, 1, 2, 3, 4, 5}, {.chunksize = 2});
    FAIL() << "map should have thrown";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 3U);
    try {
      e.rethrow_original();
    } catch (const parlab::RemoteError& remote) {
      EXPECT_EQ(remote.type_name(), "std::invalid_argument");
      EXPECT_EQ(remote.message(), "three is not allowed");
    }
    EXPECT_THAT(e.what(), testing::HasSubstr("std::invalid_argument: three is not allowed"));
  }
  EXPECT_THROW((void)pool.apply(throw_on_three, 3), parlab::RemoteError);
}

TEST(ProcessPool, EachCrashKindFailsOnlyItsTaskAndThePoolGoesOn) {
  ProcessPool pool{2};
  for (int kind : {segv, sigkill, abort_call, exit_3, terminate_call}) {
    SCOPED_TRACE(kind);
    std::vector<int> items{none, none, kind, none, none, none};
    auto outcomes = pool.map_outcomes(crash, items, {.chunksize = 3});
    ASSERT_EQ(outcomes.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i == 2) {
        ASSERT_FALSE(outcomes[i].ok());
        try {
          outcomes[i].rethrow();
        } catch (const parlab::WorkerCrashed& crashed) {
          EXPECT_EQ(crashed.index(), 2U);
          EXPECT_GT(crashed.pid(), 0);
          if (kind == exit_3) {
            EXPECT_EQ(crashed.exit_status(), 3);
            EXPECT_EQ(crashed.signal(), 0);
          } else if (kind == segv && sanitized) {
            EXPECT_TRUE(crashed.signal() != 0 || crashed.exit_status() > 0) << crashed.what();
          } else {
            EXPECT_EQ(crashed.signal(), expected_signal(kind)) << crashed.what();
          }
        }
      } else {
        ASSERT_TRUE(outcomes[i].ok()) << parlab::describe(outcomes[i].error());
        EXPECT_EQ(outcomes[i].value(), none);
      }
    }
  }
  EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
}

TEST(ProcessPool, MapRaisesTheFirstFailureByIndexAfterTheOthersFinished) {
  ProcessPool pool{2};
  try {
    (void)pool.map(crash, std::vector<int>{none, exit_3, none, abort_call}, {.chunksize = 1});
    FAIL();
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 1U);
    EXPECT_THROW(e.rethrow_original(), parlab::WorkerCrashed);
  }
  try {
    (void)pool.apply(crash, sigkill);
    FAIL();
  } catch (const parlab::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGKILL);
    EXPECT_THAT(e.what(), testing::HasSubstr("SIGKILL"));
  }
}

/// Creates `marker` (so the test knows the task runs), then sleeps.
int mark_then_sleep(std::string marker, int ms) {
  std::ofstream{marker} << "running";
  return sleep_ms(ms);
}

TEST(ProcessPool, AWorkerKilledFromOutsideFailsItsTaskAndIsReplaced) {
  parlab::test::TempDir dir;
  const auto marker = dir.path() / "running";
  ProcessPool pool{1};
  const long before = pool.pids().at(0);
  ASSERT_GT(before, 0);
  auto running = pool.apply_async(mark_then_sleep, marker.string(), 60'000);
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(marker); }, 30s));
  ASSERT_EQ(::kill(static_cast<pid_t>(before), SIGKILL), 0);
  try {
    (void)running.get(30s);
    FAIL();
  } catch (const parlab::WorkerCrashed& e) {
    EXPECT_EQ(e.pid(), before);
    EXPECT_EQ(e.signal(), SIGKILL);
  }
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_NE(pool.pids().at(0), before);

  // Killed while idle: the next task notices and runs on a fresh worker.
  const long idle = pool.pids().at(0);
  ASSERT_EQ(::kill(static_cast<pid_t>(idle), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return process_gone(idle); }, 5s));
  EXPECT_EQ(pool.map(square, std::vector<int>{2, 3}), (std::vector<int>{4, 9}));
}

int crash_once(std::string marker) {
  if (!std::filesystem::exists(marker)) {
    std::ofstream{marker} << "crashed";
    ::raise(SIGKILL);
  }
  return 7;
}

TEST(ProcessPool, RetriesRunATransientCrashAgain) {
  parlab::test::TempDir dir;
  {
    ProcessPool pool{1, {.retries = 1}};
    EXPECT_EQ(pool.apply(crash_once, (dir.path() / "a").string()), 7);
  }
  {
    ProcessPool pool{1, {.retries = 0}};
    EXPECT_THROW((void)pool.apply(crash_once, (dir.path() / "b").string()), parlab::WorkerCrashed);
    EXPECT_EQ(pool.apply(crash_once, (dir.path() / "b").string()), 7);
  }
  {
    ProcessPool pool{1, {.retries = 2}};  // a crash that is not transient still fails, after 3 tries
    EXPECT_THROW((void)pool.apply(crash, sigkill), parlab::WorkerCrashed);
  }
}

TEST(ProcessPool, ATaskPastItsTimeoutIsKilledAndFailsWithTimeoutError) {
  ProcessPool pool{2, {.task_timeout = 1000ms}};
  const auto start = std::chrono::steady_clock::now();
  auto outcomes = pool.map_outcomes(sleep_ms, std::vector<int>{1, 60'000, 2, 3}, {.chunksize = 1});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // not the 60 s the task wanted
  ASSERT_FALSE(outcomes[1].ok());
  EXPECT_THROW(outcomes[1].rethrow(), parlab::TimeoutError);
  EXPECT_EQ(outcomes[0].value(), 1);
  EXPECT_EQ(outcomes[2].value(), 2);
  EXPECT_EQ(outcomes[3].value(), 3);
  EXPECT_EQ(pool.apply(square, 5), 25);
}

int initialized_value = 0;
void initialize_worker() { initialized_value = 41; }
void failing_initializer() { throw std::runtime_error("no database"); }
int read_initialized(int x) { return initialized_value + x; }

TEST(ProcessPool, InitializerRunsOncePerWorkerAndItsFailureIsReported) {
  {
    ProcessPool pool{2, {.initializer = initialize_worker}};
    EXPECT_EQ(pool.map(read_initialized, std::vector<int>{1, 1, 1}), (std::vector<int>{42, 42, 42}));
  }
  EXPECT_EQ(initialized_value, 0);  // ran in the workers, not here
  ProcessPool pool{1, {.initializer = failing_initializer}};
  try {
    (void)pool.apply(read_initialized, 1);
    FAIL();
  } catch (const parlab::RemoteError& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("initializer failed: no database"));
  }
}

TEST(ProcessPool, MaxTasksPerChildReplacesWorkers) {
  ProcessPool pool{1, {.max_tasks_per_child = 2}};
  auto pids = pool.map(worker_pid, std::vector<int>(6), {.chunksize = 1});
  EXPECT_EQ(std::set<long>(pids.begin(), pids.end()).size(), 3U);
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_NE(pids[1], pids[2]);
}

std::string big_string(std::size_t bytes) {
  std::string s(bytes, '\0');
  for (std::size_t i = 0; i < bytes; i += 4096)
    s[i] = static_cast<char>('a' + (i / 4096) % 26);
  return s;
}

TEST(ProcessPool, A256MiBResultRoundTrips) {
  ProcessPool pool{1};
  const std::size_t size = std::size_t{256} << 20;
  const std::string got = pool.apply(big_string, size);
  ASSERT_EQ(got.size(), size);
  EXPECT_TRUE(got == big_string(size));
}

TEST(ProcessPool, NothingLeaksAfterThePoolIsDestroyed) {
  const std::size_t fds = open_fds();
  const auto kids = children();
  std::vector<long> pids;
  {
    ProcessPool pool{2};
    pids = pool.pids();
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2}), (std::vector<int>{1, 4}));
    (void)pool.map_outcomes(crash, std::vector<int>{segv, none});
  }
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(children(), kids);
  for (long pid : pids)
    EXPECT_TRUE(process_gone(pid)) << pid;
}

TEST(ProcessPool, TerminateKillsRunningTasks) {
  ProcessPool pool{1};
  auto running = pool.apply_async(sleep_ms, 60'000);
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  pool.terminate();
  EXPECT_THROW((void)running.get(30s), parlab::PoolTerminated);
  pool.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST(ProcessPool, StartsSafelyWhileAThreadPoolIsBusy) {
  parlab::Pool threads{2};
  std::atomic<bool> stop{false};
  auto busy = threads.map_async(
      [&](int) {
        while (!stop.load()) {
          std::vector<int> churn(1000, 1);  // allocating, so malloc's locks are taken all the time
          std::cout.flush();
        }
        return 0;
      },
      std::vector<int>{0, 1});
  for (int round = 0; round < 3; ++round) {
    ProcessPool pool{2};
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3, 4}), (std::vector<int>{1, 4, 9, 16}));
    (void)pool.map_outcomes(crash, std::vector<int>{none, sigkill, none});  // respawns too
    EXPECT_EQ(pool.apply(square, 3), 9);
  }
  stop = true;
  (void)busy.get();
}

/// Checks a map_outcomes run where `kinds[i]` says whether task i crashed its worker: every other
/// task has `expected(i)`, every crash is a WorkerCrashed with its index. Returns the crashes.
template <class R, class Expected>
std::size_t check_crash_outcomes(const std::vector<int>& kinds,
                                 const std::vector<parlab::Outcome<R>>& outcomes, Expected expected) {
  EXPECT_EQ(outcomes.size(), kinds.size());
  std::size_t crashed = 0;
  for (std::size_t i = 0; i < kinds.size() && i < outcomes.size(); ++i) {
    if (kinds[i] == none) {
      EXPECT_TRUE(outcomes[i].ok()) << i << ": " << parlab::describe(outcomes[i].error());
      if (outcomes[i].ok()) {
        EXPECT_EQ(outcomes[i].value(), expected(i));
      }
      continue;
    }
    EXPECT_FALSE(outcomes[i].ok()) << i;
    try {
      outcomes[i].rethrow();
    } catch (const parlab::WorkerCrashed& e) {
      EXPECT_EQ(e.index(), i);
      ++crashed;
    }
  }
  return crashed;
}

/// Task kinds: a crash of a random kind with probability 5%, else none.
std::vector<int> random_kinds(std::size_t n, unsigned seed, int first_kind, int last_kind) {
  std::mt19937 rng{seed};
  std::bernoulli_distribution crashes{0.05};
  std::uniform_int_distribution<int> kind{first_kind, last_kind};
  std::vector<int> kinds(n);
  for (auto& k : kinds)
    k = crashes(rng) ? kind(rng) : none;
  return kinds;
}

std::size_t count_crashes(const std::vector<int>& kinds) {
  return static_cast<std::size_t>(std::count_if(kinds.begin(), kinds.end(), [](int k) { return k != none; }));
}

TEST(ProcessPool, RandomCrashesNeverHangAndEveryCrashIsReported) {
  ProcessPool pool{2, {.retries = 0}};
  const auto kinds = random_kinds(1000, 12345, segv, terminate_call);
  auto outcomes = pool.map_outcomes(crash, kinds, {.chunksize = 10});
  EXPECT_EQ(check_crash_outcomes(kinds, outcomes, [](std::size_t) { return int{none}; }),
            count_crashes(kinds));
  EXPECT_GT(count_crashes(kinds), 20U);
}

/// A task with a large argument (so that a chunk spans many frames) that may crash its worker.
std::size_t crash_with_payload(const std::pair<int, std::string>& item) {
  crash(item.first);
  return item.second.size();
}

TEST(ProcessPool, CrashesInsideChunksThatSpanManyFramesAreEachReported) {
  ProcessPool pool{2};
  const auto kinds = random_kinds(400, 777, sigkill, sigkill);
  std::vector<std::pair<int, std::string>> items(kinds.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    items[i] = {kinds[i], std::string(20'000 + i, 'x')};
  auto outcomes = pool.map_outcomes(crash_with_payload, items, {.chunksize = 200});
  EXPECT_EQ(check_crash_outcomes(kinds, outcomes, [&](std::size_t i) { return items[i].second.size(); }),
            count_crashes(kinds));
  EXPECT_GT(count_crashes(kinds), 5U);
}

}  // namespace

namespace {

TEST(ProcessPool, CtrlCStopsTheProgramAndItsWorkersWithin1s) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(PARLAB_INTERRUPTED_MAP, PARLAB_INTERRUPTED_MAP, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c = 0;
  while (::read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(out[0]);
  std::istringstream words{line};
  std::string head;
  words >> head;
  ASSERT_EQ(head, "pids") << line;
  std::vector<long> pids;
  for (long pid = 0; words >> pid;)
    pids.push_back(pid);
  ASSERT_EQ(pids.size(), 3U) << "fork server and two workers: " << line;

  ASSERT_EQ(::kill(child, SIGINT), 0);
  const auto sent = std::chrono::steady_clock::now();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGINT);  // the shell reports 128 + 2 = 130
  const auto all_gone = [&] {
    return std::all_of(pids.begin(), pids.end(), [](long pid) { return process_gone(pid); });
  };
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
  EXPECT_TRUE(eventually(all_gone, std::max(0ms, 1000ms - waited)))
      << "still running 1 s after Ctrl-C: " << line;
}

}  // namespace
