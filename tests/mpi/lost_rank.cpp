// Worker ranks lost mid-map under Open MPI's recovery (mpirun --enable-recovery): the map finishes
// with every result right, and MpiPool::lost_ranks() says what was lost. mpirun's exit status is
// 0 under recovery whatever happens, so the program checks its own results and prints PASS or
// FAIL (run_lost_rank.cmake reads that).
//   lost_rank kill-once DIR   item 7 kills its rank with SIGKILL the first time it runs
//   lost_rank segv-once DIR   the same with SIGSEGV
//   lost_rank kill-always     item 7 kills every rank it runs on: it fails with WorkerCrashed
//                             after retries + 1 ranks, every other item is right
//   lost_rank outside         rank 0 kills a worker rank's process with SIGKILL mid-map
//   lost_rank hang            item 5 never returns: it fails with TimeoutError (task_timeout),
//                             its rank exits, every other item is right
//   lost_rank silent          rank 0 stops a worker rank (SIGSTOP): it is lost after
//                             heartbeat_timeout and its work runs elsewhere
//   lost_rank mid-reply DIR   six items return 64 MiB each, and their ranks die 20 to 270 ms
//                             into them (the first time), some while the result is on its way
//                             to rank 0: rank 0 must not wait for the rest (respawn keeps the
//                             pool at full size)
//   lost_rank respawn DIR     as outside, with MpiOptions::respawn: a new process takes the
//                             killed rank's place and serves the pool's next map
//   lost_rank respawn-always  as kill-always, with respawn: the pool keeps its two workers
//   lost_rank cut-link DIR    item 7 takes its host's network link down the first time it runs
//                             (ip link set eth0 down; in scripts/netns-cluster): its rank is
//                             lost after heartbeat_timeout
#include <parlab/errors.hpp>
#include <parlab/mpi_pool.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
using Item = std::pair<int, std::string>;  // the number, and a folder where a crash leaves its mark

/// The first time item 7 runs anywhere (its mark is not there yet), its rank dies by `sig`.
int die_once(const Item& item, int sig) {
  if (item.first == 7) {
    const int fd = ::open((item.second + "/crashed").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) ::raise(sig);
  }
  return item.first * item.first;
}
int kill_once(const Item& item) { return die_once(item, SIGKILL); }
int segv_once(const Item& item) { return die_once(item, SIGSEGV); }
int kill_always(int x) {
  if (x == 7) ::raise(SIGKILL);
  return x * x;
}
long pid_of(int /*unused*/) { return static_cast<long>(::getpid()); }
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds{20});
  return x * x;
}
int hang_on_five(int x) {
  if (x == 5) std::this_thread::sleep_for(std::chrono::minutes{10});
  return x * x;
}
/// Items 0..5 return 64 MiB each; the first time one runs, its process dies 20 to 270 ms later
/// unless the next item has begun by then, so that some die while their result goes out (which
/// ones depends on the machine), others before, and none takes another item down with it.
std::atomic<int> running_item{-1};
std::vector<double> big_once(const Item& item) {
  running_item.store(item.first);
  const std::string mark = item.second + "/sending" + std::to_string(item.first);
  if (item.first < 6 && ::open(mark.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0)
    std::thread{[k = item.first] {
      std::this_thread::sleep_for(std::chrono::milliseconds{20 + 50 * k});
      if (running_item.load() == k) ::raise(SIGKILL);
    }}.detach();
  return std::vector<double>(item.first < 6 ? 8U << 20 : 1, static_cast<double>(item.first));
}
bool initialized = false;  // on a worker rank: the pool's initializer ran in this process
void initialize() { initialized = true; }
bool was_initialized(int /*unused*/) { return initialized; }
/// The first time item 7 runs, its host's network goes down (a namespace of scripts/netns-cluster).
int cut_link_once(const Item& item) {
  if (item.first == 7 && ::open((item.second + "/cut").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0 &&
      std::system("ip link set eth0 down") != 0)
    return -1;
  std::this_thread::sleep_for(std::chrono::milliseconds{20});
  return item.first * item.first;
}
}  // namespace
PARLAB_MPI_TASK(kill_once);
PARLAB_MPI_TASK(segv_once);
PARLAB_MPI_TASK(kill_always);
PARLAB_MPI_TASK(pid_of);
PARLAB_MPI_TASK(slow_square);
PARLAB_MPI_TASK(hang_on_five);
PARLAB_MPI_TASK(cut_link_once);
PARLAB_MPI_TASK(initialize);
PARLAB_MPI_TASK(big_once);
PARLAB_MPI_TASK(was_initialized);

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what.c_str());
    ++failures;
  }
}

/// Every outcome but those in `failing` is i * i; those fail with an error of type E.
template <class E, class Outcomes>
void check_outcomes(const Outcomes& outcomes, std::vector<std::size_t> failing = {}) {
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const bool should_fail = std::find(failing.begin(), failing.end(), i) != failing.end();
    if (should_fail) {
      bool right_error = false;
      try {
        outcomes[i].rethrow();
      } catch (const E& e) {
        right_error = true;
        std::printf("item %zu failed as it should: %s\n", i, e.what());
      } catch (...) {
      }
      check(right_error, "item " + std::to_string(i) + " did not fail with the error it should");
    } else {
      check(outcomes[i].ok() && outcomes[i].value() == static_cast<int>(i * i),
            "item " + std::to_string(i) + " is not " + std::to_string(i * i));
    }
  }
}

/// The pool has all its workers again, processes started in the place of the lost ranks (none of
/// them `victim`): a map of pids sees as many as the pool has workers, the replacements among
/// them, and the pool's initializer ran in each.
void check_replaced(parlab::MpiPool& pool, long victim) {
  std::vector<long> seen;
  for (int round = 0; round < 50 && seen.size() < pool.size(); ++round) {
    for (const long pid : pool.map(pid_of, std::vector<int>(64, 0), {.chunksize = 1}))
      if (std::find(seen.begin(), seen.end(), pid) == seen.end()) seen.push_back(pid);
  }
  check(seen.size() == pool.size(), std::to_string(seen.size()) + " worker processes serve the pool, not " +
                                        std::to_string(pool.size()));
  check(std::find(seen.begin(), seen.end(), victim) == seen.end(), "the killed process still serves");
  for (const bool ran : pool.map(was_initialized, std::vector<int>(64, 0), {.chunksize = 1}))
    check(ran, "a task ran where the pool's initializer had not");
  const auto lost = parlab::MpiPool::lost_ranks();
  for (const auto& l : lost) {
    const bool replacement_lost =
        std::any_of(lost.begin(), lost.end(), [&](const parlab::LostRank& later) { return later.pid == l.replaced_by; });
    check(l.replaced_by != 0 && (replacement_lost || std::find(seen.begin(), seen.end(), l.replaced_by) != seen.end()),
          "rank " + std::to_string(l.rank) + "'s replacement (pid " + std::to_string(l.replaced_by) +
              ") does not serve the pool");
  }
}

std::vector<Item> items(int n, const std::string& dir) {
  std::vector<Item> out;
  for (int i = 0; i < n; ++i)
    out.emplace_back(i, dir);
  return out;
}
std::vector<int> numbers(int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i)
    out.push_back(i);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  parlab::MpiPool::start();
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string dir = argc > 2 ? argv[2] : "";
  std::size_t expect_lost = 1;
  std::string expect_reason;
  const auto started = std::chrono::steady_clock::now();
  if (mode == "kill-once" || mode == "segv-once") {
    parlab::MpiPool pool;
    const auto fn = mode == "kill-once" ? kill_once : segv_once;
    check_outcomes<std::exception>(pool.map_outcomes(fn, items(40, dir), {.chunksize = 4}));
    expect_reason = "ended";
  } else if (mode == "kill-always") {
    parlab::MpiPool pool{0, {.retries = 1}};
    check_outcomes<parlab::WorkerCrashed>(pool.map_outcomes(kill_always, numbers(40), {.chunksize = 4}), {7});
    expect_lost = 2;  // the item ran twice: retries + 1
    expect_reason = "ended";
  } else if (mode == "outside" || mode == "silent" || mode == "respawn") {
    parlab::MpiPool pool{0,
                         {.heartbeat_timeout = std::chrono::milliseconds{1000}, .respawn = mode == "respawn",
                          .initializer = initialize}};
    const long victim = pool.apply(pid_of, 0);  // a worker rank
    auto pending = pool.map_outcomes_async(slow_square, numbers(200), {.chunksize = 5});
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    const int sig = mode == "silent" ? SIGSTOP : SIGKILL;
    std::printf("sending %s to worker process %ld\n", sig == SIGKILL ? "SIGKILL" : "SIGSTOP", victim);
    std::fflush(stdout);
    const auto signalled = std::chrono::steady_clock::now();
    ::kill(static_cast<pid_t>(victim), sig);
    while (parlab::MpiPool::lost_ranks().empty() && std::chrono::steady_clock::now() - signalled < std::chrono::seconds{30})
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    std::printf("the rank was found lost %.1f ms after the signal\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - signalled).count());
    check_outcomes<std::exception>(pending.get());
    expect_reason = mode == "silent" ? "silent for" : "ended";
    if (mode == "respawn") check_replaced(pool, victim);
  } else if (mode == "mid-reply") {
    parlab::MpiPool pool{0, {.respawn = true}};
    const auto results = pool.map_outcomes(big_once, items(10, dir), {.chunksize = 1});
    for (std::size_t i = 0; i < results.size(); ++i) {
      const std::string what = results[i].ok() ? "" : parlab::describe(results[i].error());
      check(results[i].ok(), "item " + std::to_string(i) + " failed: " + what);
      if (results[i].ok())
        check(results[i].value().size() == (i < 6 ? 8U << 20 : 1) &&
                  results[i].value().front() == static_cast<double>(i) && results[i].value().back() == static_cast<double>(i),
              "item " + std::to_string(i) + "'s result is wrong");
    }
    expect_lost = 0;  // 1 to 6, as the machine's timing has it
    expect_reason = "ended";
  } else if (mode == "respawn-always") {
    parlab::MpiPool pool{0, {.retries = 1, .respawn = true, .initializer = initialize}};
    check_outcomes<parlab::WorkerCrashed>(pool.map_outcomes(kill_always, numbers(40), {.chunksize = 4}), {7});
    expect_lost = 2;
    expect_reason = "ended";
    check_replaced(pool, 0);
  } else if (mode == "hang") {
    parlab::MpiPool pool{0, {.task_timeout = std::chrono::milliseconds{500}}};
    check_outcomes<parlab::TimeoutError>(pool.map_outcomes(hang_on_five, numbers(40), {.chunksize = 4}), {5});
    expect_reason = "task 5 ran past task_timeout";
  } else if (mode == "cut-link") {
    parlab::MpiPool pool{0, {.heartbeat_timeout = std::chrono::milliseconds{3000}}};
    check_outcomes<std::exception>(pool.map_outcomes(cut_link_once, items(60, dir), {.chunksize = 1}));
    expect_reason = "silent for";
  } else {
    std::fprintf(stderr, "usage: lost_rank kill-once|segv-once DIR | kill-always | outside | hang | silent | cut-link\n");
    return 2;
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto lost = parlab::MpiPool::lost_ranks();
  for (const auto& l : lost)
    std::printf("lost rank %d (pid %ld): %s; %zu item(s) sent again; replaced by %ld\n", l.rank, l.pid,
                l.reason.c_str(), l.items_rerun, l.replaced_by);
  if (expect_lost == 0)
    check(!lost.empty(), "no rank was lost");
  else
    check(lost.size() == expect_lost, std::to_string(lost.size()) + " ranks lost, not " + std::to_string(expect_lost));
  for (const auto& l : lost)
    check(l.reason.find(expect_reason) != std::string::npos && l.pid > 0,
          "rank " + std::to_string(l.rank) + " lost for '" + l.reason + "', not '" + expect_reason + "'");
  check(parlab::MpiPool::recovery_enabled(), "MpiPool does not see mpirun's --enable-recovery");
  if (failures == 0) std::printf("lost_rank %s: PASS in %.2f s\n", mode.c_str(), took);
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}
