// map_async with callback and error_callback: Python's
// `pool.map_async(f, items, callback=on_done, error_callback=on_error)`.
//
// As in Python, a pool runs every hook on one thread of its own, one at a time, in the order the
// results completed, before any waiter wakes: hooks need no lock among themselves, and whatever
// they write is visible once get() or wait() returns. A hook that throws is reported on stderr.

#include <parlab/pool.hpp>
#include "check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int square(int x) { return x * x; }

// Fails on 13, the way a real task fails on bad input.
int unlucky_square(int x) {
  if (x == 13) throw std::domain_error("13 is unlucky");
  return x * x;
}

int add(int a, int b) { return a + b; }

}  // namespace

int main() {
  std::cout << std::boolalpha;
  parlab::Pool pool{4};
  const std::thread::id main_thread = std::this_thread::get_id();

  std::vector<int> numbers{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int> collected;  // written by the callback, read after wait()
  bool callback_off_main = false;
  std::string failure;  // written by the error_callback

  // Python: pool.map_async(square, numbers, callback=collect, error_callback=report)
  parlab::Callbacks<std::vector<int>> hooks{
      .callback =
          [&](const std::vector<int>& squares) {
            collected = squares;
            callback_off_main = std::this_thread::get_id() != main_thread;
          },
      .error_callback = [&](const std::exception_ptr& error) { failure = parlab::describe(error); }};
  parlab::AsyncResult<std::vector<int>> result = pool.map_async(square, numbers, {}, hooks);
  numbers.push_back(9);  // fine: map_async copied the lvalue input
  result.wait();

  print_list("callback got", collected);
  std::cout << "callback ran on the pool's callback thread: " << callback_off_main << '\n';
  std::cout << "error_callback called: " << !failure.empty() << '\n';
  check(collected == result.get(), "the callback saw the result");
  check(callback_off_main && failure.empty(), "callback only");

  // Items 3 and 5 fail: once every item has run, the error_callback receives a TaskError for the
  // lowest failing index, carrying the original exception.
  collected.clear();
  const std::vector<int> teens{10, 11, 12, 13, 14, 13};
  parlab::AsyncResult<std::vector<int>> failing = pool.map_async(unlucky_square, teens, {}, hooks);
  failing.wait();
  std::cout << "error_callback got: " << failure << '\n';
  std::cout << "successful(): " << failing.successful() << '\n';
  check(collected.empty() && !failing.successful(), "error_callback only");

  // apply_async takes its hooks first: Python's pool.apply_async(add, (2, 3), callback=...)
  int seen = 0;
  parlab::AsyncResult<int> sum = pool.apply_async(
      parlab::Callbacks<int>{.callback = [&seen](const int& value) { seen = value; }, .error_callback = {}},
      add, 2, 3);
  sum.wait();
  std::cout << "apply_async callback got: " << seen << '\n';
  check(seen == 5 && sum.get() == 5, "apply_async callback");

  // Python's `callback=results.append`: the hooks never overlap, so a plain vector will do.
  std::vector<int> results;
  std::vector<parlab::AsyncResult<int>> pending;
  for (int x = 1; x <= 20; ++x)
    pending.push_back(pool.apply_async(
        parlab::Callbacks<int>{.callback = [&results](const int& value) { results.push_back(value); }},
        square, x));
  pool.close();
  pool.join();  // joins the callback thread too: every hook has run
  std::sort(results.begin(), results.end());
  print_list("appended by 20 callbacks", results);
  check(results.size() == 20 && results.back() == 400, "every callback appended once");
}
