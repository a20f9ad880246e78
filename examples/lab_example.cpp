// lab_example: the notebook's Example. How many values of each row lie in [4, 8], over
// 1,000,000 rows of 5 numbers, four ways: a serial loop, Pool.map, Pool.starmap and
// Pool.starmap_async re-sorted by index. The data is numpy's, drawn bit for bit as
// `np.random.seed(100); np.random.randint(0, 10, size=[1000000, 5]).tolist()` draws it, so the
// counts printed are the Python notebook's. All four must agree; the program exits 1 otherwise.

#include "check.hpp"
#include "lab/numpy_random.hpp"
#include "lab/pyrepr.hpp"
#include "lab/workloads.hpp"

#include <parlab/pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using Row = std::vector<int64_t>;
using parlab::lab::howmany_within_range;
using parlab::lab::howmany_within_range_rowonly;

}  // namespace

int main() {
  // Python: np.random.seed(100)
  //         data = np.random.randint(0, 10, size=[1000000, 5]).tolist()
  parlab::lab::RandomState rng{100};
  const std::vector<Row> data = rng.randint_rows(0, 10, 1'000'000, 5);

  // Python: results = []
  //         for row in data:
  //             results.append(howmany_within_range(row, minimum=4, maximum=8))
  std::vector<int> serial;
  serial.reserve(data.size());
  for (const Row& row : data) serial.push_back(howmany_within_range(row, 4, 8));

  // Python: pool = mp.Pool(mp.cpu_count())
  parlab::Pool pool;

  // Python: results = pool.map(howmany_within_range_rowonly, [row for row in data])
  std::vector<int> mapped = pool.map(howmany_within_range_rowonly, data);

  // Python: results = pool.starmap(howmany_within_range, [(row, 4, 8) for row in data])
  // The tuples hold references to the rows: threads share memory, nothing is copied or pickled.
  std::vector<std::tuple<const Row&, int64_t, int64_t>> args;
  args.reserve(data.size());
  for (const Row& row : data) args.emplace_back(row, 4, 8);
  std::vector<int> starred = pool.starmap(howmany_within_range, args);

  // Python: results = pool.starmap_async(howmany_within_range2,
  //                       [(i, row, 4, 8) for i, row in enumerate(data)]).get()
  //         results.sort(key=lambda x: x[0])
  //         results_final = [r for i, r in results]
  auto howmany_within_range2 = [](std::size_t i, const Row& row, int64_t minimum, int64_t maximum) {
    return std::pair{i, howmany_within_range(row, minimum, maximum)};
  };
  std::vector<std::tuple<std::size_t, const Row&, int64_t, int64_t>> indexed;
  indexed.reserve(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) indexed.emplace_back(i, data[i], 4, 8);
  parlab::AsyncResult<std::vector<std::pair<std::size_t, int>>> pending =
      pool.starmap_async(howmany_within_range2, std::move(indexed));
  std::vector<std::pair<std::size_t, int>> pairs = pending.get();
  std::sort(pairs.begin(), pairs.end());
  std::vector<int> results_final;
  results_final.reserve(pairs.size());
  for (const auto& [i, count] : pairs) results_final.push_back(count);

  // Python: print(results[:10])
  std::cout << "rows: " << data.size() << '\n';
  std::cout << "first row: " << parlab::lab::py_str(data.front()) << '\n';
  std::cout << "first 10 counts: " << parlab::lab::py_str(std::vector<int>(serial.begin(), serial.begin() + 10))
            << '\n';
  check(serial.size() == 1'000'000, "one count per row");
  check(mapped == serial, "Pool.map equals the serial loop");
  check(starred == serial, "Pool.starmap equals the serial loop");
  check(results_final == serial, "Pool.starmap_async, re-sorted, equals the serial loop");
  std::cout << "serial loop, Pool.map, Pool.starmap and Pool.starmap_async agree on all "
            << results_final.size() << " counts\n";
}
