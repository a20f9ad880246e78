// Ctrl-C inside aio::run (asyncio.run's KeyboardInterrupt): the main task is cancelled and finishes
// its own way, run throws parlab::KeyboardInterrupt, an uncaught one ends the program by SIGINT
// (status 130) within 1 s with no thread left behind, and a second Ctrl-C does not wait for a main
// task that ignores the first. The programs interrupted are tests/aio/interrupted.cpp's modes.
#include "support/child.hpp"
#include "support/files.hpp"

#include <parlab/aio.hpp>
#include <parlab/errors.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/system/system_error.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace {

namespace aio = parlab::aio;
using parlab::test::ChildProcess;
using parlab::test::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// tests/aio/interrupted.cpp in `mode`, started and past its "ready" line.
struct Interrupted {
  TempDir dir;
  ChildProcess program;
  explicit Interrupted(const std::string& mode) : program{PARLAB_AIO_INTERRUPTED, {mode}, dir.path() / "stderr.txt"} {
    const auto ready = program.read_line(60s);
    EXPECT_EQ(ready, "ready") << program.err();
  }
};

bool sigint_has_default_action() {
  struct sigaction current {};
  return ::sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler == SIG_DFL;
}

TEST(AioInterrupt, CtrlCCancelsTheMainTaskAndEndsTheProgramBySigintWithin1s) {
  Interrupted run{"uncaught"};
  run.program.signal(SIGINT);
  const auto sent = Clock::now();
  EXPECT_EQ(run.program.read_line(10s), "main cancelled");  // main handled its cancellation
  const auto status = run.program.wait(10s);
  ASSERT_TRUE(status.has_value()) << "still running 10 s after Ctrl-C";
  EXPECT_LT(Clock::now() - sent, 1s);
  EXPECT_EQ(*status, 128 + SIGINT) << run.program.err();  // the shell's 130, as Python's
  EXPECT_EQ(run.program.err(), "KeyboardInterrupt\n");
}

TEST(AioInterrupt, ACaughtKeyboardInterruptLeavesNoThreadBehindAndTheProgramsOwnStatus) {
  Interrupted run{"caught"};
  run.program.signal(SIGINT);
  EXPECT_EQ(run.program.read_line(10s), "main cancelled");
  // The default executor's threads (to_thread ran) are joined before run() throws.
  EXPECT_EQ(run.program.read_line(10s), "KeyboardInterrupt caught; threads left behind: 0");
  EXPECT_EQ(run.program.wait(10s), 130) << run.program.err();
}

TEST(AioInterrupt, ASecondCtrlCEndsAMainTaskThatIgnoresTheFirst) {
  Interrupted run{"stubborn"};
  run.program.signal(SIGINT);
  EXPECT_EQ(run.program.read_line(10s), "main cancelled");
  EXPECT_FALSE(run.program.wait(300ms).has_value()) << "the first Ctrl-C only cancels";
  run.program.signal(SIGINT);
  const auto status = run.program.wait(10s);
  ASSERT_TRUE(status.has_value()) << "still running 10 s after the second Ctrl-C";
  EXPECT_EQ(*status, 128 + SIGINT) << run.program.err();
}

TEST(AioInterrupt, WithoutHandleSigintCtrlCEndsTheProgramAtOnce) {
  Interrupted run{"unhandled"};
  run.program.signal(SIGINT);
  EXPECT_EQ(run.program.read_line(10s), std::nullopt);  // main never saw a cancellation
  EXPECT_EQ(run.program.wait(10s), 128 + SIGINT);
  EXPECT_EQ(run.program.err(), "");
}

TEST(AioInterrupt, RunThrowsKeyboardInterruptAndGivesSigintItsDefaultActionBack) {
  ASSERT_TRUE(sigint_has_default_action());
  bool cancelled = false;
  EXPECT_THROW(aio::run([&]() -> aio::Task<void> {
                 EXPECT_FALSE(sigint_has_default_action()) << "the loop handles Ctrl-C";
                 ::kill(::getpid(), SIGINT);
                 try {
                   co_await aio::sleep(60s);
                 } catch (const boost::system::system_error&) {
                   cancelled = true;
                   throw;
                 }
               }),
               parlab::KeyboardInterrupt);
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(sigint_has_default_action());
}

TEST(AioInterrupt, AMainTaskThatHandlesTheCancellationAndReturnsGivesItsValue) {
  const int value = aio::run([]() -> aio::Task<int> {
    ::kill(::getpid(), SIGINT);
    try {
      co_await aio::sleep(60s);
    } catch (const boost::system::system_error&) {
      co_return 7;  // asyncio.run returns it too: the cancellation was handled
    }
    co_return 0;
  });
  EXPECT_EQ(value, 7);
}

TEST(AioInterrupt, AnotherErrorWhileCancelledIsRethrownAsItIs) {
  EXPECT_THROW(aio::run([]() -> aio::Task<void> {
                 ::kill(::getpid(), SIGINT);
                 try {
                   co_await aio::sleep(60s);
                 } catch (const boost::system::system_error&) {
                   throw std::runtime_error("cleanup failed");
                 }
               }),
               std::runtime_error);
}

TEST(AioInterrupt, ALoopLeavesAHandlerTheProgramInstalledAlone) {
  struct sigaction own {};
  own.sa_handler = SIG_IGN;
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGINT, &own, &before), 0);
  const int value = aio::run([]() -> aio::Task<int> {
    struct sigaction current {};
    ::sigaction(SIGINT, nullptr, &current);
    co_return current.sa_handler == SIG_IGN ? 1 : 0;
  });
  EXPECT_EQ(value, 1);
  ::sigaction(SIGINT, &before, nullptr);
}

}  // namespace
