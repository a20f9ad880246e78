// Errors: what a failing task, and a wait that runs out of time, look like to the caller.
//
// - map (and every map-like call) throws parlab::TaskError once all items have run: the index
//   of the lowest failing item, a message, and the task's own exception, which
//   rethrow_original() throws again with its original type.
// - imap throws the TaskError from the step that reaches the failed item; the next step goes on.
// - apply / apply_async rethrow the task's exception itself (there is no index to report).
// - AsyncResult::get(timeout) throws parlab::TimeoutError; the result can still be had later.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Parses a non-negative count: throws std::invalid_argument or std::out_of_range on bad text.
int parse_count(const std::string& text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw std::invalid_argument("not a number: '" + text + "'");
  }
  if (value < 0) throw std::out_of_range("negative count: " + text);
  return value;
}

}  // namespace

int main() {
  parlab::Pool pool{4};
  const std::vector<std::string> inputs{"3", "14", "x1", "15", "-9", "26"};

  // Items 2 and 4 fail; the TaskError names the lowest failing index, whichever failed first.
  bool caught = false;
  try {
    std::vector<int> counts = pool.map(parse_count, inputs);
  } catch (const parlab::TaskError& e) {
    std::cout << "TaskError index: " << e.index() << '\n';
    std::cout << "TaskError what(): " << e.what() << '\n';
    try {
      e.rethrow_original();
    } catch (const std::invalid_argument& original) {
      std::cout << "original std::invalid_argument: " << original.what() << '\n';
      caught = e.index() == 2;
    }
  }
  check(caught, "TaskError for item 2 carrying std::invalid_argument");

  // imap: each failed item throws from its own step; iteration continues after it.
  auto steps = pool.imap(parse_count, inputs);
  int good = 0;
  for (;;) {
    try {
      std::optional<int> count = steps.next();
      if (!count) break;
      ++good;
    } catch (const parlab::TaskError& e) {
      std::cout << "imap item " << e.index() << " failed: " << parlab::describe(e.original()) << '\n';
    }
  }
  std::cout << "imap good items: " << good << '\n';
  check(good == 4, "imap continues after a failed item");

  // apply rethrows the task's exception itself.
  try {
    pool.apply(parse_count, std::string("-1"));
  } catch (const std::out_of_range& e) {
    std::cout << "apply threw std::out_of_range: " << e.what() << '\n';
  }

  // get(timeout): the task waits for a gate that opens only after the timeout has fired.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  parlab::AsyncResult<int> answer = pool.apply_async([opened] {
    opened.wait();
    return 42;
  });
  try {
    answer.get(std::chrono::milliseconds(50));
  } catch (const parlab::TimeoutError& e) {
    std::cout << "TimeoutError: " << e.what() << '\n';
  }
  gate.set_value();
  std::cout << "after the timeout, get() still returns " << answer.get() << '\n';
  check(answer.get() == 42, "result after timeout");
}
