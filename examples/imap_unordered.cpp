// imap_unordered: Python's `for r in pool.imap_unordered(f, items, chunksize): ...`.
//
// Results arrive as they finish, so their order changes from run to run. The program sorts
// them before printing, and prints their sum, which does not depend on the order.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <optional>
#include <thread>
#include <vector>

namespace {

// Later items are quicker, so completion order tends to differ from input order.
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::microseconds(200 * (20 - x)));
  return x * x;
}

}  // namespace

int main() {
  parlab::Pool pool{4};
  std::vector<int> numbers(20);
  std::iota(numbers.begin(), numbers.end(), 0);

  // Python: for sq in pool.imap_unordered(slow_square, numbers, chunksize=2): arrived.append(sq)
  parlab::MapOptions options;
  options.chunksize = 2;  // imap's default is 1, as in Python
  std::vector<int> arrived;
  for (int sq : pool.imap_unordered(slow_square, numbers, options)) arrived.push_back(sq);

  std::ranges::sort(arrived);  // completion order varies; sort for a deterministic printout
  print_list("sorted results", arrived);
  const int total = std::accumulate(arrived.begin(), arrived.end(), 0);
  std::cout << "sum: " << total << '\n';
  check(arrived.size() == 20 && total == 2470, "every square arrived exactly once");

  // Manual stepping, like Python's next(it): next() returns std::nullopt after the last result.
  auto results = pool.imap_unordered(slow_square, numbers);
  int count = 0;
  while (std::optional<int> sq = results.next()) ++count;
  std::cout << "results via next(): " << count << '\n';
  check(count == 20, "next() count");
}
