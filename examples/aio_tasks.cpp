// parlab::aio tasks as objects and structured concurrency: create_task (asyncio.create_task), a
// task's cancel / done / result, the loop's exception handler, task_group (asyncio.TaskGroup),
// timeout (asyncio.timeout) and shield (asyncio.shield).
//
// Every line printed is fixed: timings only decide the order in which tasks finish, and the
// program checks its own results (exit 1 on a wrong one).

#include "check.hpp"
#include <parlab/aio.hpp>
#include <parlab/aio_tasks.hpp>
#include <parlab/errors.hpp>

#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace aio = parlab::aio;
using aio::Task;
using namespace std::chrono_literals;

namespace {

Task<int> square_later(int x, std::chrono::milliseconds delay) {
  co_await aio::sleep(delay);
  co_return x * x;
}

Task<int> fetch(std::string page, std::chrono::milliseconds delay) {
  co_await aio::sleep(delay);
  if (page == "missing") throw std::runtime_error("page " + page + " not found");
  co_return static_cast<int>(page.size());
}

// Python: async def slow_report(): try: await asyncio.sleep(10) except CancelledError: print(...); raise
Task<void> slow_report() {
  try {
    co_await aio::sleep(10s);
  } catch (const boost::system::system_error&) {  // operation_aborted: this task was cancelled
    std::cout << "slow_report: cancelled while sleeping\n";
    throw;
  }
}

Task<int> save_to_disk(int value) {
  co_await aio::sleep(200ms);
  co_return value;
}

Task<void> main_task() {
  // Python: task = asyncio.create_task(square_later(7, 0.02)); ...; print(await task)
  auto square = aio::create_task(square_later(7, 20ms));
  std::cout << "create_task: done at once? " << std::boolalpha << square.done() << '\n';
  int value = co_await square.wait();
  std::cout << "create_task: " << value << ", done: " << square.done() << '\n';
  check(value == 49, "create_task");

  // Python: report = asyncio.create_task(slow_report()); report.cancel()
  auto report = aio::create_task(slow_report());
  co_await aio::sleep(10ms);
  report.cancel();
  try {
    co_await report.wait();
  } catch (const parlab::CancelledError& e) {
    std::cout << "cancel: " << e.what() << ", cancelled: " << report.cancelled() << '\n';
  }
  check(report.cancelled(), "cancel");

  // Python: async with asyncio.TaskGroup() as group: group.create_task(...) ...
  std::vector<aio::TaskHandle<int>> pages;
  auto fetch_pages = [&](aio::TaskGroup& group) -> Task<void> {
    pages.push_back(group.create_task(fetch("index", 10ms)));
    pages.push_back(group.create_task(fetch("about", 20ms)));
    co_return;
  };
  co_await aio::task_group(fetch_pages);
  std::cout << "task_group: sizes " << pages[0].result() << " and " << pages[1].result() << '\n';

  // Python: except* RuntimeError as group: — the first failure cancels the other tasks
  auto fetch_broken = [&](aio::TaskGroup& group) -> Task<void> {
    group.create_task(fetch("missing", 10ms));
    group.create_task(slow_report());
    co_return;
  };
  try {
    co_await aio::task_group(fetch_broken);
    check(false, "task_group should fail");
  } catch (const aio::ExceptionGroup& group) {
    std::cout << "task_group: " << group.what() << '\n';
  }

  // Python: async with asyncio.timeout(0.05) as scope: scope.reschedule(...); await ...
  auto two_steps = [](aio::Timeout& scope) -> Task<int> {
    int first = co_await square_later(2, 10ms);
    scope.reschedule(aio::Timeout::Clock::now() + 30ms);  // the second step gets 30 ms more
    int second = co_await square_later(3, 10s);
    co_return first + second;
  };
  try {
    co_await aio::timeout(50ms, two_steps);
    check(false, "timeout should expire");
  } catch (const parlab::TimeoutError& e) {
    std::cout << "timeout: " << e.what() << '\n';
  }

  // Python: await asyncio.shield(save) — cancelling the waiter does not cancel the save
  auto save = aio::create_task(save_to_disk(5));
  auto wait_for_save = [](aio::TaskHandle<int> task) -> Task<int> { co_return co_await aio::shield(task); };
  auto waiter = aio::create_task(wait_for_save(save));
  co_await aio::sleep(10ms);
  waiter.cancel();
  int saved = co_await save.wait();
  std::cout << "shield: waiter cancelled: " << waiter.cancelled() << ", save still gave " << saved << '\n';
  check(waiter.cancelled() && saved == 5, "shield");

  // A failure nobody looked at reaches the loop's exception handler when its last handle dies.
  (void)aio::create_task(fetch("missing", 1ms));
  co_await aio::sleep(100ms);
}

}  // namespace

int main() {
  // Python: loop.set_exception_handler(...); asyncio.run(main())
  aio::LoopOptions options;
  options.exception_handler = [](const std::exception_ptr& error) {
    std::cout << "exception handler: " << parlab::describe(error) << '\n';
  };
  aio::run(main_task(), options);
}
