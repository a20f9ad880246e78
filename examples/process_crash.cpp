// ProcessPool: a map where some items crash their worker process.
//
// A task that segfaults takes down only the worker process that ran it: that item fails with
// parlab::WorkerCrashed (its index and the signal), the pool replaces the worker, and every other
// item still gets its result. map_outcomes returns each item's value or error; map itself throws
// a TaskError for the lowest failing index once the others have finished.

#include "check.hpp"
#include <parlab/process_pool.hpp>

#include <signal.h>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// A parser with two kinds of bad input: one it rejects, one that crashes it outright.
int parse(int record) {
  if (record % 4 == 3) ::raise(SIGSEGV);  // a bug that kills the process (e.g. a null pointer)
  if (record == 6) throw std::invalid_argument("record 6 is malformed");
  return record * 10;
}

}  // namespace

int main() {
  parlab::ProcessPool pool{2};
  const std::vector<int> records{0, 1, 2, 3, 4, 5, 6, 7};

  auto outcomes = pool.map_outcomes(parse, records);
  int crashed = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    std::cout << "record " << i << ": ";
    try {
      std::cout << outcomes[i].value() << '\n';
    } catch (const parlab::WorkerCrashed& e) {
      std::cout << "worker crashed (signal " << e.signal() << ", task " << e.index() << ")\n";
      ++crashed;
    } catch (const parlab::RemoteError& e) {
      std::cout << e.type_name() << ": " << e.message() << '\n';
    }
  }
  check(crashed == 2, "records 3 and 7 crash their workers");

  try {
    (void)pool.map(parse, records);
  } catch (const parlab::TaskError& e) {
    std::cout << "map: first failure at record " << e.index() << '\n';
  }
  // The pool is still whole.
  print_list("after the crashes", pool.map(parse, std::vector<int>{0, 1, 2}));
}
