// parlab::aio tasks as objects and structured concurrency: create_task and TaskHandle, the
// loop's exception handler, task_group and ExceptionGroup, timeout / timeout_at, shield.
#include <parlab/aio.hpp>
#include <parlab/aio_tasks.hpp>
#include <parlab/errors.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

namespace aio = parlab::aio;
using aio::Task;
using aio::TaskHandle;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool is_aborted(const boost::system::system_error& e) {
  return e.code() == boost::asio::error::operation_aborted;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The messages of the exceptions an exception handler received.
struct Reported {
  std::vector<std::string> messages;
  aio::LoopOptions options() {
    return {.executor_threads = 0, .exception_handler = [this](const std::exception_ptr& error) {
              try {
                std::rethrow_exception(error);
              } catch (const std::exception& e) {
                messages.emplace_back(e.what());
              }
            }};
  }
};

/// Polls `condition` every millisecond until it holds, for at most 10 s (then the test fails).
Task<void> until(std::function<bool()> condition) {
  const auto start = Clock::now();
  while (!condition() && seconds_since(start) < 10.0)
    co_await aio::sleep(1ms);
  EXPECT_TRUE(condition());
}

Task<int> value_after(int value, milliseconds delay) {
  co_await aio::sleep(delay);
  co_return value;
}

Task<int> fail_after(milliseconds delay, std::string message) {
  co_await aio::sleep(delay);
  throw std::runtime_error(message);
}

/// Sleeps `delay`; sets `*aborted` when the sleep is cancelled, then rethrows.
Task<void> sleep_watching(milliseconds delay, bool* aborted) {
  try {
    co_await aio::sleep(delay);
  } catch (const boost::system::system_error& e) {
    if (is_aborted(e)) *aborted = true;
    throw;
  }
}

/// Sleeps `delay`; a cancellation is caught, and the task returns `value` anyway.
Task<int> ignore_cancellation(milliseconds delay, int value) {
  try {
    co_await aio::sleep(delay);
  } catch (const boost::system::system_error&) {
  }
  co_return value;
}

// ---------------------------------------------------------------------------------------------
// create_task and TaskHandle

TEST(AioCreateTask, OutsideALoopThrowsLogicError) {
  EXPECT_THROW((void)aio::create_task(value_after(1, 1ms)), std::logic_error);
}

TEST(AioCreateTask, FromAToThreadCallThrowsLogicError) {
  const bool refused = aio::run([]() -> Task<bool> {
    co_return co_await aio::to_thread([] {
      try {
        (void)aio::create_task(value_after(1, 1ms));
      } catch (const std::logic_error&) {
        return true;
      }
      return false;
    });
  });
  EXPECT_TRUE(refused);
}

TEST(AioCreateTask, ManyTasksEachGiveTheirValue) {
  const long sum = aio::run([]() -> Task<long> {
    std::vector<TaskHandle<int>> tasks;
    tasks.reserve(1000);
    for (int i = 0; i < 1000; ++i)
      tasks.push_back(aio::create_task(value_after(i, milliseconds(i % 7))));
    long total = 0;
    for (auto& task : tasks)
      total += co_await task.wait();
    co_return total;
  });
  EXPECT_EQ(sum, 999L * 1000L / 2L);
}

TEST(AioCreateTask, StartsAtTheLoopsNextTurnAndRunsConcurrently) {
  auto [started_at_once, value, elapsed] = aio::run([]() -> Task<std::tuple<bool, int, double>> {
    bool started = false;
    auto mark = [](bool* flag) -> Task<int> {
      *flag = true;
      co_await aio::sleep(50ms);
      co_return 5;
    };
    const auto start = Clock::now();
    auto first = aio::create_task(mark(&started));
    auto second = aio::create_task(value_after(6, 50ms));
    const bool at_once = started;
    int total = co_await first.wait();
    total += co_await second.wait();
    co_return std::tuple{at_once, total, seconds_since(start)};
  });
  EXPECT_FALSE(started_at_once);
  EXPECT_EQ(value, 11);
  EXPECT_LT(elapsed, 5.0);
}

TEST(AioCreateTask, WaitRethrowsTheTasksException) {
  EXPECT_THROW(aio::run([]() -> Task<void> {
                 auto task = aio::create_task(fail_after(1ms, "broken"));
                 co_await task.wait();
               }),
               std::runtime_error);
}

TEST(AioCreateTask, KeepsRunningWhenEveryHandleIsDropped) {
  int count = 0;
  aio::run([&]() -> Task<void> {
    auto bump = [](int* counter) -> Task<void> {
      co_await aio::sleep(10ms);
      ++*counter;
    };
    (void)aio::create_task(bump(&count));
    co_await aio::sleep(200ms);
  });
  EXPECT_EQ(count, 1);
}

TEST(AioCreateTask, CancelARunningTask) {
  bool aborted = false;
  aio::run([&]() -> Task<void> {
    auto task = aio::create_task(sleep_watching(10s, &aborted));
    co_await aio::sleep(10ms);
    EXPECT_TRUE(task.cancel());
    EXPECT_FALSE(task.done());
    EXPECT_THROW(co_await task.wait(), parlab::CancelledError);
    EXPECT_TRUE(task.done());
    EXPECT_TRUE(task.cancelled());
    EXPECT_THROW(task.result(), parlab::CancelledError);
    EXPECT_THROW((void)task.exception(), parlab::CancelledError);
  });
  EXPECT_TRUE(aborted);
}

TEST(AioCreateTask, CancelBeforeItStartsMeansItNeverRuns) {
  bool ran = false;
  aio::run([&]() -> Task<void> {
    auto body = [](bool* flag) -> Task<void> {
      *flag = true;
      co_return;
    };
    auto task = aio::create_task(body(&ran));
    EXPECT_TRUE(task.cancel());
    EXPECT_THROW(co_await task.wait(), parlab::CancelledError);
  });
  EXPECT_FALSE(ran);
}

TEST(AioCreateTask, CancelAFinishedTaskReturnsFalse) {
  aio::run([]() -> Task<void> {
    auto task = aio::create_task(value_after(3, 1ms));
    EXPECT_EQ(co_await task.wait(), 3);
    EXPECT_FALSE(task.cancel());
    EXPECT_FALSE(task.cancelled());
    EXPECT_EQ(task.result(), 3);
  });
}

TEST(AioCreateTask, ATaskThatCatchesTheCancellationAndReturnsIsNotCancelled) {
  aio::run([]() -> Task<void> {
    auto task = aio::create_task(ignore_cancellation(10s, 9));
    co_await aio::sleep(10ms);
    EXPECT_TRUE(task.cancel());
    EXPECT_EQ(co_await task.wait(), 9);
    EXPECT_FALSE(task.cancelled());
  });
}

TEST(AioCreateTask, ResultAndExceptionOfAnUnfinishedTaskThrowLogicError) {
  aio::run([]() -> Task<void> {
    auto task = aio::create_task(value_after(1, 10ms));
    EXPECT_THROW(task.result(), std::logic_error);
    EXPECT_THROW((void)task.exception(), std::logic_error);
    co_await task.wait();
  });
}

TEST(AioCreateTask, ResultAndExceptionOfAFinishedTask) {
  Reported reported;
  aio::run(
      []() -> Task<void> {
        auto good = aio::create_task(value_after(4, 1ms));
        auto bad = aio::create_task(fail_after(1ms, "bad"));
        co_await until([&] { return good.done() && bad.done(); });
        EXPECT_EQ(good.result(), 4);
        EXPECT_EQ(good.exception(), nullptr);
        EXPECT_THROW(bad.result(), std::runtime_error);
        EXPECT_NE(bad.exception(), nullptr);
      },
      reported.options());
  EXPECT_TRUE(reported.messages.empty());
}

TEST(AioCreateTask, AwaitingAMoveOnlyResultMovesItOutOnce) {
  aio::run([]() -> Task<void> {
    auto make = []() -> Task<std::unique_ptr<int>> {
      co_await aio::sleep(1ms);
      co_return std::make_unique<int>(8);
    };
    auto task = aio::create_task(make());
    auto value = co_await task.wait();
    EXPECT_EQ(*value, 8);
    EXPECT_THROW((void)task.result(), std::logic_error);
  });
}

TEST(AioCreateTask, CancellingTheWaiterCancelsTheAwaitedTask) {
  bool inner_aborted = false;
  aio::run([&]() -> Task<void> {
    auto inner = aio::create_task(sleep_watching(10s, &inner_aborted));
    auto waiter = [](TaskHandle<void> task) -> Task<void> { co_await task.wait(); };
    auto outer = aio::create_task(waiter(inner));
    co_await aio::sleep(10ms);
    outer.cancel();
    EXPECT_THROW(co_await outer.wait(), parlab::CancelledError);
    EXPECT_TRUE(inner.cancelled());
  });
  EXPECT_TRUE(inner_aborted);
}

// ---------------------------------------------------------------------------------------------
// exceptions nobody retrieved

TEST(AioUnretrieved, ReportedOnceWhenTheLastHandleDies) {
  Reported reported;
  aio::run(
      [&]() -> Task<void> {
        std::optional<TaskHandle<int>> first{aio::create_task(fail_after(1ms, "lost"))};
        std::optional<TaskHandle<int>> copy{*first};
        co_await until([&] { return first->done(); });
        first.reset();
        EXPECT_TRUE(reported.messages.empty());  // a copy still holds it
        copy.reset();
        EXPECT_EQ(reported.messages.size(), 1U);
        co_await aio::sleep(10ms);
      },
      reported.options());
  ASSERT_EQ(reported.messages.size(), 1U);
  EXPECT_EQ(reported.messages[0], "lost");
}

TEST(AioUnretrieved, ATaskWithoutHandlesIsReportedWhenItFails) {
  Reported reported;
  aio::run(
      [&]() -> Task<void> {
        (void)aio::create_task(fail_after(10ms, "dropped"));
        EXPECT_TRUE(reported.messages.empty());
        co_await until([&] { return !reported.messages.empty(); });
      },
      reported.options());
  EXPECT_EQ(reported.messages, std::vector<std::string>{"dropped"});
}

TEST(AioUnretrieved, NotReportedWhenRetrieved) {
  Reported reported;
  aio::run(
      []() -> Task<void> {
        auto awaited = aio::create_task(fail_after(1ms, "awaited"));
        auto by_result = aio::create_task(fail_after(1ms, "by result"));
        auto by_exception = aio::create_task(fail_after(1ms, "by exception"));
        EXPECT_THROW(co_await awaited.wait(), std::runtime_error);
        co_await until([&] { return by_result.done() && by_exception.done(); });
        EXPECT_THROW(by_result.result(), std::runtime_error);
        EXPECT_NE(by_exception.exception(), nullptr);
      },
      reported.options());
  EXPECT_TRUE(reported.messages.empty());
}

TEST(AioUnretrieved, ACancelledTaskIsNotReported) {
  Reported reported;
  aio::run(
      []() -> Task<void> {
        bool aborted = false;
        auto task = aio::create_task(sleep_watching(10s, &aborted));
        co_await aio::sleep(5ms);
        task.cancel();
        co_await until([&] { return task.done(); });
        EXPECT_TRUE(task.cancelled());
      },
      reported.options());
  EXPECT_TRUE(reported.messages.empty());
}

TEST(AioUnretrieved, ReportedWhenTheLoopEndsWhileAHandleLives) {
  Reported reported;
  std::optional<TaskHandle<int>> kept;
  aio::run(
      [&]() -> Task<void> {
        kept.emplace(aio::create_task(fail_after(1ms, "kept")));
        co_await until([&] { return kept->done(); });
      },
      reported.options());
  EXPECT_EQ(reported.messages, std::vector<std::string>{"kept"});
  kept.reset();  // reported already: not again
  EXPECT_EQ(reported.messages.size(), 1U);
}

TEST(AioUnretrieved, TheDefaultHandlerWritesOneLineToStderr) {
  testing::internal::CaptureStderr();
  aio::run([]() -> Task<void> {
    auto task = aio::create_task(fail_after(1ms, "nobody looked"));
    co_await until([&] { return task.done(); });
  });
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "parlab: aio: Task exception was never retrieved: nobody looked\n");
}

TEST(AioUnretrieved, AHandlerThatThrowsFallsBackToTheDefault) {
  testing::internal::CaptureStderr();
  aio::run(
      []() -> Task<void> {
        auto task = aio::create_task(fail_after(1ms, "twice unlucky"));
        co_await until([&] { return task.done(); });
      },
      {.executor_threads = 0,
       .exception_handler = [](const std::exception_ptr&) { throw std::runtime_error("handler broke"); }});
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "parlab: aio: Task exception was never retrieved: twice unlucky\n");
}

// ---------------------------------------------------------------------------------------------
// what run does with created tasks still running

TEST(AioRunEnd, CancelsCreatedTasksAndLetsThemHandleIt) {
  bool aborted = false;
  std::optional<TaskHandle<void>> kept;
  aio::run([&]() -> Task<void> {
    kept.emplace(aio::create_task(sleep_watching(10s, &aborted)));
    co_await aio::sleep(10ms);
  });
  EXPECT_TRUE(aborted);
  EXPECT_TRUE(kept->done());
  EXPECT_TRUE(kept->cancelled());
}

TEST(AioRunEnd, GivesUpOnATaskThatIgnoresTheCancellation) {
  bool finished = false;
  std::optional<TaskHandle<void>> kept;
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    auto stubborn = [](bool* flag) -> Task<void> {
      try {
        co_await aio::sleep(1h);
      } catch (const boost::system::system_error&) {
      }
      co_await boost::asio::this_coro::reset_cancellation_state();
      co_await aio::sleep(1h);
      *flag = true;
    };
    kept.emplace(aio::create_task(stubborn(&finished)));
    co_await aio::sleep(10ms);
  });
  EXPECT_LT(seconds_since(start), 30.0);
  EXPECT_FALSE(finished);
  EXPECT_TRUE(kept->done());
  EXPECT_TRUE(kept->cancelled());
}

// ---------------------------------------------------------------------------------------------
// task_group and ExceptionGroup

TEST(AioTaskGroup, WaitsForEveryTaskAndGivesTheBodysValue) {
  std::vector<int> finished;
  const int result = aio::run([&]() -> Task<int> {
    auto record = [](int value, milliseconds delay, std::vector<int>* out) -> Task<void> {
      co_await aio::sleep(delay);
      out->push_back(value);
    };
    auto body = [&](aio::TaskGroup& group) -> Task<int> {
      group.create_task(record(1, 60ms, &finished));
      group.create_task(record(2, 20ms, &finished));
      co_return 42;
    };
    co_return co_await aio::task_group(body);
  });
  EXPECT_EQ(result, 42);
  EXPECT_EQ(finished, (std::vector<int>{2, 1}));
}

TEST(AioTaskGroup, TheFirstFailureCancelsTheOtherTasksAndTheBody) {
  bool sibling_aborted = false;
  bool body_aborted = false;
  Reported reported;
  const auto start = Clock::now();
  aio::run(
      [&]() -> Task<void> {
        auto body = [&](aio::TaskGroup& group) -> Task<void> {
          group.create_task(sleep_watching(10s, &sibling_aborted));
          group.create_task(fail_after(20ms, "first failure"));
          co_await sleep_watching(10s, &body_aborted);
        };
        try {
          co_await aio::task_group(body);
          ADD_FAILURE() << "task_group should throw";
        } catch (const aio::ExceptionGroup& group) {
          EXPECT_EQ(group.exceptions().size(), 1U);
          EXPECT_THROW(std::rethrow_exception(group.exceptions().at(0)), std::runtime_error);
        }
      },
      reported.options());
  EXPECT_TRUE(sibling_aborted);
  EXPECT_TRUE(body_aborted);
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_TRUE(reported.messages.empty());
}

TEST(AioTaskGroup, CollectsTwoSimultaneousFailures) {
  aio::run([]() -> Task<void> {
    aio::Semaphore gate{0};
    auto fail_at_gate = [](aio::Semaphore* semaphore, std::string message) -> Task<void> {
      co_await semaphore->acquire();
      throw std::runtime_error(message);
    };
    auto body = [&](aio::TaskGroup& group) -> Task<void> {
      group.create_task(fail_at_gate(&gate, "left"));
      group.create_task(fail_at_gate(&gate, "right"));
      co_await aio::sleep(10ms);
      gate.release();
      gate.release();
    };
    try {
      co_await aio::task_group(body);
      ADD_FAILURE() << "task_group should throw";
    } catch (const aio::ExceptionGroup& group) {
      EXPECT_EQ(group.exceptions().size(), 2U);
      EXPECT_STREQ(group.what(), "parlab: aio::TaskGroup: unhandled errors (2 sub-exceptions): left; right");
    }
  });
}

TEST(AioTaskGroup, AFailureWhileHandlingTheCancellationIsCollectedToo) {
  aio::run([]() -> Task<void> {
    auto cleanup_fails = []() -> Task<void> {
      try {
        co_await aio::sleep(10s);
      } catch (const boost::system::system_error&) {
        throw std::invalid_argument("cleanup failed");
      }
    };
    auto body = [&](aio::TaskGroup& group) -> Task<void> {
      group.create_task(cleanup_fails());
      group.create_task(fail_after(10ms, "first"));
      co_return;
    };
    try {
      co_await aio::task_group(body);
      ADD_FAILURE() << "task_group should throw";
    } catch (const aio::ExceptionGroup& group) {
      EXPECT_EQ(group.exceptions().size(), 2U);
      EXPECT_THROW(std::rethrow_exception(group.exceptions().at(0)), std::runtime_error);
      EXPECT_THROW(std::rethrow_exception(group.exceptions().at(1)), std::invalid_argument);
    }
  });
}

TEST(AioTaskGroup, CreateTaskWhileShuttingDownThrowsLogicError) {
  bool refused = false;
  aio::run([&]() -> Task<void> {
    auto body = [&](aio::TaskGroup& group) -> Task<void> {
      group.create_task(fail_after(5ms, "boom"));
      try {
        co_await aio::sleep(10s);
      } catch (const boost::system::system_error&) {
        try {
          group.create_task(value_after(1, 1ms));
        } catch (const std::logic_error&) {
          refused = true;
        }
        throw;
      }
    };
    EXPECT_THROW(co_await aio::task_group(body), aio::ExceptionGroup);
  });
  EXPECT_TRUE(refused);
}

TEST(AioTaskGroup, CancellingTheAwaitingTaskCancelsEveryChildAndWaitsForThem) {
  bool first_aborted = false;
  bool second_aborted = false;
  aio::run([&]() -> Task<void> {
    auto outer = [&]() -> Task<void> {
      auto body = [&](aio::TaskGroup& group) -> Task<void> {
        group.create_task(sleep_watching(10s, &first_aborted));
        group.create_task(sleep_watching(10s, &second_aborted));
        co_await aio::sleep(10s);
      };
      co_await aio::task_group(body);
    };
    auto task = aio::create_task(outer());
    co_await aio::sleep(20ms);
    task.cancel();
    EXPECT_THROW(co_await task.wait(), parlab::CancelledError);
    // task_group returned only after both children had ended.
    EXPECT_TRUE(first_aborted);
    EXPECT_TRUE(second_aborted);
  });
}

TEST(AioTaskGroup, ExceptionGroupNamesOneSubException) {
  aio::ExceptionGroup group("errors", {std::make_exception_ptr(std::runtime_error("alone"))});
  EXPECT_STREQ(group.what(), "errors (1 sub-exception): alone");
  try {
    std::rethrow_exception(std::make_exception_ptr(group));  // a copy
  } catch (const aio::ExceptionGroup& copy) {
    EXPECT_EQ(copy.exceptions().size(), 1U);
    EXPECT_STREQ(copy.what(), group.what());
  }
}

// ---------------------------------------------------------------------------------------------
// timeout and timeout_at

TEST(AioTimeout, ExpiryCancelsTheBodyAndThrowsTimeoutError) {
  bool body_saw_timeout = false;
  bool body_aborted = false;
  const auto start = Clock::now();
  aio::run([&]() -> Task<void> {
    auto body = [&](aio::Timeout& /*scope*/) -> Task<void> {
      try {
        co_await aio::sleep(10s);
      } catch (const parlab::TimeoutError&) {
        body_saw_timeout = true;
      } catch (const boost::system::system_error& e) {
        body_aborted = is_aborted(e);
        throw;
      }
    };
    EXPECT_THROW(co_await aio::timeout(30ms, body), parlab::TimeoutError);
  });
  EXPECT_FALSE(body_saw_timeout);
  EXPECT_TRUE(body_aborted);
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST(AioTimeout, ABodyThatFinishesInTimeGivesItsValue) {
  const int value = aio::run([]() -> Task<int> {
    auto body = [](aio::Timeout& scope) -> Task<int> {
      co_await aio::sleep(5ms);
      EXPECT_FALSE(scope.expired());
      co_return 12;
    };
    co_return co_await aio::timeout(10s, body);
  });
  EXPECT_EQ(value, 12);
}

TEST(AioTimeout, RescheduleLaterLetsTheBodyFinish) {
  const int value = aio::run([]() -> Task<int> {
    auto body = [](aio::Timeout& scope) -> Task<int> {
      scope.reschedule(Clock::now() + 10s);
      co_await aio::sleep(200ms);
      co_return 5;
    };
    co_return co_await aio::timeout(100ms, body);
  });
  EXPECT_EQ(value, 5);
}

TEST(AioTimeout, RescheduleEarlierExpiresSooner) {
  const auto start = Clock::now();
  aio::run([]() -> Task<void> {
    auto body = [](aio::Timeout& scope) -> Task<void> {
      EXPECT_TRUE(scope.when().has_value());
      scope.reschedule(Clock::now() + 20ms);
      co_await aio::sleep(10s);
    };
    EXPECT_THROW(co_await aio::timeout(10s, body), parlab::TimeoutError);
  });
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST(AioTimeout, RescheduleToNoneDisablesIt) {
  const int value = aio::run([]() -> Task<int> {
    auto body = [](aio::Timeout& scope) -> Task<int> {
      scope.reschedule(std::nullopt);
      EXPECT_FALSE(scope.when().has_value());
      co_await aio::sleep(200ms);
      co_return 3;
    };
    co_return co_await aio::timeout_at(Clock::now() + 100ms, body);
  });
  EXPECT_EQ(value, 3);
}

TEST(AioTimeout, ABodyThatCatchesTheCancellationIsNoTimeoutAndCannotReschedule) {
  bool refused = false;
  const int value = aio::run([&]() -> Task<int> {
    auto body = [&](aio::Timeout& scope) -> Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const boost::system::system_error&) {
        EXPECT_TRUE(scope.expired());
        try {
          scope.reschedule(Clock::now() + 10s);
        } catch (const std::logic_error&) {
          refused = true;
        }
      }
      co_return 8;
    };
    co_return co_await aio::timeout(20ms, body);
  });
  EXPECT_EQ(value, 8);
  EXPECT_TRUE(refused);
}

TEST(AioTimeout, TheInnerExpiringIsNotTheOutersTimeout) {
  bool inner_timed_out = false;
  bool outer_expired = true;
  const int value = aio::run([&]() -> Task<int> {
    auto outer = [&](aio::Timeout& outer_scope) -> Task<int> {
      auto inner = [](aio::Timeout& /*scope*/) -> Task<void> { co_await aio::sleep(10s); };
      try {
        co_await aio::timeout(20ms, inner);
      } catch (const parlab::TimeoutError&) {
        inner_timed_out = true;
      }
      outer_expired = outer_scope.expired();
      co_return 7;
    };
    co_return co_await aio::timeout(10s, outer);
  });
  EXPECT_EQ(value, 7);
  EXPECT_TRUE(inner_timed_out);
  EXPECT_FALSE(outer_expired);
}

TEST(AioTimeout, TheOuterExpiringIsNotTheInnersTimeout) {
  bool inner_reported_timeout = false;
  bool inner_aborted = false;
  bool inner_expired = true;
  aio::run([&]() -> Task<void> {
    auto outer = [&](aio::Timeout& /*scope*/) -> Task<void> {
      auto inner = [&](aio::Timeout& scope) -> Task<void> {
        try {
          co_await aio::sleep(10s);
        } catch (const boost::system::system_error&) {
          inner_expired = scope.expired();
          throw;
        }
      };
      try {
        co_await aio::timeout(10s, inner);
      } catch (const parlab::TimeoutError&) {
        inner_reported_timeout = true;
        throw;
      } catch (const boost::system::system_error& e) {
        inner_aborted = is_aborted(e);
        throw;
      }
    };
    EXPECT_THROW(co_await aio::timeout(20ms, outer), parlab::TimeoutError);
  });
  EXPECT_FALSE(inner_reported_timeout);
  EXPECT_TRUE(inner_aborted);
  EXPECT_FALSE(inner_expired);
}

TEST(AioTimeout, TheBodysOwnExceptionPassesThrough) {
  EXPECT_THROW(aio::run([]() -> Task<void> {
                 auto body = [](aio::Timeout& /*scope*/) -> Task<int> { return fail_after(1ms, "own"); };
                 co_await aio::timeout(10s, body);
               }),
               std::runtime_error);
}

TEST(AioTimeout, CancellingTheAwaiterCancelsTheBodyAndIsNoTimeout) {
  bool body_aborted = false;
  aio::run([&]() -> Task<void> {
    auto scoped = [&]() -> Task<void> {
      auto body = [&](aio::Timeout& /*scope*/) -> Task<void> { co_await sleep_watching(10s, &body_aborted); };
      co_await aio::timeout(10s, body);
    };
    auto task = aio::create_task(scoped());
    co_await aio::sleep(10ms);
    task.cancel();
    EXPECT_THROW(co_await task.wait(), parlab::CancelledError);
  });
  EXPECT_TRUE(body_aborted);
}

// ---------------------------------------------------------------------------------------------
// shield

TEST(AioShield, GivesTheValueWhenNotCancelled) {
  EXPECT_EQ(aio::run([]() -> Task<int> { co_return co_await aio::shield(value_after(6, 5ms)); }), 6);
}

TEST(AioShield, TheShieldedTaskKeepsRunningWhenTheAwaiterIsCancelled) {
  bool inner_aborted = false;
  aio::run([&]() -> Task<void> {
    auto inner = aio::create_task(sleep_watching(500ms, &inner_aborted));
    auto awaiter = [](TaskHandle<void> task) -> Task<void> { co_await aio::shield(task); };
    auto outer = aio::create_task(awaiter(inner));
    co_await aio::sleep(10ms);
    outer.cancel();
    EXPECT_THROW(co_await outer.wait(), parlab::CancelledError);
    EXPECT_FALSE(inner.done());  // the awaiter ended at once, before the inner task
    co_await inner.wait();
    EXPECT_FALSE(inner.cancelled());
  });
  EXPECT_FALSE(inner_aborted);
}

TEST(AioShield, TheUnretrievedExceptionOfAShieldedTaskGoesToTheHandler) {
  Reported reported;
  aio::run(
      [&]() -> Task<void> {
        auto awaiter = []() -> Task<int> { co_return co_await aio::shield(fail_after(200ms, "shielded")); };
        auto outer = aio::create_task(awaiter());
        co_await aio::sleep(10ms);
        outer.cancel();
        EXPECT_THROW(co_await outer.wait(), parlab::CancelledError);
        EXPECT_TRUE(reported.messages.empty());
        co_await until([&] { return !reported.messages.empty(); });
      },
      reported.options());
  EXPECT_EQ(reported.messages, std::vector<std::string>{"shielded"});
}

}  // namespace
