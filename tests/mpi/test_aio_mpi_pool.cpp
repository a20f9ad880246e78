// aio with MpiPool under mpirun (-np 3 in ctest): rank 0's event loop awaits work on the worker
// ranks with run_in_executor, wrap_future and anext while its other tasks keep running; the
// other ranks serve tasks from MpiPool::start() in main() and exit when rank 0 ends.
#include <parlab/aio_pool.hpp>
#include <parlab/mpi_pool.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

long square(long x) { return x * x; }
int checked_sqrt(int x) {
  if (x < 0) throw std::domain_error("negative input " + std::to_string(x));
  return x == 0 ? 0 : static_cast<int>(std::sqrt(static_cast<double>(x)));
}
int rank_after(int millis) {
  std::this_thread::sleep_for(std::chrono::milliseconds{millis});
  return parlab::MpiPool::rank();
}
long not_registered(long x) { return x + 1; }

}  // namespace

PARLAB_MPI_TASK(square);
PARLAB_MPI_TASK(checked_sqrt);
PARLAB_MPI_TASK(rank_after);

namespace {

namespace aio = parlab::aio;
using namespace std::chrono_literals;
using aio::Task;

/// Ticks on the loop until `*done`; returns the ticks.
Task<int> tick_until(const bool* done) {
  int ticks = 0;
  while (!*done) {
    ++ticks;
    co_await aio::sleep(2ms);
  }
  co_return ticks;
}

/// Runs rank_after(300) on a worker rank from the loop, then sets `*done`.
Task<int> remote_rank(parlab::MpiPool* pool, bool* done) {
  const int rank = co_await aio::run_in_executor(*pool, rank_after, 300);
  *done = true;
  co_return rank;
}

TEST(AioMpiPool, RunInExecutorRunsOnAWorkerRankWhileTheLoopRuns) {
  parlab::MpiPool pool;
  bool done = false;
  auto [rank, ticks] = aio::run(aio::gather(remote_rank(&pool, &done), tick_until(&done)));
  EXPECT_GT(rank, 0);
  EXPECT_LT(rank, parlab::MpiPool::ranks());
  EXPECT_GT(ticks, 1);  // the loop went on while rank `rank` slept
}

TEST(AioMpiPool, ValuesErrorsAndManyAwaits) {
  parlab::MpiPool pool;
  aio::run([&]() -> Task<void> {
    EXPECT_EQ(co_await aio::run_in_executor(pool, square, 12L), 144);
    EXPECT_EQ(co_await aio::run_in_executor(
                  pool, [](std::string s) { return s + "!"; }, std::string("mpi")),
              "mpi!");
    std::vector<Task<long>> many;
    for (long i = 0; i < 200; ++i)
      many.push_back(aio::wrap_future(pool.apply_async(square, i)));
    const auto squares = co_await aio::gather(std::move(many));
    for (long i = 0; i < 200; ++i)
      EXPECT_EQ(squares[static_cast<std::size_t>(i)], i * i);
    try {
      (void)co_await aio::run_in_executor(pool, checked_sqrt, -4);
      ADD_FAILURE() << "no exception";
    } catch (const parlab::RemoteError& e) {  // as pool.apply(checked_sqrt, -4) throws
      EXPECT_EQ(e.type_name(), "std::domain_error");
    }
    // The pool's own checks: an unregistered function is refused when the call is made.
    EXPECT_THROW((void)aio::run_in_executor(pool, not_registered, 1L), std::invalid_argument);
  });
}

TEST(AioMpiPool, ImapUnorderedFromTheLoop) {
  parlab::MpiPool pool;
  std::vector<long> xs(50);
  std::iota(xs.begin(), xs.end(), 0L);
  auto results = pool.imap_unordered(square, xs);
  const long total = aio::run([&]() -> Task<long> {
    long sum = 0;
    while (auto value = co_await aio::anext(results))
      sum += *value;
    co_return sum;
  });
  EXPECT_EQ(total, 40425);  // sum of squares 0..49
}

TEST(AioMpiPool, ACancelledAwaitCancelsTheQueuedCall) {
  parlab::MpiPool pool;
  // Keep every worker rank busy, so that the last call is still queued when it is cancelled.
  std::vector<parlab::AsyncResult<int>> busy;
  for (int r = 1; r < parlab::MpiPool::ranks(); ++r)
    busy.push_back(pool.apply_async(rank_after, 500));
  auto queued = pool.apply_async(rank_after, 0);
  aio::run([&]() -> Task<void> {
    try {
      (void)co_await aio::wait_for(aio::wrap_future(queued), 50ms);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const parlab::TimeoutError&) {
    }
  });
  EXPECT_TRUE(queued.cancelled());
  EXPECT_THROW((void)queued.get(), parlab::CancelledError);
  for (auto& result : busy)
    EXPECT_GT(result.get(), 0);
}

}  // namespace

int main(int argc, char** argv) {
  parlab::MpiPool::start();  // worker ranks serve here and exit when rank 0 is done
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
