// apply and apply_async, and the AsyncResult handle: Python's `pool.apply(f, args)`,
// `pool.apply_async(f, args)` and `AsyncResult.get / wait / ready / successful`.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

int add(int a, int b) { return a + b; }

}  // namespace

int main() {
  std::cout << std::boolalpha;
  parlab::Pool pool{2};

  // Python: pool.apply(add, (2, 3)): runs on a worker, blocks, returns the value.
  int five = pool.apply(add, 2, 3);
  std::cout << "apply(add, 2, 3) = " << five << '\n';
  check(five == 5, "apply");

  // Python: r = pool.apply_async(add, (20, 22)); r.wait(); r.ready(); r.successful(); r.get()
  parlab::AsyncResult<int> r = pool.apply_async(add, 20, 22);
  r.wait();
  std::cout << "ready: " << r.ready() << ", successful: " << r.successful() << ", get: " << r.get() << '\n';
  check(r.get() == 42, "apply_async");

  // Arguments are copied (or moved) into the task, as Python pickles them.
  std::string name = "parlab";
  parlab::AsyncResult<std::size_t> length = pool.apply_async([](const std::string& s) { return s.size(); }, name);
  name.clear();  // the task has its own copy
  std::cout << "length of the copy: " << length.get() << '\n';
  check(length.get() == 6, "arguments are copied");

  // wait_for(timeout) is Python's wait(timeout), and says whether the result is ready.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  parlab::AsyncResult<int> gated = pool.apply_async([opened] {
    opened.wait();
    return 7;
  });
  const bool ready_in_time = gated.wait_for(std::chrono::milliseconds(20));
  std::cout << "wait_for(20ms) before the gate opens: " << ready_in_time << ", ready: " << gated.ready() << '\n';
  try {
    (void)gated.successful();  // Python raises ValueError when the result is not ready
  } catch (const std::logic_error& e) {
    std::cout << "successful() too early: " << e.what() << '\n';
  }
  gate.set_value();
  std::cout << "get(5s) after the gate opens: " << gated.get(std::chrono::seconds(5)) << '\n';
  check(!ready_in_time && gated.get() == 7, "wait_for");

  // A failed task: successful() is false and get() rethrows the task's own exception.
  parlab::AsyncResult<int> failed = pool.apply_async([]() -> int { throw std::runtime_error("boom"); });
  failed.wait();
  std::cout << "failed task successful: " << failed.successful() << '\n';
  try {
    failed.get();
  } catch (const std::runtime_error& e) {
    std::cout << "get() rethrew: " << e.what() << '\n';
  }

  // A function returning void gives an AsyncResult<void>; get() returns nothing or throws.
  parlab::AsyncResult<void> done = pool.apply_async([] {});
  done.get();
  std::cout << "void task done: " << done.successful() << '\n';
}
