// lab_prob1: Problem 1. For each row i, the items of list_a[i] that are also in list_b[i], in
// list_a's order, computed with Pool.starmap over (row_a, row_b) pairs. The answer is stored in
// soln.json as Python's str() of the list, which parlab::lab::py_str writes byte for byte.

#include "check.hpp"
#include "lab/pyrepr.hpp"
#include "lab/workloads.hpp"

#include <parlab/pool.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using Row = std::vector<int64_t>;

}  // namespace

int main() {
  // Python: list_a = [[1, 2, 3], [5, 6, 7, 8], [10, 11, 12], [20, 21]]
  //         list_b = [[2, 3, 4, 5], [6, 9, 10], [11, 12, 13, 14], [21, 24, 25]]
  const std::vector<Row> list_a{{1, 2, 3}, {5, 6, 7, 8}, {10, 11, 12}, {20, 21}};
  const std::vector<Row> list_b{{2, 3, 4, 5}, {6, 9, 10}, {11, 12, 13, 14}, {21, 24, 25}};
  check(list_a == parlab::lab::prob1_list_a() && list_b == parlab::lab::prob1_list_b(), "the lab's lists");

  // Python: def common_items(row_a, row_b):
  //             return [x for x in row_a if x in row_b]
  //         with mp.Pool(mp.cpu_count()) as pool:
  //             prob1 = pool.starmap(common_items, zip(list_a, list_b))
  parlab::Pool pool;
  std::vector<std::tuple<const Row&, const Row&>> pairs;
  for (std::size_t i = 0; i < list_a.size(); ++i) pairs.emplace_back(list_a[i], list_b[i]);
  std::vector<Row> prob1 = pool.starmap(parlab::lab::common_items, pairs);

  // Python: answers["prob1"] = str(prob1)
  const std::string answer = parlab::lab::py_str(prob1);
  std::cout << "prob1: " << answer << '\n';
  check(answer == "[[2, 3], [6], [11, 12], [21]]", "the lab's expected answer");

  // Duplicates in row_a are kept and order follows row_a, as in the list comprehension.
  std::cout << "common_items([3, 1, 3, 2], [2, 3]): "
            << parlab::lab::py_str(parlab::lab::common_items({3, 1, 3, 2}, {2, 3})) << '\n';
}
