// Backpressure: a producer of many tasks that cannot run ahead of the pool. Python's Pool has no
// bound (apply_async queues everything, so a fast producer can exhaust memory);
// PoolOptions::max_pending makes apply_async wait, and submit_timeout makes it give up.

#include <parlab/pool.hpp>
#include "check.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>

namespace {

long square(long x) { return x * x; }

}  // namespace

int main() {
  std::cout << std::boolalpha;
  long sum = 0;
  std::atomic<int> unfinished{0};
  int most_unfinished = 0;
  {
    // At most 8 submitted calls unfinished: the 9th apply_async waits until one finishes.
    parlab::Pool pool{2, {.max_pending = 8}};
    for (long i = 0; i < 20'000; ++i) {
      // The handle is dropped: the callback collects the value, so memory stays bounded too.
      (void)pool.apply_async(parlab::Callbacks<long>{.callback =
                                                         [&](const long& value) {
                                                           sum += value;
                                                           --unfinished;
                                                         }},
                             square, i);
      most_unfinished = std::max(most_unfinished, ++unfinished);
    }
  }  // ~Pool(): close() + join(), every callback has run
  std::cout << "sum of 20000 squares: " << sum << '\n';
  std::cout << "never more than 8 unfinished: " << (most_unfinished <= 8) << '\n';
  check(sum == 2666466670000L && most_unfinished <= 8, "max_pending");

  // With submit_timeout, a submission that cannot get in throws TimeoutError.
  parlab::Pool busy{1, {.max_pending = 1, .submit_timeout = std::chrono::milliseconds{50}}};
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  parlab::AsyncResult<void> blocker = busy.apply_async([opened] { opened.wait(); });
  try {
    (void)busy.apply_async(square, 2L);
  } catch (const parlab::TimeoutError& e) {
    std::cout << "TimeoutError: " << e.what() << '\n';
  }
  gate.set_value();
  blocker.wait();
  const long four = busy.apply_async(square, 2L).get();  // the slot is free again
  std::cout << "after the blocker finished: " << four << '\n';
  check(four == 4, "a free slot admits the call");
}
