// A program that Ctrl-C interrupts inside aio::run (used by test_aio_interrupt). Its main task
// starts the default executor (one to_thread call), prints "ready", then waits in a gather of long
// sleeps. The mode, its one argument, says what it does with the interrupt:
//   uncaught   the main task reports its cancellation and lets it through; nobody catches the
//              KeyboardInterrupt, so the program ends by SIGINT
//   caught     as uncaught, but main() catches the KeyboardInterrupt, prints how many threads the
//              loop left behind (the process's threads now less those before run), and returns 130
//   stubborn   the main task swallows the first cancellation and sleeps on; a second Ctrl-C ends it
//   unhandled  LoopOptions::handle_sigint = false: Ctrl-C ends the program at once
#include "parlab/aio.hpp"
#include "parlab/errors.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace aio = parlab::aio;
using namespace std::chrono_literals;

namespace {

aio::Task<void> sleep_long() { co_await aio::sleep(600s); }

aio::Task<int> main_task(std::string mode) {
  (void)co_await aio::to_thread([] { return 0; });
  std::cout << "ready" << std::endl;
  try {
    std::vector<aio::Task<void>> sleeps;
    sleeps.push_back(sleep_long());
    sleeps.push_back(sleep_long());
    co_await aio::gather(std::move(sleeps));
  } catch (const boost::system::system_error&) {
    std::cout << "main cancelled" << std::endl;
    if (mode != "stubborn") throw;
  }
  // Stubborn: a cancelled task's later waits throw at once, unless it takes the cancellation back
  // (Python's Task.uncancel()); then only a second Ctrl-C ends this sleep.
  co_await boost::asio::this_coro::reset_cancellation_state();
  co_await aio::sleep(600s);
  co_return 0;
}

/// Threads of this process.
long threads() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"), std::filesystem::directory_iterator{});
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "uncaught";
  const aio::LoopOptions options{.handle_sigint = mode != "unhandled"};
  if (mode != "caught") return aio::run(main_task(mode), options);
  std::thread{[] {}}.join();  // TSan's runtime starts its own thread at the first thread
  const long before = threads();
  try {
    return aio::run(main_task(mode), options);
  } catch (const parlab::KeyboardInterrupt& interrupt) {
    std::cout << interrupt.what() << " caught; threads left behind: " << threads() - before << std::endl;
    return 130;
  }
}
