#pragma once
/// \file
/// The check every pool's callbacks must pass: one at a time, on one thread of the pool's, each
/// result's callback once (Python runs them all on its result-handler thread).

#include <parlab/async_result.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace parlab::test {

/// Submits fn(0) .. fn(n-1) with apply_async and callbacks that write unsynchronised state (a
/// vector and a set: a data race, which TSan reports, if two callbacks ever overlapped), then
/// checks that no two callbacks overlapped, that one thread ran them all and it was not the
/// caller's, and that every value arrived once.
template <class Pool, class Fn>
void expect_callbacks_one_at_a_time(Pool& pool, Fn fn, int n) {
  std::vector<long> seen;
  std::set<std::thread::id> threads;
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::vector<AsyncResult<long>> results;
  for (int i = 0; i < n; ++i) {
    Callbacks<long> hooks{.callback = [&](const long& value) {
      const int now = ++inside;
      if (now > most_inside.load()) most_inside = now;
      threads.insert(std::this_thread::get_id());
      seen.push_back(value);
      std::this_thread::sleep_for(std::chrono::microseconds{200});  // room for an overlap to show
      --inside;
    }};
    results.push_back(pool.apply_async(std::move(hooks), fn, static_cast<long>(i)));
  }
  for (auto& result : results)
    result.wait();  // a result is ready once its callback has run
  EXPECT_EQ(most_inside.load(), 1) << "two callbacks ran at the same time";
  EXPECT_EQ(threads.size(), 1U) << "the callbacks ran on more than one thread";
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0U) << "a callback ran on the caller's thread";
  std::vector<long> expected;
  for (int i = 0; i < n; ++i)
    expected.push_back(static_cast<long>(fn(static_cast<long>(i))));
  std::sort(seen.begin(), seen.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

}  // namespace parlab::test
