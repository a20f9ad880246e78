// starmap and starmap_async: Python's `pool.starmap(f, [(a, b, c), ...])`.
//
// Each input element is a tuple-like (std::tuple, std::pair, std::array) whose members become
// f's arguments. The function is the lab's howmany_within_range: how many numbers of a row lie
// in [minimum, maximum].

#include "check.hpp"
#include <parlab/pool.hpp>

#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <tuple>
#include <utility>
#include <vector>

namespace {

int howmany_within_range(const std::vector<int>& row, int minimum, int maximum) {
  int count = 0;
  for (int n : row) {
    if (minimum <= n && n <= maximum) ++count;
  }
  return count;
}

}  // namespace

int main() {
  parlab::Pool pool{4};

  // Eight rows of five numbers in [0, 10), made without randomness so the output is fixed.
  std::vector<std::vector<int>> data;
  for (int r = 0; r < 8; ++r) {
    std::vector<int> row;
    for (int c = 0; c < 5; ++c) row.push_back((r * 7 + c * 3) % 10);
    data.push_back(row);
  }

  // Python: pool.starmap(howmany_within_range, [(row, 4, 8) for row in data])
  std::vector<std::tuple<std::vector<int>, int, int>> args;
  for (const auto& row : data) args.emplace_back(row, 4, 8);
  std::vector<int> counts = pool.starmap(howmany_within_range, args);
  print_list("counts", counts);

  std::vector<int> serial;
  for (const auto& row : data) serial.push_back(howmany_within_range(row, 4, 8));
  check(counts == serial, "starmap equals the serial loop");

  // Pairs unpack too, into any callable.
  std::vector<std::pair<int, int>> bases_and_exponents{{2, 10}, {3, 4}, {10, 3}};
  std::vector<long long> powers = pool.starmap(
      [](int base, int exponent) {
        long long result = 1;
        for (int i = 0; i < exponent; ++i) result *= base;
        return result;
      },
      bases_and_exponents);
  print_list("powers", powers);
  check(powers == std::vector<long long>{1024, 81, 1000}, "powers");

  // Python: pool.starmap_async(howmany_within_range, args).get()
  // An lvalue input container is copied, as Python pickles the arguments, so the caller may
  // change or free it while the work runs.
  parlab::AsyncResult<std::vector<int>> pending = pool.starmap_async(howmany_within_range, args);
  args.clear();
  std::vector<int> later = pending.get();
  print_list("starmap_async", later);
  check(later == serial, "starmap_async equals the serial loop");
}
