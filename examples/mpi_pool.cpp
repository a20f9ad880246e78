// MpiPool: the Pool API over MPI ranks. Run it with mpirun:
//
//   mpirun -np 3 ./example_mpi_pool        (as root: mpirun --allow-run-as-root ...)
//
// Rank 0 runs main() and drives the pool; every other rank serves tasks from MpiPool::start()
// and exits when rank 0 is done. A plain function is found on the other ranks by the name it is
// registered under (PARLAB_MPI_TASK); a captureless lambda needs nothing. An exception in a task
// comes back to rank 0 with its type, message and the item's index.

#include "check.hpp"
#include <parlab/mpi_pool.hpp>

#include <iostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

long collatz_steps(long n) {
  if (n < 1) throw std::domain_error("collatz_steps(" + std::to_string(n) + "): n must be positive");
  long steps = 0;
  for (; n != 1; ++steps)
    n = n % 2 == 0 ? n / 2 : 3 * n + 1;
  return steps;
}

long within(long lo, long x, long hi) { return lo <= x && x <= hi ? 1 : 0; }

}  // namespace

PARLAB_MPI_TASK(collatz_steps);
PARLAB_MPI_TASK(within);

int main() {
  parlab::MpiPool::start();  // worker ranks serve here; rank 0 goes on

  parlab::MpiPool pool;  // every rank but 0
  std::cout << "ranks: " << parlab::MpiPool::ranks() << ", workers: " << pool.size() << '\n';

  const std::vector<long> numbers{1, 2, 3, 6, 7, 9, 27, 97};
  const auto steps = pool.map(collatz_steps, numbers);
  print_list("collatz steps", steps);

  std::vector<std::tuple<long, long, long>> rows;
  for (long x = 0; x < 10; ++x)
    rows.emplace_back(3, x, 6);
  print_list("within [3, 6]", pool.starmap(within, rows));

  const auto squares = pool.map([](long x) { return x * x; }, numbers);  // a lambda: no registration
  print_list("squares", squares);

  try {
    (void)pool.map(collatz_steps, std::vector<long>{5, 0, 8});
  } catch (const parlab::TaskError& e) {
    std::cout << "item " << e.index() << " failed: " << parlab::describe(e.original()) << '\n';
  }
  check(steps[6] == 111, "27 takes 111 steps");
  return 0;
}
