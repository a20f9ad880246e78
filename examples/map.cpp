// map: Python's `pool.map(f, iterable, chunksize)`.
//
// f runs on the pool's worker threads; map blocks until every item is done and returns the
// results in input order, like Python's list. Every value printed is also checked against a
// serial computation, so the program fails (exit 1) if the pool ever got one wrong.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <ranges>
#include <string>
#include <vector>

namespace {

int square(int x) { return x * x; }

}  // namespace

int main() {
  parlab::Pool pool{4};  // Python: Pool(processes=4), here four worker threads

  std::vector<int> numbers(10);
  std::iota(numbers.begin(), numbers.end(), 0);

  // Python: squares = pool.map(square, numbers)
  std::vector<int> squares = pool.map(square, numbers);
  print_list("squares", squares);
  for (int x : numbers) check(squares[static_cast<std::size_t>(x)] == x * x, "squares");

  // Any callable works; the element type of the result follows what f returns.
  std::vector<std::string> labels = pool.map([](int x) { return "item " + std::to_string(x); }, numbers);
  std::cout << "labels: " << labels.front() << " .. " << labels.back() << '\n';
  check(labels[7] == "item 7", "labels");

  // Any sized random-access range is mapped in place, views included; other ranges (a std::list,
  // a filter view) are first copied into a vector, as Python's map does with list(iterable).
  // chunksize is how many items a worker claims at a time; by default ceil(n / (4 * workers)),
  // Python's rule.
  parlab::MapOptions options;
  options.chunksize = 50;
  std::vector<int> big = pool.map(square, std::views::iota(0, 1000), options);
  const long long total = std::accumulate(big.begin(), big.end(), 0LL);
  std::cout << "sum of squares below 1000: " << total << '\n';
  check(total == 332833500LL, "sum of squares");

  // progress (a parlab extra): called from a worker after each chunk with (done, total).
  std::atomic<bool> saw_all{false};
  options.progress = [&saw_all](std::size_t done, std::size_t all) {
    if (done == all) saw_all = true;
  };
  big = pool.map(square, std::views::iota(0, 1000), options);
  std::cout << "progress reported 1000/1000: " << std::boolalpha << saw_all.load() << '\n';
  check(saw_all.load(), "progress");

  // A function returning void makes map return void: a parallel for-each. Each task writes only
  // its own element, so no lock is needed.
  std::vector<int> doubled(numbers.size());
  pool.map([&doubled](int x) { doubled[static_cast<std::size_t>(x)] = 2 * x; }, numbers);
  print_list("doubled", doubled);
  check(doubled[9] == 18, "doubled");
}
