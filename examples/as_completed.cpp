// concurrent.futures habits on a parlab pool: submit (apply_async), as_completed with a progress
// count, wait, exception() and add_done_callback. The functions work on AsyncResults of any
// pool: a Pool's and a ProcessPool's results may be mixed in one call.

#include <parlab/futures.hpp>
#include <parlab/pool.hpp>
#include "check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Steps of the Collatz sequence from n down to 1.
long collatz_steps(long n) {
  long steps = 0;
  for (; n != 1; ++steps)
    n = n % 2 == 0 ? n / 2 : 3 * n + 1;
  return steps;
}

int checked_sqrt(int x) {
  if (x < 0) throw std::domain_error("negative input " + std::to_string(x));
  return static_cast<int>(std::lround(std::sqrt(x)));
}

}  // namespace

int main() {
  std::cout << std::boolalpha;
  parlab::Pool pool{4};
  const std::vector<long> numbers{27, 97, 871, 6171, 77031, 837799};

  // Python: futures = [executor.submit(collatz_steps, n) for n in numbers]
  //         for f in as_completed(futures): longest = max(longest, f.result()); progress(...)
  std::vector<parlab::AsyncResult<long>> futures;
  for (long n : numbers)
    futures.push_back(pool.apply_async(collatz_steps, n));
  std::size_t done = 0;
  long longest = 0;
  for (auto& f : parlab::as_completed(futures)) {
    longest = std::max(longest, f.get());
    std::cout << "progress: " << ++done << "/" << futures.size() << '\n';
  }
  std::cout << "longest chain: " << longest << " steps\n";
  check(done == numbers.size() && longest == 524, "as_completed yields every result once");

  // Python: done, not_done = wait(futures, timeout=10, return_when=FIRST_EXCEPTION)
  std::vector<parlab::AsyncResult<int>> roots;
  for (int x : {16, 25, -1, 36})
    roots.push_back(pool.apply_async(checked_sqrt, x));
  auto first_error = parlab::wait(roots, parlab::ReturnWhen::first_exception, std::chrono::seconds{10});
  const bool failure_is_done = std::any_of(first_error.done.begin(), first_error.done.end(),
                                           [](parlab::AsyncResult<int>& r) { return !r.successful(); });
  std::cout << "first_exception: the failed call is done: " << failure_is_done << '\n';
  auto [finished, pending] = parlab::wait(roots);  // ALL_COMPLETED, no timeout
  std::cout << "all_completed: " << finished.size() << " done, " << pending.size() << " not done\n";
  check(failure_is_done && finished.size() == 4 && pending.empty(), "wait");

  // Python: f.exception() is None, or the exception, without raising it
  for (auto& r : roots) {
    if (std::exception_ptr error = r.exception()) {
      std::cout << "exception(): " << parlab::describe(error) << '\n';
    } else {
      std::cout << "result: " << r.get() << '\n';
    }
  }

  // Python: future.add_done_callback(fn): fn(future) runs once it is done, here on the pool's
  // callback thread, so it needs no lock against the pool's other callbacks.
  std::vector<std::string> log;
  parlab::AsyncResult<long> nine = pool.apply_async(collatz_steps, 9L);
  nine.add_done_callback(
      [&log](parlab::AsyncResult<long> r) { log.push_back("9: " + std::to_string(r.get())); });
  nine.add_done_callback([&log](parlab::AsyncResult<long>) { log.push_back("second callback"); });
  pool.close();
  pool.join();  // every callback has run
  print_list("done callbacks", log);
  check(log == std::vector<std::string>{"9: 19", "second callback"}, "callbacks in the order added");
}
