// lab_mapreduce: the lab's Example and Problem 3 written as parlab::map_reduce, each checked
// against the plain Pool.map version of the notebook.
//
// The Example: over the notebook's 1,000,000 x 5 rows (np.random.seed(100)), how many rows have
// k values in [4, 8], for each k. The mapper takes a block of rows and emits (count, 1) per row;
// the combiner sums them per block, in the map task; the reducer sums per k. The histogram must
// equal a tally of Pool.map(howmany_within_range_rowonly, data).
//
// Problem 3: min-max normalisation of each row (np.random.seed(42), sizes Small, Medium, Large,
// drawn in the notebook's order). The input is the matrix's cells in blocks of 64 that cut across
// rows; the mapper emits (row, value) per cell, the shuffle gathers each row's values in input
// order, i.e. the row itself, and the reducer normalises it. The rows must equal
// Pool.map(normalize, data), and row 0 prints as examples/lab_prob3.cpp prints it.

#include "check.hpp"
#include "lab/numpy_random.hpp"
#include "lab/pyrepr.hpp"
#include "lab/workloads.hpp"

#include <parlab/mapreduce.hpp>
#include <parlab/pool.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

namespace {

using Row = std::vector<int64_t>;
using parlab::lab::py_str;

/// [begin, end) blocks of `size` positions out of `n`.
std::vector<std::pair<std::size_t, std::size_t>> blocks(std::size_t n, std::size_t size) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t begin = 0; begin < n; begin += size)
    out.emplace_back(begin, std::min(n, begin + size));
  return out;
}

}  // namespace

int main() {
  parlab::Pool pool;

  // ---- The Example ----
  parlab::lab::RandomState example_rng{100};
  const std::vector<Row> data = example_rng.randint_rows(0, 10, 1'000'000, 5);

  // On a thread Pool the mapper may capture: here the rows, which the blocks index.
  auto count_block = [&data](std::pair<std::size_t, std::size_t> block) {
    std::vector<std::pair<int, long>> pairs;
    for (std::size_t i = block.first; i < block.second; ++i)
      pairs.emplace_back(parlab::lab::howmany_within_range(data[i], 4, 8), 1);
    return pairs;
  };
  auto add = [](const int& /*k*/, const std::vector<long>& ones) {
    return std::accumulate(ones.begin(), ones.end(), 0L);
  };
  std::map<int, long> rows_with_k =
      parlab::map_reduce(pool, blocks(data.size(), 10'000), count_block, add, add);

  std::vector<int> counts = pool.map(parlab::lab::howmany_within_range_rowonly, data);
  std::map<int, long> tally;
  for (int k : counts)
    ++tally[k];
  std::cout << "Example: rows of " << data.size() << " with k values in [4, 8] (map_reduce):\n";
  for (const auto& [k, rows] : rows_with_k)
    std::cout << "  k = " << k << ": " << std::setw(6) << rows << " rows\n";
  check(rows_with_k == tally, "map_reduce's histogram equals the tally of Pool.map's counts");
  std::cout << "equal to the tally of Pool.map(howmany_within_range_rowonly, data)\n";

  // ---- Problem 3 ----
  struct Size {
    const char* name;
    std::size_t rows, cols;
  };
  const std::array<Size, 3> sizes{{{"Small", 100, 50}, {"Medium", 1'000, 50}, {"Large", 10'000, 50}}};
  auto normalize = [](const Row& row) { return parlab::lab::normalize(row); };

  parlab::lab::RandomState rng{42};
  std::cout << "Problem 3: normalisation as map_reduce over blocks of 64 cells, keyed by row:\n";
  for (const Size& size : sizes) {
    const std::vector<Row> matrix = rng.randint_rows(0, 1000, size.rows, size.cols);
    const std::size_t cols = size.cols;
    auto cells_by_row = [&matrix, cols](std::pair<std::size_t, std::size_t> block) {
      std::vector<std::pair<std::size_t, int64_t>> pairs;
      for (std::size_t cell = block.first; cell < block.second; ++cell)
        pairs.emplace_back(cell / cols, matrix[cell / cols][cell % cols]);
      return pairs;
    };
    auto normalize_row = [](const std::size_t& /*row*/, const Row& values) {
      return parlab::lab::normalize(values);
    };
    std::map<std::size_t, std::vector<double>> by_row =
        parlab::map_reduce(pool, blocks(size.rows * cols, 64), cells_by_row, normalize_row);

    const std::vector<std::vector<double>> expected = pool.map(normalize, matrix);
    check(by_row.size() == expected.size(), "one normalised row per row");
    for (const auto& [row, values] : by_row)
      check(values == expected[row], "map_reduce row equals Pool.map's");

    const std::vector<double> head(by_row.at(0).begin(), by_row.at(0).begin() + 4);
    std::cout << "  " << std::left << std::setw(7) << size.name << std::right << std::setw(6) << size.rows
              << " x " << std::setw(2) << size.cols << "  row 0 starts " << py_str(head) << '\n';
  }
  std::cout << "every row equal to Pool.map(normalize, data)\n";
}
