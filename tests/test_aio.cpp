// parlab::aio: run, gather (vector, return_exceptions, variadic), to_thread, Semaphore, sleep,
// wait_for, as_completed, and cancellation between them.
#include <parlab/aio.hpp>
#include <parlab/cpu.hpp>
#include <parlab/errors.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

namespace {

namespace aio = parlab::aio;
using aio::Task;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool is_aborted(const boost::system::system_error& e) {
  return e.code() == boost::asio::error::operation_aborted;
}

/// Returns `value` after `delay`, appending it to `*finished` (when given) as it finishes.
Task<int> value_after(int value, milliseconds delay, std::vector<int>* finished = nullptr) {
  co_await aio::sleep(delay);
  if (finished != nullptr) finished->push_back(value);
  co_return value;
}

/// Sleeps `delay`; sets `*cancelled` when the sleep is cancelled, then rethrows.
Task<int> sleep_watching(milliseconds delay, bool* cancelled) {
  try {
    co_await aio::sleep(delay);
  } catch (const boost::system::system_error& e) {
    if (is_aborted(e)) *cancelled = true;
    throw;
  }
  co_return 0;
}

Task<void> void_sleep_watching(milliseconds delay, bool* cancelled) {
  co_await sleep_watching(delay, cancelled);
}

Task<int> fail_after(milliseconds delay, std::string message) {
  co_await aio::sleep(delay);
  throw std::runtime_error(message);
}

Task<void> void_fail_after(milliseconds delay, std::string message) {
  co_await aio::sleep(delay);
  throw std::runtime_error(message);
}

Task<void> count_after(milliseconds delay, int* counter) {
  co_await aio::sleep(delay);
  ++*counter;
}

Task<std::string> text_after(std::string text, milliseconds delay) {
  co_await aio::sleep(delay);
  co_return text;
}

/// Counts how many tasks are between enter() and leave() at once.
struct InFlight {
  int now = 0;
  int max = 0;
  void enter() { max = std::max(max, ++now); }
  void leave() { --now; }
};

Task<void> tracked_sleep(milliseconds delay, InFlight* in_flight) {
  in_flight->enter();
  co_await aio::sleep(delay);
  in_flight->leave();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// run

Task<int> answer() {
  co_await aio::sleep(1ms);
  co_return 42;
}

TEST(AioRun, ReturnsTheValueOfMain) { EXPECT_EQ(aio::run(answer()), 42); }

TEST(AioRun, AcceptsACallableReturningATask) {
  const std::string greeting = "hello";
  std::string result = aio::run([&]() -> Task<std::string> {
    co_await aio::sleep(1ms);
    co_return greeting + ", loop";
  });
  EXPECT_EQ(result, "hello, loop");
}

TEST(AioRun, RunsAVoidMain) {
  int counter = 0;
  aio::run([&]() -> Task<void> { co_await count_after(1ms, &counter); });
  EXPECT_EQ(counter, 1);
}

struct Unique {
  explicit Unique(int v) : value(std::make_unique<int>(v)) {}
  std::unique_ptr<int> value;
};

TEST(AioRun, ReturnsMoveOnlyValuesWithoutDefaultConstructor) {
  Unique u = aio::run([]() -> Task<Unique> { co_return Unique{7}; });
  ASSERT_NE(u.value, nullptr);
  EXPECT_EQ(*u.value, 7);
}

class CustomError : public std::runtime_error {
 public:
  CustomError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] int code() const { return code_; }

 private:
  int code_;
};

TEST(AioRun, RethrowsTheExceptionOfMainWithItsType) {
  try {
    aio::run([]() -> Task<int> {
      co_await aio::sleep(1ms);
      throw CustomError(17, "main failed");
    });
    FAIL() << "run did not throw";
  } catch (const CustomError& e) {
    EXPECT_EQ(e.code(), 17);
    EXPECT_STREQ(e.what(), "main failed");
  }
}

TEST(AioRun, RunsTheLoopOnTheCallingThread) {
  const auto caller = std::this_thread::get_id();
  const auto inside = aio::run([]() -> Task<std::thread::id> {
    co_await aio::sleep(1ms);
    co_return std::this_thread::get_id();
  });
  EXPECT_EQ(inside, caller);
}

TEST(AioRun, RefusesToRunInsideARunningLoop) {
  std::string message;
  aio::run([&]() -> Task<void> {
    try {
      aio::run(answer());
    } catch (const std::logic_error& e) {
      message = e.what();
    }
    co_return;
  });
  EXPECT_NE(message.find("running event loop"), std::string::npos) << message;
  EXPECT_EQ(aio::run(answer()), 42) << "a finished run must not block the next one";
}

TEST(AioRun, ThisLoopGivesTheExecutor) {
  const bool same = aio::run([]() -> Task<bool> {
    aio::Executor a = co_await aio::this_loop();
    aio::Executor b = co_await boost::asio::this_coro::executor;
    co_return a == b;
  });
  EXPECT_TRUE(same);
}

/// Sets a flag when destroyed.
struct SetOnDestroy {
  bool* flag;
  explicit SetOnDestroy(bool* f) : flag(f) {}
  SetOnDestroy(const SetOnDestroy&) = delete;
  SetOnDestroy& operator=(const SetOnDestroy&) = delete;
  ~SetOnDestroy() { *flag = true; }
};

Task<void> linger(bool* destroyed) {
  SetOnDestroy guard{destroyed};
  co_await aio::sleep(60s);
}

TEST(AioRun, DestroysTasksStillPendingWhenMainReturns) {
  bool destroyed = false;
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    boost::asio::co_spawn(co_await aio::this_loop(), linger(&destroyed), boost::asio::detached);
    co_await aio::sleep(10ms);
    EXPECT_FALSE(destroyed);
  });
  EXPECT_TRUE(destroyed);
  EXPECT_LT(seconds_since(start), 30.0) << "run waited for a detached task";
}

// ---------------------------------------------------------------------------------------------
// sleep

TEST(AioSleep, WaitsAtLeastTheDelay) {
  const auto start = Clock::now();
  aio::run([]() -> Task<void> { co_await aio::sleep(50ms); });
  EXPECT_GE(Clock::now() - start, 50ms);
}

Task<void> take_turns(char name, std::string* log) {
  for (int i = 0; i < 3; ++i) {
    log->push_back(name);
    co_await aio::sleep(0s);
  }
}

TEST(AioSleep, SleepZeroLetsOtherTasksRun) {
  std::string log;
  aio::run([&]() -> Task<void> {
    std::vector<Task<void>> tasks;
    tasks.push_back(take_turns('a', &log));
    tasks.push_back(take_turns('b', &log));
    co_await aio::gather(std::move(tasks));
  });
  ASSERT_EQ(log.size(), 6U);
  EXPECT_LT(log.find('b'), log.rfind('a')) << log;
}

// ---------------------------------------------------------------------------------------------
// gather

TEST(AioGather, ResultsComeInInputOrderWhateverTheCompletionOrder) {
  std::vector<int> finished;
  const auto results = aio::run([&]() -> Task<std::vector<int>> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 4; ++i)
      tasks.push_back(value_after(10 * (i + 1), milliseconds(40 * (4 - i)), &finished));
    co_return co_await aio::gather(std::move(tasks));
  });
  EXPECT_EQ(finished, (std::vector<int>{40, 30, 20, 10}));
  EXPECT_EQ(results, (std::vector<int>{10, 20, 30, 40}));
}

TEST(AioGather, RunsTheTasksConcurrently) {
  InFlight in_flight;
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 8; ++i)
      tasks.push_back(tracked_sleep(250ms, &in_flight));
    co_await aio::gather(std::move(tasks));
  });
  EXPECT_EQ(in_flight.max, 8);
  EXPECT_EQ(in_flight.now, 0);
  EXPECT_LT(seconds_since(start), 1.0) << "8 sleeps of 250 ms took longer than half of their sum";
}

TEST(AioGather, FirstErrorPropagatesAndCancelsTheSiblings) {
  bool first_cancelled = false;
  bool last_cancelled = false;
  std::vector<int> finished;
  const auto start = Clock::now();
  std::string message;
  aio::run([&]() -> Task<void> {
    std::vector<Task<int>> tasks;
    tasks.push_back(sleep_watching(60s, &first_cancelled));
    tasks.push_back(value_after(1, 1ms, &finished));
    tasks.push_back(fail_after(30ms, "boom"));
    tasks.push_back(sleep_watching(60s, &last_cancelled));
    try {
      co_await aio::gather(std::move(tasks));
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
  });
  EXPECT_EQ(message, "boom");
  EXPECT_TRUE(first_cancelled);
  EXPECT_TRUE(last_cancelled);
  EXPECT_EQ(finished, std::vector<int>{1});
  EXPECT_LT(seconds_since(start), 30.0) << "the siblings were not cancelled";
}

TEST(AioGather, ReturnExceptionsGivesEveryOutcomeAndCancelsNothing) {
  const auto outcomes = aio::run([]() -> Task<std::vector<aio::Outcome<int>>> {
    std::vector<Task<int>> tasks;
    tasks.push_back(value_after(1, 1ms));
    tasks.push_back(fail_after(1ms, "bad"));
    tasks.push_back(value_after(3, 50ms));
    co_return co_await aio::gather(std::move(tasks), aio::return_exceptions);
  });
  ASSERT_EQ(outcomes.size(), 3U);
  EXPECT_TRUE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].value(), 1);
  EXPECT_FALSE(outcomes[1].ok());
  ASSERT_NE(outcomes[1].error(), nullptr);
  EXPECT_THROW(outcomes[1].rethrow(), std::runtime_error);
  EXPECT_THROW((void)outcomes[1].value(), std::runtime_error);
  EXPECT_TRUE(outcomes[2].ok()) << "a failing task cancelled its sibling";
  EXPECT_EQ(outcomes[2].value(), 3);
}

TEST(AioGather, ReturnExceptionsWithVoidTasks) {
  const auto outcomes = aio::run([]() -> Task<std::vector<aio::Outcome<void>>> {
    std::vector<Task<void>> tasks;
    tasks.push_back(void_fail_after(1ms, "void failed"));
    tasks.push_back(aio::sleep(5ms));
    co_return co_await aio::gather(std::move(tasks), aio::return_exceptions);
  });
  ASSERT_EQ(outcomes.size(), 2U);
  EXPECT_FALSE(outcomes[0].ok());
  EXPECT_THROW(outcomes[0].rethrow(), std::runtime_error);
  EXPECT_TRUE(outcomes[1].ok());
  EXPECT_NO_THROW(outcomes[1].rethrow());
}

TEST(AioGather, VoidTasksRunAndFail) {
  int counter = 0;
  aio::run([&]() -> Task<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i)
      tasks.push_back(count_after(milliseconds(5 * i), &counter));
    co_await aio::gather(std::move(tasks));
  });
  EXPECT_EQ(counter, 5);

  bool cancelled = false;
  EXPECT_THROW(aio::run([&]() -> Task<void> {
                 std::vector<Task<void>> tasks;
                 tasks.push_back(void_sleep_watching(60s, &cancelled));
                 tasks.push_back(void_fail_after(5ms, "void failed"));
                 co_await aio::gather(std::move(tasks));
               }),
               std::runtime_error);
  EXPECT_TRUE(cancelled);
}

TEST(AioGather, EmptyInputGivesEmptyResult) {
  aio::run([]() -> Task<void> {
    const auto values = co_await aio::gather(std::vector<Task<int>>{});
    EXPECT_TRUE(values.empty());
    co_await aio::gather(std::vector<Task<void>>{});
    const auto outcomes = co_await aio::gather(std::vector<Task<int>>{}, aio::return_exceptions);
    EXPECT_TRUE(outcomes.empty());
  });
}

Task<std::vector<int>> gather_row(int row) {
  std::vector<Task<int>> tasks;
  for (int col = 0; col < 3; ++col)
    tasks.push_back(value_after(10 * row + col, milliseconds(5 * (3 - col))));
  co_return co_await aio::gather(std::move(tasks));
}

TEST(AioGather, NestedGathers) {
  const auto grid = aio::run([]() -> Task<std::vector<std::vector<int>>> {
    std::vector<Task<std::vector<int>>> rows;
    for (int row = 0; row < 3; ++row)
      rows.push_back(gather_row(row));
    co_return co_await aio::gather(std::move(rows));
  });
  EXPECT_EQ(grid, (std::vector<std::vector<int>>{{0, 1, 2}, {10, 11, 12}, {20, 21, 22}}));
}

Task<std::vector<int>> gather_two_sleepers(bool* a, bool* b) {
  std::vector<Task<int>> tasks;
  tasks.push_back(sleep_watching(60s, a));
  tasks.push_back(sleep_watching(60s, b));
  co_return co_await aio::gather(std::move(tasks));
}

Task<std::vector<int>> fail_vector_after(milliseconds delay) {
  co_await aio::sleep(delay);
  throw std::runtime_error("outer failure");
}

TEST(AioGather, CancellationReachesIntoNestedGathers) {
  bool a = false;
  bool b = false;
  EXPECT_THROW(aio::run([&]() -> Task<void> {
                 std::vector<Task<std::vector<int>>> tasks;
                 tasks.push_back(gather_two_sleepers(&a, &b));
                 tasks.push_back(fail_vector_after(20ms));
                 co_await aio::gather(std::move(tasks));
               }),
               std::runtime_error);
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
}

TEST(AioGather, VariadicGatherGivesATuple) {
  int counter = 0;
  const auto values = aio::run([&]() -> Task<std::tuple<int, std::string, std::monostate>> {
    co_return co_await aio::gather(value_after(5, 30ms), text_after("text", 10ms),
                                   count_after(1ms, &counter));
  });
  EXPECT_EQ(std::get<0>(values), 5);
  EXPECT_EQ(std::get<1>(values), "text");
  EXPECT_EQ(counter, 1);
}

TEST(AioGather, VariadicGatherPropagatesTheFirstErrorAndCancels) {
  bool cancelled = false;
  std::string message;
  aio::run([&]() -> Task<void> {
    try {
      co_await aio::gather(sleep_watching(60s, &cancelled), text_after("text", 1ms),
                           fail_after(20ms, "second"), fail_after(40ms, "third"));
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
  });
  EXPECT_EQ(message, "second");
  EXPECT_TRUE(cancelled);
}

TEST(AioGather, CancellingTheGatherCancelsEveryTask) {
  bool a = false;
  bool b = false;
  bool timed_out = false;
  aio::run([&]() -> Task<void> {
    try {
      co_await aio::wait_for(gather_two_sleepers(&a, &b), 30ms);
    } catch (const parlab::TimeoutError&) {
      timed_out = true;
    }
  });
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
}

// ---------------------------------------------------------------------------------------------
// Outcome

static_assert(std::is_same_v<aio::Outcome<int>, parlab::Outcome<int>>, "aio uses parlab's Outcome");

// ---------------------------------------------------------------------------------------------
// to_thread

int add(int a, int b) { return a + b; }

TEST(AioToThread, RunsOffTheLoopAndResumesOnTheLoop) {
  struct Ids {
    std::thread::id loop, worker, after;
    int sum = 0;
  };
  const auto ids = aio::run([]() -> Task<Ids> {
    Ids seen;
    seen.loop = std::this_thread::get_id();
    seen.worker = co_await aio::to_thread([] { return std::this_thread::get_id(); });
    seen.after = std::this_thread::get_id();
    seen.sum = co_await aio::to_thread(add, 20, 22);
    co_return seen;
  });
  EXPECT_NE(ids.worker, ids.loop);
  EXPECT_EQ(ids.after, ids.loop);
  EXPECT_EQ(ids.sum, 42);
}

TEST(AioToThread, PropagatesTheException) {
  std::string message;
  aio::run([&]() -> Task<void> {
    try {
      co_await aio::to_thread([]() -> int { throw std::invalid_argument("bad input"); });
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
  });
  EXPECT_EQ(message, "bad input");
}

TEST(AioToThread, CopiesTheArguments) {
  const auto result = aio::run([]() -> Task<std::string> {
    std::string text = "copied";
    auto call = aio::to_thread([](const std::string& s) { return s + "!"; }, text);
    text = "changed before the call ran";
    co_return co_await std::move(call);
  });
  EXPECT_EQ(result, "copied!");
}

TEST(AioToThread, StdRefSharesTheArgument) {
  std::vector<int> shared{1, 2};
  aio::run([&]() -> Task<void> {
    co_await aio::to_thread([](std::vector<int>& v) { v.push_back(3); }, std::ref(shared));
  });
  EXPECT_EQ(shared, (std::vector<int>{1, 2, 3}));
}

TEST(AioToThread, VoidAndMoveOnlyResults) {
  std::atomic<int> counter{0};
  const auto value = aio::run([&]() -> Task<int> {
    co_await aio::to_thread([&counter] { ++counter; });
    auto owned = co_await aio::to_thread([](int v) { return std::make_unique<int>(v); }, 9);
    co_return *owned;
  });
  EXPECT_EQ(counter.load(), 1);
  EXPECT_EQ(value, 9);
}

/// How many blocking calls run at once.
struct Concurrency {
  std::atomic<int> in_flight{0};
  std::atomic<int> max{0};
  std::atomic<int> started{0};
};

/// The first `threshold` calls wait (at most 10 s) until `threshold` calls run together.
int probe(Concurrency* c, int threshold, int value) {
  const int now = ++c->in_flight;
  int seen = c->max.load();
  while (now > seen && !c->max.compare_exchange_weak(seen, now)) {
  }
  if (c->started++ < threshold) {
    const auto deadline = Clock::now() + 10s;
    while (c->in_flight.load() < threshold && Clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  } else {
    std::this_thread::sleep_for(2ms);
  }
  --c->in_flight;
  return value;
}

Task<int> sum_of_probes(Concurrency* c, int threshold, int calls) {
  std::vector<Task<int>> tasks;
  for (int i = 0; i < calls; ++i)
    tasks.push_back(aio::to_thread(probe, c, threshold, i));
  const auto values = co_await aio::gather(std::move(tasks));
  int sum = 0;
  for (int i = 0; i < calls; ++i) {
    EXPECT_EQ(values[static_cast<std::size_t>(i)], i);
    sum += values[static_cast<std::size_t>(i)];
  }
  co_return sum;
}

TEST(AioToThread, ConcurrentCallsAreBoundedByTheExecutorSize) {
  Concurrency c;
  const int sum = aio::run(sum_of_probes(&c, 3, 12), {.executor_threads = 3});
  EXPECT_EQ(sum, 66);
  EXPECT_EQ(c.max.load(), 3);
}

TEST(AioToThread, DefaultExecutorFollowsPythonsRule) {
  const std::size_t expected = std::min<std::size_t>(32, std::size_t{parlab::cpu_count()} + 4);
  EXPECT_EQ(aio::default_executor_threads(), expected);
  Concurrency c;
  const int threads = static_cast<int>(expected);
  aio::run(sum_of_probes(&c, threads, 2 * threads));
  EXPECT_EQ(c.max.load(), threads);
}

TEST(AioToThread, CancellationResumesTheTaskWhileTheCallFinishesOnItsThread) {
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<bool> finished{false};
  bool timed_out = false;
  bool finished_at_timeout = true;
  aio::run([&]() -> Task<void> {
    auto blocked = [opened, &finished] {
      opened.wait_for(10s);
      finished = true;
      return 1;
    };
    try {
      auto waited = aio::wait_for(aio::to_thread(blocked), 30ms);
      co_await std::move(waited);
    } catch (const parlab::TimeoutError&) {
      timed_out = true;
      finished_at_timeout = finished.load();
    }
    gate.set_value();
  });
  EXPECT_TRUE(timed_out);
  EXPECT_FALSE(finished_at_timeout);
  EXPECT_TRUE(finished.load()) << "run returned before the call still running on its thread";
}

Task<void> linger_in_thread(bool* destroyed, std::atomic<bool>* called) {
  SetOnDestroy guard{destroyed};
  co_await aio::to_thread([called] {
    std::this_thread::sleep_for(50ms);
    *called = true;
  });
  co_await aio::sleep(60s);
}

TEST(AioToThread, RunWaitsForCallsOfTasksItDestroys) {
  bool destroyed = false;
  std::atomic<bool> called{false};
  aio::run([&]() -> Task<void> {
    boost::asio::co_spawn(co_await aio::this_loop(), linger_in_thread(&destroyed, &called),
                          boost::asio::detached);
    co_await aio::sleep(1ms);
  });
  EXPECT_TRUE(called.load());
  EXPECT_TRUE(destroyed);
}

// ---------------------------------------------------------------------------------------------
// wait_for

TEST(AioWaitFor, TimeoutThrowsAndCancelsTheOperation) {
  bool cancelled = false;
  std::string message;
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    try {
      co_await aio::wait_for(sleep_watching(60s, &cancelled), 30ms);
    } catch (const parlab::TimeoutError& e) {
      message = e.what();
    }
  });
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(message, "parlab: aio::wait_for timed out after 30 ms");
  EXPECT_LT(seconds_since(start), 30.0);
}

TEST(AioWaitFor, ReturnsTheValueInTime) {
  EXPECT_EQ(aio::run(aio::wait_for(value_after(8, 1ms), 30s)), 8);
  int counter = 0;
  aio::run(aio::wait_for(count_after(1ms, &counter), 30s));
  EXPECT_EQ(counter, 1);
}

TEST(AioWaitFor, PropagatesTheOperationsOwnError) {
  EXPECT_THROW(aio::run(aio::wait_for(fail_after(1ms, "inner"), 30s)), std::runtime_error);
  try {
    aio::run(aio::wait_for(fail_after(1ms, "inner"), 30s));
  } catch (const parlab::TimeoutError&) {
    ADD_FAILURE() << "an inner error became a timeout";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "inner");
  }
}

TEST(AioWaitFor, VoidOperationTimesOut) {
  bool cancelled = false;
  EXPECT_THROW(aio::run(aio::wait_for(void_sleep_watching(60s, &cancelled), 10ms)), parlab::TimeoutError);
  EXPECT_TRUE(cancelled);
}

// ---------------------------------------------------------------------------------------------
// Semaphore

Task<void> limited(aio::Semaphore* sem, InFlight* in_flight) {
  auto permit = co_await sem->hold();
  in_flight->enter();
  co_await aio::sleep(10ms);
  in_flight->leave();
}

TEST(AioSemaphore, BoundsConcurrency) {
  InFlight in_flight;
  aio::run([&]() -> Task<void> {
    aio::Semaphore sem{3};
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 12; ++i)
      tasks.push_back(limited(&sem, &in_flight));
    co_await aio::gather(std::move(tasks));
    EXPECT_EQ(sem.value(), 3U);
    EXPECT_FALSE(sem.locked());
  });
  EXPECT_EQ(in_flight.max, 3);
}

Task<void> queue_up(aio::Semaphore* sem, int id, milliseconds start, std::vector<int>* order) {
  co_await aio::sleep(start);
  co_await sem->acquire();
  order->push_back(id);
}

Task<void> release_all(aio::Semaphore* sem, int n, milliseconds start) {
  co_await aio::sleep(start);
  EXPECT_TRUE(sem->locked());
  for (int i = 0; i < n; ++i)
    sem->release();
}

TEST(AioSemaphore, WaitersAreServedInArrivalOrder) {
  std::vector<int> order;
  aio::run([&]() -> Task<void> {
    aio::Semaphore sem{0};
    std::vector<Task<void>> tasks;
    for (int id = 0; id < 5; ++id)
      tasks.push_back(queue_up(&sem, id, milliseconds(20 * id), &order));
    tasks.push_back(release_all(&sem, 5, 200ms));
    co_await aio::wait_for(aio::gather(std::move(tasks)), 30s);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

Task<void> acquire_log_release(aio::Semaphore* sem, std::vector<std::string>* log) {
  co_await sem->acquire();
  log->push_back("waiter");
  sem->release();
}

Task<void> release_then_acquire(aio::Semaphore* sem, std::vector<std::string>* log) {
  co_await aio::sleep(20ms);
  sem->release();
  EXPECT_TRUE(sem->locked()) << "the released permit must go to the waiter";
  co_await sem->acquire();
  log->push_back("releaser");
}

TEST(AioSemaphore, AReleasedPermitGoesToTheWaiterNotToALateComer) {
  std::vector<std::string> log;
  aio::run([&]() -> Task<void> {
    aio::Semaphore sem{0};
    co_await aio::wait_for(aio::gather(acquire_log_release(&sem, &log), release_then_acquire(&sem, &log)),
                           30s);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"waiter", "releaser"}));
}

Task<void> give_up_after(aio::Semaphore* sem, milliseconds start, milliseconds patience,
                         std::vector<std::string>* log) {
  co_await aio::sleep(start);
  try {
    co_await aio::wait_for(sem->acquire(), patience);
    log->push_back("impatient acquired");
  } catch (const parlab::TimeoutError&) {
    log->push_back("impatient gave up");
  }
}

Task<void> wait_and_log(aio::Semaphore* sem, milliseconds start, std::string name,
                        std::vector<std::string>* log) {
  co_await aio::sleep(start);
  auto permit = co_await sem->hold();
  log->push_back(name);
}

/// Releases once the log has `entries` entries (or after 10 s).
Task<void> release_after_log(aio::Semaphore* sem, std::size_t entries, const std::vector<std::string>* log) {
  for (int i = 0; i < 1000 && log->size() < entries; ++i)
    co_await aio::sleep(10ms);
  sem->release();
}

TEST(AioSemaphore, ACancelledWaiterTakesNoPermit) {
  std::vector<std::string> log;
  aio::run([&]() -> Task<void> {
    aio::Semaphore sem{1};
    co_await sem.acquire();
    std::vector<Task<void>> tasks;
    tasks.push_back(wait_and_log(&sem, 0ms, "first", &log));
    tasks.push_back(give_up_after(&sem, 10ms, 30ms, &log));
    tasks.push_back(wait_and_log(&sem, 20ms, "third", &log));
    tasks.push_back(release_after_log(&sem, 1, &log));
    co_await aio::wait_for(aio::gather(std::move(tasks)), 30s);
    EXPECT_EQ(sem.value(), 1U) << "a permit leaked or was lost";
    EXPECT_FALSE(sem.locked());
  });
  EXPECT_EQ(log, (std::vector<std::string>{"impatient gave up", "first", "third"}));
}

TEST(AioSemaphore, GuardReleasesOnException) {
  aio::run([]() -> Task<void> {
    aio::Semaphore sem{1};
    try {
      auto permit = co_await sem.hold();
      EXPECT_TRUE(sem.locked());
      co_await fail_after(1ms, "while holding");
    } catch (const std::runtime_error&) {
    }
    EXPECT_FALSE(sem.locked());
    EXPECT_EQ(sem.value(), 1U);

    auto first = co_await sem.hold();
    auto moved = std::move(first);
    EXPECT_EQ(sem.value(), 0U);
    moved.release();
    moved.release();
    EXPECT_EQ(sem.value(), 1U) << "release() of a guard must release once";
  });
}

TEST(AioSemaphore, ReleaseWithoutWaitersAddsAPermit) {
  aio::run([]() -> Task<void> {
    aio::Semaphore sem{0};
    EXPECT_TRUE(sem.locked());
    sem.release();
    sem.release();
    EXPECT_EQ(sem.value(), 2U);
    co_await sem.acquire();
    co_await sem.acquire();
    EXPECT_TRUE(sem.locked());
  });
}

Task<void> wait_on(aio::Semaphore* sem, bool* aborted) {
  try {
    co_await sem->acquire();
  } catch (const boost::system::system_error& e) {
    *aborted = is_aborted(e);
  }
}

Task<void> destroy_after(std::unique_ptr<aio::Semaphore>* sem, milliseconds delay) {
  co_await aio::sleep(delay);
  sem->reset();
}

TEST(AioSemaphore, DestroyingItResumesWaitersWithOperationAborted) {
  bool aborted = false;
  aio::run([&]() -> Task<void> {
    auto sem = std::make_unique<aio::Semaphore>(0);
    co_await aio::wait_for(aio::gather(wait_on(sem.get(), &aborted), destroy_after(&sem, 10ms)), 30s);
  });
  EXPECT_TRUE(aborted);
}

// ---------------------------------------------------------------------------------------------
// as_completed

TEST(AioAsCompleted, YieldsResultsInCompletionOrder) {
  std::vector<int> seen;
  aio::run([&]() -> Task<void> {
    std::vector<Task<int>> tasks;
    tasks.push_back(value_after(1, 150ms));
    tasks.push_back(value_after(2, 10ms));
    tasks.push_back(value_after(3, 80ms));
    auto results = aio::as_completed(std::move(tasks));
    EXPECT_EQ(results.size(), 3U);
    while (!results.done())
      seen.push_back(co_await results.next());
    EXPECT_EQ(results.remaining(), 0U);
    EXPECT_THROW((void)results.next(), std::logic_error);
  });
  EXPECT_EQ(seen, (std::vector<int>{2, 3, 1}));
}

TEST(AioAsCompleted, RethrowsAFailureInItsTurn) {
  std::vector<std::string> seen;
  aio::run([&]() -> Task<void> {
    std::vector<Task<int>> tasks;
    tasks.push_back(value_after(1, 100ms));
    tasks.push_back(fail_after(10ms, "failed first"));
    auto results = aio::as_completed(std::move(tasks));
    while (!results.done()) {
      try {
        seen.push_back(std::to_string(co_await results.next()));
      } catch (const std::runtime_error& e) {
        seen.emplace_back(e.what());
      }
    }
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"failed first", "1"}));
}

TEST(AioAsCompleted, DestroyingItCancelsTheRemainingTasks) {
  bool cancelled = false;
  aio::run([&]() -> Task<void> {
    {
      std::vector<Task<int>> tasks;
      tasks.push_back(sleep_watching(60s, &cancelled));
      tasks.push_back(value_after(7, 1ms));
      auto results = aio::as_completed(std::move(tasks));
      EXPECT_EQ(co_await results.next(), 7);
    }
    for (int i = 0; i < 3000 && !cancelled; ++i)
      co_await aio::sleep(10ms);
  });
  EXPECT_TRUE(cancelled);
}

TEST(AioAsCompleted, EmptyInputIsDoneAtOnce) {
  aio::AsCompleted<int> results = aio::as_completed(std::vector<Task<int>>{});
  EXPECT_TRUE(results.done());
  EXPECT_EQ(results.size(), 0U);
  EXPECT_THROW((void)results.next(), std::logic_error);
}

TEST(AioAsCompleted, VoidTasks) {
  int counter = 0;
  aio::run([&]() -> Task<void> {
    std::vector<Task<void>> tasks;
    tasks.push_back(count_after(20ms, &counter));
    tasks.push_back(count_after(1ms, &counter));
    auto results = aio::as_completed(std::move(tasks));
    co_await results.next();
    EXPECT_EQ(counter, 1);
    co_await results.next();
    EXPECT_EQ(counter, 2);
  });
}

}  // namespace
