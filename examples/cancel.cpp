// Cancelling work, and maps that stop at their first error: Python's Future.cancel() and
// CancelledError, made to reach work that is already running.
//
// AsyncResult::cancel() drops what has not started and stops what runs: on a Pool, a task whose
// first parameter is a std::stop_token is asked to stop (std::jthread's convention; others
// finish); on a ProcessPool, the worker running the task is killed and replaced. get() then
// throws parlab::CancelledError. MapOptions{.fail_fast = true} stops a map the same way at its
// first failing item and throws that item's TaskError.

#include <parlab/process_pool.hpp>
#include "check.hpp"

#include <chrono>
#include <cstddef>
#include <future>
#include <iostream>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

int sleep_for_seconds(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  return seconds;
}

// The third record is malformed; the others take a while.
int parse_slowly(int record) {
  if (record == 2) throw std::invalid_argument("record 2 is malformed");
  std::this_thread::sleep_for(100ms);
  return record * 10;
}

}  // namespace

int main() {
  std::cout << std::boolalpha;

  // A Pool task that takes a stop token checks it and returns early once cancelled.
  parlab::Pool pool{2};
  std::promise<void> started;
  parlab::AsyncResult<long> search = pool.apply_async(
      [&started](std::stop_token stop, long from) {
        started.set_value();
        long n = from;
        while (!stop.stop_requested())
          ++n;  // searching for something that is not there
        return n;
      },
      1L);
  started.get_future().wait();
  std::cout << "cancel(): " << search.cancel() << '\n';
  try {
    search.get();
  } catch (const parlab::CancelledError& e) {
    std::cout << "get() threw CancelledError: " << e.what() << '\n';
  }
  std::cout << "cancelled(): " << search.cancelled() << '\n';
  check(search.cancelled(), "the search was cancelled");

  // map_outcomes_async keeps what finished: the items after the cancel hold CancelledError.
  std::promise<void> third;
  auto outcomes_result = pool.map_outcomes_async(
      [&third](std::stop_token stop, int x) {
        if (x == 2) {
          third.set_value();
          while (!stop.stop_requested())
            std::this_thread::sleep_for(1ms);
        }
        return x * x;
      },
      std::vector<int>{0, 1, 2, 3, 4, 5}, {.chunksize = 6});
  third.get_future().wait();
  outcomes_result.cancel();
  std::vector<parlab::Outcome<int>> outcomes = outcomes_result.get();
  std::cout << "outcomes:";
  std::size_t finished = 0;
  for (const auto& outcome : outcomes) {
    if (outcome.ok()) {
      std::cout << ' ' << outcome.value();
      ++finished;
    } else {
      std::cout << " cancelled";
    }
  }
  std::cout << '\n';
  check(finished == 2, "items 0 and 1 finished, the others were cancelled");

  // On a ProcessPool the worker running a cancelled task is killed, and a new one takes its place.
  parlab::ProcessPool procs{1};
  const auto start = std::chrono::steady_clock::now();
  parlab::AsyncResult<int> nap = procs.apply_async(sleep_for_seconds, 60);
  std::this_thread::sleep_for(200ms);
  nap.cancel();
  try {
    nap.get();
  } catch (const parlab::CancelledError&) {
    const bool quick = std::chrono::steady_clock::now() - start < 10s;
    std::cout << "the 60 s task was cancelled within seconds: " << quick << '\n';
    check(quick, "cancel did not wait for the task");
  }
  std::cout << "the pool goes on: " << procs.apply(sleep_for_seconds, 0) << '\n';

  // Fail-fast: 100 records of 100 ms on 2 workers take 5 s; the map stops at record 2.
  std::vector<int> records(100);
  for (std::size_t i = 0; i < records.size(); ++i)
    records[i] = static_cast<int>(i);
  parlab::ProcessPool parsers{2};
  const auto map_start = std::chrono::steady_clock::now();
  try {
    parsers.map(parse_slowly, records, {.fail_fast = true});
  } catch (const parlab::TaskError& e) {
    std::cout << "fail_fast: item " << e.index() << " failed: " << parlab::describe(e.original()) << '\n';
  }
  const bool early = std::chrono::steady_clock::now() - map_start < 4s;
  std::cout << "the map stopped early: " << early << '\n';
  check(early, "fail_fast did not wait for the whole map");
  return 0;
}
