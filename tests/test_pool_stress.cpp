// Randomized interleavings of map / imap / apply_async / close / terminate from several threads,
// bounded in time. Every result that comes back must be right; every failure must be one the
// API promises (PoolNotRunning after close/terminate, PoolTerminated for dropped work).
#include <parlab/pool.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

bool expected_failure(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const parlab::PoolNotRunning&) {
    return true;
  } catch (const parlab::PoolTerminated&) {
    return true;
  } catch (const parlab::TaskError& te) {
    try {
      te.rethrow_original();
    } catch (const parlab::PoolTerminated&) {
      return true;
    } catch (...) {
      return false;
    }
  } catch (...) {
  }
  return false;
}

struct Tally {
  std::atomic<long> ok{0};
  std::atomic<long> refused{0};
  std::atomic<long> wrong{0};
};

/// One random operation against `pool`; checks its result.
void random_operation(parlab::Pool& pool, std::mt19937& rng, Tally& tally) {
  const int n = std::uniform_int_distribution<int>(0, 300)(rng);
  std::vector<int> input(static_cast<std::size_t>(n));
  std::iota(input.begin(), input.end(), 0);
  const long expected = static_cast<long>(n) * (n - 1);  // sum of 2x
  const auto chunk = static_cast<std::size_t>(std::uniform_int_distribution<int>(0, 16)(rng));
  auto twice = [](int x) { return 2L * x; };
  try {
    long sum = 0;
    switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
      case 0:
        for (long v : pool.map(twice, input, {.chunksize = chunk}))
          sum += v;
        break;
      case 1: {
        auto r = pool.map_async(twice, input, {.chunksize = chunk});
        for (long v : r.get(30s))
          sum += v;
        break;
      }
      case 2:
        for (long v : pool.imap(twice, input, {.chunksize = chunk, .lookahead = 8}))
          sum += v;
        break;
      case 3:
        for (long v : pool.imap_unordered(twice, input, {.chunksize = chunk}))
          sum += v;
        break;
      case 4: {
        std::vector<parlab::AsyncResult<long>> rs;
        for (int x : input)
          rs.push_back(pool.apply_async(twice, x));
        for (auto& r : rs)
          sum += r.get(30s);
        break;
      }
      default: {  // nested: a task that maps on its own pool
        sum = pool.apply([&pool, &input, twice] {
          long s = 0;
          for (long v : pool.map(twice, input))
            s += v;
          return s;
        });
        break;
      }
    }
    (sum == expected ? tally.ok : tally.wrong)++;
  } catch (...) {
    (expected_failure(std::current_exception()) ? tally.refused : tally.wrong)++;
  }
}

TEST(PoolStress, RandomInterleavingsFromSeveralThreads) {
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  Tally tally;
  std::atomic<long> pools_made{0};
  std::vector<std::thread> threads;
  // Each round: a fresh pool, 3 threads hammering it, and a fourth that closes or terminates it
  // at a random moment.
  std::mt19937 master{20261125};
  while (std::chrono::steady_clock::now() < deadline) {
    auto pool = std::make_unique<parlab::Pool>(std::uniform_int_distribution<std::size_t>(1, 3)(master));
    ++pools_made;
    std::vector<std::thread> users;
    for (int t = 0; t < 3; ++t) {
      users.emplace_back([&, seed = master()] {
        std::mt19937 rng{seed};
        for (int i = 0; i < 20; ++i)
          random_operation(*pool, rng, tally);
      });
    }
    std::thread killer([&, seed = master()] {
      std::mt19937 rng{seed};
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
      if (rng() % 2 == 0) {
        pool->terminate();
      } else {
        pool->close();
      }
    });
    for (auto& u : users)
      u.join();
    killer.join();
    pool->join();
    pool.reset();
  }
  EXPECT_EQ(tally.wrong.load(), 0);
  EXPECT_GT(tally.ok.load(), 0);
  EXPECT_GT(pools_made.load(), 1);
  std::printf("stress: %ld pools, %ld correct results, %ld refused by close/terminate\n", pools_made.load(),
              tally.ok.load(), tally.refused.load());
}

TEST(PoolStress, ThousandsOfTinyAsyncCallsFromSeveralThreads) {
  parlab::Pool pool{2};
  std::atomic<long> sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        sum += pool.apply_async([i] { return i; }).get();
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(sum.load(), 4L * 1999 * 2000 / 2);
}

}  // namespace
