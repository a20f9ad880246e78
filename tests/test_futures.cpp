// concurrent.futures over AsyncResults: as_completed, wait, add_done_callback, exception(), over
// one pool and over a Pool and a ProcessPool mixed.
#include "parlab/futures.hpp"
#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"
#include "support/gates.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <iterator>
#include <mutex>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using parlab::AsyncResult;
using parlab::ReturnWhen;
using parlab::test::Gates;

int square(int x) { return x * x; }

static_assert(std::ranges::input_range<parlab::AsCompleted<int>>);

/// apply_async of a task that waits for gate `i`, then returns `i`.
AsyncResult<int> gated(parlab::Pool& pool, Gates& gates, int i) {
  return pool.apply_async([gate = gates.waiter(static_cast<std::size_t>(i)), i] {
    gate();
    return i;
  });
}

/// The values of `results`, which must be ready.
std::vector<int> values(std::vector<AsyncResult<int>>& results) {
  std::vector<int> out;
  for (auto& r : results)
    out.push_back(r.get());
  return out;
}

// ---- as_completed

TEST(AsCompleted, YieldsInCompletionOrder) {
  parlab::Pool pool{3};
  Gates gates{3};
  std::vector<AsyncResult<int>> results{gated(pool, gates, 0), gated(pool, gates, 1), gated(pool, gates, 2)};
  auto completed = parlab::as_completed(results, 30s);
  gates.open(2);
  auto it = completed.begin();
  ASSERT_NE(it, completed.end());
  EXPECT_EQ(it->get(), 2);
  gates.open(0);
  ++it;
  ASSERT_NE(it, completed.end());
  EXPECT_EQ((*it).get(), 0);
  gates.open(1);
  ++it;
  ASSERT_NE(it, completed.end());
  EXPECT_EQ(it->get(), 1);
  ++it;
  EXPECT_EQ(it, completed.end());
}

TEST(AsCompleted, ThoseAlreadyCompleteComeFirstInInputOrder) {
  parlab::Pool pool{2};
  Gates gates{1};
  auto pending = gated(pool, gates, 0);
  auto a = pool.apply_async(square, 3);
  auto b = pool.apply_async(square, 4);
  a.wait();
  b.wait();
  std::vector<int> order;
  for (auto& r : parlab::as_completed(std::vector{pending, b, a}, 30s)) {
    order.push_back(r.get());
    if (order.size() == 2) gates.open(0);  // only now can the first one complete
  }
  EXPECT_EQ(order, (std::vector<int>{16, 9, 0}));
}

TEST(AsCompleted, TimeoutThrowsFromTheIncrementAndTheRestGoesOn) {
  parlab::Pool pool{2};
  Gates gates{1};
  auto done = pool.apply_async(square, 5);
  auto pending = gated(pool, gates, 0);
  done.wait();
  auto completed = parlab::as_completed(std::vector{pending, done}, 100ms);
  auto it = completed.begin();
  EXPECT_EQ(it->get(), 25);
  try {
    ++it;
    FAIL() << "no TimeoutError";
  } catch (const parlab::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "parlab: as_completed timed out: 1 (of 2) results unfinished");
  }
  EXPECT_FALSE(pending.ready());
  gates.open(0);
  EXPECT_EQ(pending.get(10s), 0);
}

TEST(AsCompleted, TheDeadlineCountsFromTheCall) {
  parlab::Pool pool{1};
  Gates gates{1};
  auto pending = gated(pool, gates, 0);
  auto completed = parlab::as_completed(std::vector{pending}, 2s);
  std::this_thread::sleep_for(2100ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)completed.begin(), parlab::TimeoutError);
  // Counted from begin(), it would have waited 2 s more.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(AsCompleted, EachResultOnceEvenWhenGivenTwice) {
  parlab::Pool pool{2};
  auto a = pool.apply_async(square, 2);
  auto b = pool.apply_async(square, 3);
  std::vector<int> seen;
  for (auto& r : parlab::as_completed(std::vector{a, b, a, b, a}))
    seen.push_back(r.get());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{4, 9}));
}

TEST(AsCompleted, NothingGivenYieldsNothing) {
  const std::vector<AsyncResult<int>> none;
  auto completed = parlab::as_completed(none);
  EXPECT_EQ(completed.begin(), completed.end());
}

TEST(AsCompleted, ProgressOverAMapOfSubmittedTasks) {
  parlab::Pool pool{2};
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < 200; ++i)
    results.push_back(pool.apply_async(square, i));
  long sum = 0;
  std::size_t count = 0;
  for (auto& r : parlab::as_completed(results)) {
    sum += r.get();
    ++count;
  }
  EXPECT_EQ(count, 200U);
  EXPECT_EQ(sum, 2646700L);  // sum of i*i for i < 200
}

TEST(AsCompleted, ATaskWaitingForItsOwnPoolRunsTheQueuedWork) {
  parlab::Pool pool{1};
  const int sum = pool.apply([&pool] {
    std::vector<AsyncResult<int>> inner{pool.apply_async(square, 2), pool.apply_async(square, 3)};
    int total = 0;
    // The only worker is this task: it must run the inner tasks itself while it waits.
    for (auto& r : parlab::as_completed(inner, 30s))
      total += r.get();
    return total;
  });
  EXPECT_EQ(sum, 13);
}

TEST(AsCompleted, FromACallbackForAResultWhoseCallbackIsQueuedBehindItIsALogicError) {
  parlab::Pool pool{2};
  Gates gates{2};
  AsyncResult<int> later;
  bool threw = false;
  auto first =
      pool.apply_async(parlab::Callbacks<int>{.callback =
                                                  [&](const int&) {
                                                    try {
                                                      for (auto& r : parlab::as_completed(std::vector{later}))
                                                        (void)r;
                                                    } catch (const std::logic_error&) {
                                                      threw = true;
                                                    }
                                                  }},
                       [gate = gates.waiter(0)] {
                         gate();
                         return 1;
                       });
  later = pool.apply_async(parlab::Callbacks<int>{.callback = [](const int&) {}}, [gate = gates.waiter(1)] {
    gate();
    return 2;
  });
  gates.open(0);
  first.wait();  // its callback ran
  EXPECT_TRUE(threw);
  gates.open(1);
  EXPECT_EQ(later.get(10s), 2);
}

// ---- wait

TEST(Wait, AllCompletedIsTheDefault) {
  parlab::Pool pool{2};
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < 20; ++i)
    results.push_back(pool.apply_async(square, i));
  auto [done, not_done] = parlab::wait(results);
  EXPECT_EQ(done.size(), 20U);
  EXPECT_TRUE(not_done.empty());
  EXPECT_EQ(values(done)[19], 361);  // input order
}

TEST(Wait, TimeoutReturnsThePartialSetsWithoutThrowing) {
  parlab::Pool pool{2};
  Gates gates{2};
  auto done_one = pool.apply_async(square, 6);
  auto pending = gated(pool, gates, 0);
  done_one.wait();
  auto result = parlab::wait(std::vector{pending, done_one}, ReturnWhen::all_completed, 100ms);
  ASSERT_EQ(result.done.size(), 1U);
  ASSERT_EQ(result.not_done.size(), 1U);
  EXPECT_EQ(result.done[0].get(), 36);
  EXPECT_FALSE(result.not_done[0].ready());
}

TEST(Wait, FirstCompletedReturnsAtTheFirstOne) {
  parlab::Pool pool{3};
  Gates gates{3};
  std::vector<AsyncResult<int>> results{gated(pool, gates, 0), gated(pool, gates, 1), gated(pool, gates, 2)};
  std::thread opener{[&gates] {
    std::this_thread::sleep_for(50ms);
    gates.open(1);
  }};
  auto result = parlab::wait(results, ReturnWhen::first_completed, 30s);
  opener.join();
  ASSERT_EQ(result.done.size(), 1U);
  EXPECT_EQ(result.done[0].get(), 1);
  ASSERT_EQ(result.not_done.size(), 2U);
  EXPECT_FALSE(result.not_done[0].ready());
  EXPECT_FALSE(result.not_done[1].ready());
}

TEST(Wait, FirstCompletedReturnsAtOnceWhenOneIsDone) {
  parlab::Pool pool{2};
  Gates gates{1};
  auto done_one = pool.apply_async(square, 7);
  done_one.wait();
  auto pending = gated(pool, gates, 0);
  auto result = parlab::wait(std::vector{pending, done_one}, ReturnWhen::first_completed);
  ASSERT_EQ(result.done.size(), 1U);
  EXPECT_EQ(result.done[0].get(), 49);
  EXPECT_EQ(result.not_done.size(), 1U);
}

TEST(Wait, FirstExceptionStopsAtAFailedResult) {
  parlab::Pool pool{3};
  Gates gates{2};
  auto ok = pool.apply_async(square, 2);
  auto failing = pool.apply_async([gate = gates.waiter(0)]() -> int {
    gate();
    throw std::runtime_error("bad");
  });
  auto slow = gated(pool, gates, 1);
  ok.wait();  // a success does not end the wait
  std::thread opener{[&gates] {
    std::this_thread::sleep_for(50ms);
    gates.open(0);
  }};
  auto result = parlab::wait(std::vector{ok, failing, slow}, ReturnWhen::first_exception, 30s);
  opener.join();
  ASSERT_EQ(result.done.size(), 2U);
  EXPECT_EQ(result.done[0].get(), 4);
  EXPECT_NE(result.done[1].exception(), nullptr);
  ASSERT_EQ(result.not_done.size(), 1U);
  EXPECT_FALSE(result.not_done[0].ready());
}

TEST(Wait, FirstExceptionDoesNotStopAtACancelledResult) {
  parlab::Pool pool{1};
  Gates gates{1};
  auto blocker = gated(pool, gates, 0);
  auto queued = pool.apply_async(square, 3);
  ASSERT_TRUE(queued.cancel());  // not started: cancelled at once, with a CancelledError
  ASSERT_TRUE(queued.ready());
  std::thread opener{[&gates] {
    std::this_thread::sleep_for(50ms);
    gates.open(0);
  }};
  auto result = parlab::wait(std::vector{queued, blocker}, ReturnWhen::first_exception, 30s);
  opener.join();
  EXPECT_EQ(result.done.size(), 2U);  // it waited for the blocker, as for a success
  EXPECT_TRUE(result.not_done.empty());
}
TEST(Wait, FirstExceptionWithoutAFailureWaitsForAll) {
  parlab::Pool pool{2};
  Gates gates{1};
  auto a = pool.apply_async(square, 2);
  auto b = gated(pool, gates, 0);
  a.wait();
  std::thread opener{[&gates] {
    std::this_thread::sleep_for(50ms);
    gates.open(0);
  }};
  auto result = parlab::wait(std::vector{a, b}, ReturnWhen::first_exception, 30s);
  opener.join();
  EXPECT_EQ(result.done.size(), 2U);
  EXPECT_TRUE(result.not_done.empty());
}

TEST(Wait, FirstExceptionReturnsAtOnceForAFailureAlreadyThere) {
  parlab::Pool pool{2};
  Gates gates{1};
  auto failed = pool.apply_async([]() -> int { throw std::runtime_error("early"); });
  failed.wait();
  auto pending = gated(pool, gates, 0);
  auto result = parlab::wait(std::vector{pending, failed}, ReturnWhen::first_exception);
  ASSERT_EQ(result.done.size(), 1U);
  EXPECT_FALSE(result.done[0].successful());
  EXPECT_EQ(result.not_done.size(), 1U);
}

TEST(Wait, EachResultOnceAndNothingGivenReturnsAtOnce) {
  parlab::Pool pool{1};
  auto a = pool.apply_async(square, 2);
  auto result = parlab::wait(std::vector{a, a, a});
  EXPECT_EQ(result.done.size(), 1U);
  auto empty = parlab::wait(std::vector<AsyncResult<int>>{}, ReturnWhen::first_completed);
  EXPECT_TRUE(empty.done.empty());
  EXPECT_TRUE(empty.not_done.empty());
}

TEST(Wait, ATaskWaitingForItsOwnPoolRunsTheQueuedWork) {
  parlab::Pool pool{1};
  const std::size_t done = pool.apply([&pool] {
    std::vector<AsyncResult<int>> inner{pool.apply_async(square, 2), pool.apply_async(square, 3)};
    return parlab::wait(inner, ReturnWhen::all_completed, 30s).done.size();
  });
  EXPECT_EQ(done, 2U);
}

// ---- add_done_callback

TEST(AddDoneCallback, AddedBeforeReadyRunsOnThePoolsCallbackThread) {
  parlab::Pool pool{1};
  Gates gates{1};
  std::thread::id hook_thread;
  auto result = pool.apply_async(
      parlab::Callbacks<int>{
          .callback = [&hook_thread](const int&) { hook_thread = std::this_thread::get_id(); }},
      [gate = gates.waiter(0)] {
        gate();
        return 8;
      });
  std::promise<std::pair<std::thread::id, int>> seen;
  result.add_done_callback(
      [&seen](AsyncResult<int> r) { seen.set_value(std::make_pair(std::this_thread::get_id(), r.get())); });
  auto future = seen.get_future();
  EXPECT_EQ(future.wait_for(50ms), std::future_status::timeout);  // not before it is ready
  gates.open(0);
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const auto [thread, value] = future.get();
  EXPECT_EQ(value, 8);
  EXPECT_EQ(thread, hook_thread);  // the thread of the Callbacks hooks
  EXPECT_NE(thread, std::this_thread::get_id());
}

TEST(AddDoneCallback, AddedAfterReadyRunsAtOnceOnTheCallbackThreadNotTheCallers) {
  parlab::Pool pool{1};
  auto result = pool.apply_async(square, 9);
  result.wait();
  std::promise<std::thread::id> seen;
  result.add_done_callback([&seen](AsyncResult<int>) { seen.set_value(std::this_thread::get_id()); });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
}

TEST(AddDoneCallback, SeveralRunInTheOrderAdded) {
  parlab::Pool pool{1};
  Gates gates{1};
  auto result = gated(pool, gates, 0);
  std::vector<int> order;  // written by the callback thread only; read after join()
  for (int i = 1; i <= 3; ++i)
    result.add_done_callback([&order, i](AsyncResult<int>) { order.push_back(i); });
  gates.open(0);
  for (int i = 4; i <= 6; ++i)  // while the first ones may be running
    result.add_done_callback([&order, i](AsyncResult<int>) { order.push_back(i); });
  result.wait();
  for (int i = 7; i <= 8; ++i)
    result.add_done_callback([&order, i](AsyncResult<int>) { order.push_back(i); });
  pool.close();
  pool.join();  // every callback has run
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(AddDoneCallback, AThrowingCallbackIsReportedAndTheNextStillRuns) {
  parlab::Pool pool{1};
  auto result = pool.apply_async(square, 3);
  bool next_ran = false;
  testing::internal::CaptureStderr();
  result.add_done_callback([](AsyncResult<int>) { throw std::runtime_error("callback boom"); });
  result.add_done_callback([&next_ran](AsyncResult<int> r) { next_ran = r.get() == 9; });
  pool.close();
  pool.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(next_ran);
  EXPECT_NE(err.find("parlab: a result callback threw (ignored): std::runtime_error: callback boom"),
            std::string::npos)
      << err;
}

TEST(AddDoneCallback, SeesAFailure) {
  parlab::Pool pool{1};
  auto result = pool.apply_async([]() -> int { throw std::out_of_range("gone"); });
  std::promise<std::exception_ptr> seen;
  result.add_done_callback([&seen](AsyncResult<int> r) { seen.set_value(r.exception()); });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_THROW(std::rethrow_exception(future.get()), std::out_of_range);
}

TEST(AddDoneCallback, AfterTheJoinRunsOnTheCallingThread) {
  parlab::Pool pool{1};
  auto result = pool.apply_async(square, 4);
  pool.close();
  pool.join();
  std::thread::id thread;
  result.add_done_callback([&thread](AsyncResult<int>) { thread = std::this_thread::get_id(); });
  EXPECT_EQ(thread, std::this_thread::get_id());
}

TEST(AddDoneCallback, AnEmptyFunctionIsRefused) {
  parlab::Pool pool{1};
  auto result = pool.apply_async(square, 4);
  EXPECT_THROW(result.add_done_callback({}), std::invalid_argument);
}

// ---- exception()

TEST(Exception, NullOnSuccessTheTasksExceptionOnFailureWithoutThrowing) {
  parlab::Pool pool{2};
  auto ok = pool.apply_async(square, 3);
  auto failed = pool.apply_async([]() -> int { throw std::out_of_range("nope"); });
  auto map_failed =
      pool.map_async([](int x) { return x == 2 ? throw std::domain_error("two") : x; }, std::vector{1, 2, 3});
  EXPECT_EQ(ok.exception(), nullptr);
  const std::exception_ptr error = failed.exception();
  ASSERT_NE(error, nullptr);
  EXPECT_THROW(std::rethrow_exception(error), std::out_of_range);
  try {
    std::rethrow_exception(map_failed.exception());
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 1U);
  }
}

TEST(Exception, WithATimeoutThrowsTimeoutError) {
  parlab::Pool pool{1};
  Gates gates{1};
  auto pending = gated(pool, gates, 0);
  EXPECT_THROW((void)pending.exception(20ms), parlab::TimeoutError);
  gates.open(0);
  EXPECT_EQ(pending.exception(10s), nullptr);
}

// ---- Pool and ProcessPool results in one call

TEST(MixedPools, AsCompletedAndWaitOverAPoolsAndAProcessPoolsResults) {
  parlab::ProcessPool processes{1};
  parlab::Pool threads{1};
  Gates gates{1};
  auto from_threads = gated(threads, gates, 0);
  auto from_processes = processes.apply_async(square, 12);
  auto failed_in_process =
      processes.apply_async([](int) -> int { throw std::invalid_argument("remote"); }, 0);

  auto first = parlab::wait(std::vector{from_threads, from_processes, failed_in_process},
                            ReturnWhen::first_exception, 30s);
  ASSERT_EQ(first.not_done.size(), 1U);
  EXPECT_FALSE(first.not_done[0].ready());
  try {
    std::rethrow_exception(failed_in_process.exception());
  } catch (const parlab::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
  }

  std::vector<int> order;
  std::promise<int> done_callback;
  from_threads.add_done_callback([&done_callback](AsyncResult<int> r) { done_callback.set_value(r.get()); });
  for (auto& r : parlab::as_completed(std::vector{from_threads, from_processes}, 30s)) {
    order.push_back(r.get());
    gates.open(0);  // the thread pool's result can complete only after the process pool's
  }
  EXPECT_EQ(order, (std::vector<int>{144, 0}));
  auto future = done_callback.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(future.get(), 0);

  std::promise<int> process_callback;
  from_processes.add_done_callback(
      [&process_callback](AsyncResult<int> r) { process_callback.set_value(r.get()); });
  auto process_future = process_callback.get_future();
  ASSERT_EQ(process_future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(process_future.get(), 144);
}

}  // namespace
