// lab_prob3: Problem 3. Min-max normalisation of every row, serial and with Pool.map, at the
// notebook's five sizes drawn from one numpy stream (np.random.seed(42), then Small, Medium,
// Large, XL and XXL in that order). It prints the notebook's small test rows, the first
// normalised row of each size, and `prob3`, the first five normalised XXL rows as Python's
// str() prints them: the same bytes as the Python notebook's soln.json. Serial and parallel
// results must be equal; the program exits 1 otherwise. `parlab lab` times the same steps.

#include "check.hpp"
#include "lab/numpy_random.hpp"
#include "lab/pyrepr.hpp"
#include "lab/workloads.hpp"

#include <parlab/pool.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Row = std::vector<int64_t>;
using parlab::lab::py_str;

}  // namespace

int main() {
  parlab::Pool pool;
  // normalize has an int-row and a float-row overload; the lambda picks the int one.
  auto normalize = [](const Row& row) { return parlab::lab::normalize(row); };

  // Python: def normalize(row):
  //             mn, mx = min(row), max(row)
  //             if mx == mn:
  //                 return [0.0] * len(row)
  //             return [(x - mn) / (mx - mn) for x in row]
  const std::vector<Row> tests{{2, 3, 4, 5}, {6, 9, 10, 12}, {11, 12, 13, 14}, {21, 24, 25, 26}, {100, 100, 100, 100}};
  std::cout << "test rows: " << py_str(pool.map(normalize, tests)) << '\n';

  struct Size {
    const char* name;
    std::size_t rows, cols;
  };
  const std::array<Size, 5> sizes{{{"Small", 100, 50},
                                   {"Medium", 1'000, 50},
                                   {"Large", 10'000, 50},
                                   {"XL", 50'000, 100},
                                   {"XXL", 100'000, 100}}};

  // Python: np.random.seed(42)   (once: the five sizes draw from one stream, in this order)
  parlab::lab::RandomState rng{42};
  std::string prob3;
  for (const Size& size : sizes) {
    // Python: data = np.random.randint(0, 1000, size=(rows, cols)).tolist()
    const std::vector<Row> data = rng.randint_rows(0, 1000, size.rows, size.cols);

    // Python: serial = [normalize(row) for row in data]
    std::vector<std::vector<double>> serial;
    serial.reserve(data.size());
    for (const Row& row : data) serial.push_back(normalize(row));

    // Python: with mp.Pool(mp.cpu_count()) as pool:
    //             parallel = pool.map(normalize, data)
    std::vector<std::vector<double>> parallel = pool.map(normalize, data);
    check(parallel == serial, "Pool.map equals the serial loop");

    const std::vector<double> head(parallel[0].begin(), parallel[0].begin() + 4);
    std::cout << std::left << std::setw(7) << size.name << std::right << std::setw(7) << size.rows << " x "
              << std::setw(3) << size.cols << "  row 0 starts " << py_str(head) << '\n';

    // Python: answers["prob3"] = str(parallel[:5])
    if (size.rows == 100'000) prob3 = py_str(std::vector<std::vector<double>>(parallel.begin(), parallel.begin() + 5));
  }
  check(!prob3.empty(), "prob3 computed");
  std::cout << "prob3 (" << prob3.size() << " characters):\n" << prob3 << '\n';
}
