// parlab::aio: Python's asyncio on one event loop. `aio::run` is `asyncio.run`; this program
// uses gather, to_thread, Semaphore, wait_for, gather(..., return_exceptions) and as_completed.
//
// Every line printed is fixed: timings only decide the order in which tasks finish, and the
// program checks its own results (exit 1 on a wrong one).

#include "check.hpp"
#include <parlab/aio.hpp>
#include <parlab/errors.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace aio = parlab::aio;
using aio::Task;
using namespace std::chrono_literals;

namespace {

// Python: async def square_later(x, delay): await asyncio.sleep(delay); return x * x
Task<int> square_later(int x, std::chrono::milliseconds delay) {
  co_await aio::sleep(delay);
  co_return x * x;
}

// Blocking, CPU-bound work: it belongs on a thread, not on the event loop.
long count_multiples(long limit, long k) {
  long count = 0;
  for (long i = 0; i < limit; ++i) count += i % k == 0 ? 1 : 0;
  return count;
}

struct Downloads {
  int in_flight = 0;
  int most = 0;
  std::vector<int> done;
};

Task<void> download(aio::Semaphore* limit, int page, Downloads* stats) {
  auto permit = co_await limit->hold();  // Python: async with limit:
  stats->most = std::max(stats->most, ++stats->in_flight);
  co_await aio::sleep(20ms);
  --stats->in_flight;
  stats->done.push_back(page);
}

Task<int> failing_page(int page) {
  co_await aio::sleep(10ms);
  throw std::runtime_error("page " + std::to_string(page) + " is missing");
}

Task<std::string> named_after(std::string name, std::chrono::milliseconds delay) {
  co_await aio::sleep(delay);
  co_return name;
}

Task<void> main_task() {
  // Python: squares = await asyncio.gather(*(square_later(x, ...) for x in range(1, 5)))
  std::vector<Task<int>> tasks;
  for (int x = 1; x <= 4; ++x) tasks.push_back(square_later(x, std::chrono::milliseconds(40 * (5 - x))));
  std::vector<int> squares = co_await aio::gather(std::move(tasks));
  print_list("gather, in input order", squares);
  check(squares == std::vector<int>{1, 4, 9, 16}, "gather");

  // Python: n = await asyncio.to_thread(count_multiples, 1_000_000, 7)
  const auto loop_thread = std::this_thread::get_id();
  long multiples = co_await aio::to_thread(count_multiples, 1'000'000L, 7L);
  std::cout << "to_thread: " << multiples << " multiples of 7 below 1000000, back on the loop thread: "
            << std::boolalpha << (std::this_thread::get_id() == loop_thread) << '\n';
  check(multiples == 142'858, "to_thread");

  // Python: limit = asyncio.Semaphore(2); await asyncio.gather(*(download(limit, p) for p in pages))
  aio::Semaphore limit{2};
  Downloads stats;
  std::vector<Task<void>> downloads;
  for (int page = 1; page <= 6; ++page) downloads.push_back(download(&limit, page, &stats));
  co_await aio::gather(std::move(downloads));
  std::cout << "semaphore: " << stats.done.size() << " downloads, at most " << stats.most << " at once\n";
  check(stats.done.size() == 6 && stats.most == 2, "semaphore");

  // Python: await asyncio.wait_for(square_later(9, 10), timeout=0.1)
  try {
    co_await aio::wait_for(square_later(9, 10s), 100ms);
    check(false, "wait_for should time out");
  } catch (const parlab::TimeoutError& e) {
    std::cout << "wait_for: " << e.what() << '\n';
  }

  // Python: await asyncio.gather(square_later(3, 0.01), failing_page(7), return_exceptions=True)
  std::vector<Task<int>> pages;
  pages.push_back(square_later(3, 10ms));
  pages.push_back(failing_page(7));
  std::vector<aio::Outcome<int>> outcomes = co_await aio::gather(std::move(pages), aio::return_exceptions);
  for (const auto& outcome : outcomes) {
    if (outcome.ok()) {
      std::cout << "outcome: value " << outcome.value() << '\n';
    } else {
      std::cout << "outcome: error " << parlab::describe(outcome.error()) << '\n';
    }
  }
  check(outcomes.size() == 2 && outcomes[0].ok() && !outcomes[1].ok(), "return_exceptions");

  // Python: for next_done in asyncio.as_completed(aws): print(await next_done)
  std::vector<Task<std::string>> racers;
  racers.push_back(named_after("slow", 150ms));
  racers.push_back(named_after("fast", 10ms));
  racers.push_back(named_after("middle", 80ms));
  auto finished = aio::as_completed(std::move(racers));
  std::cout << "as_completed:";
  while (!finished.done()) {
    std::string name = co_await finished.next();
    std::cout << ' ' << name;
  }
  std::cout << '\n';
}

}  // namespace

int main() {
  aio::run(main_task());  // Python: asyncio.run(main())
}
