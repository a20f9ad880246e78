// Nested use: a task that itself calls pool.map on its own pool.
//
// With one worker, a naive pool deadlocks here: the only worker runs the outer task, which
// waits for inner tasks that no worker is free to run. (Python's ThreadPool hangs exactly so;
// its process Pool cannot be used from its own workers at all.) In parlab a task that waits on
// its own pool runs the pool's queued work meanwhile, so the inner map completes.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <vector>

namespace {

int square(int x) { return x * x; }

}  // namespace

int main() {
  parlab::Pool pool{1};  // a single worker thread

  const std::vector<std::vector<int>> matrix{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};

  // Each row is a task; each task maps square over its row on the same pool.
  std::vector<int> row_sums = pool.map(
      [&pool](const std::vector<int>& row) {
        std::vector<int> squares = pool.map(square, row);  // waits by running the inner work itself
        return std::accumulate(squares.begin(), squares.end(), 0);
      },
      matrix);
  print_list("sum of squares per row", row_sums);
  check(row_sums == std::vector<int>{14, 77, 194}, "nested map");

  // The same holds for apply_async(...).get() inside a task.
  int nested = pool.apply([&pool] { return pool.apply_async(square, 12).get() + 1; });
  std::cout << "nested apply: " << nested << '\n';
  check(nested == 145, "nested apply");
}
