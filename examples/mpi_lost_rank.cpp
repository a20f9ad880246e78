// MpiPool under Open MPI's recovery: a worker rank dies in the middle of a map, and the map still
// returns every result. Run it with recovery enabled:
//
//   mpirun --enable-recovery -np 3 ./example_mpi_lost_rank     (as root: --allow-run-as-root)
//
// Here a task kills its own process the first time it runs (as a segfault, the OOM killer or a
// `kill -9` would); rank 0 sees the rank gone, runs what it had not answered on the other rank,
// and MpiPool::lost_ranks() (and a line on rank 0's stderr at exit) says what was lost.

#include "check.hpp"
#include <parlab/mpi_pool.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {

/// job: the number, and a file that marks "a rank has died on item 7 already".
long square_or_die(const std::pair<long, std::string>& job) {
  if (job.first == 7 && ::open(job.second.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0)
    ::raise(SIGKILL);  // the first time only: the rank it runs on dies
  return job.first * job.first;
}

}  // namespace

PARLAB_MPI_TASK(square_or_die);

int main() {
  parlab::MpiPool::start();  // worker ranks serve here; rank 0 goes on
  check(parlab::MpiPool::recovery_enabled(), "run it with mpirun --enable-recovery");

  const std::string mark = "/tmp/parlab-example-lost-rank-" + std::to_string(::getpid());
  std::vector<std::pair<long, std::string>> jobs;
  for (long x = 0; x < 12; ++x)
    jobs.emplace_back(x, mark);

  parlab::MpiPool pool;  // retries = 1: the item a rank died on runs once more elsewhere
  const auto squares = pool.map(square_or_die, jobs, {.chunksize = 1});
  print_list("squares", squares);

  const auto lost = parlab::MpiPool::lost_ranks();
  std::cout << "worker ranks lost: " << lost.size() << '\n';
  for (const auto& rank : lost)
    std::cout << "  why: " << (rank.reason.find("ended") != std::string::npos ? "its process ended" : rank.reason)
              << ", items sent again: " << (rank.items_rerun > 0 ? "some" : "none") << '\n';
  ::unlink(mark.c_str());
  check(squares[7] == 49 && lost.size() == 1, "every square, one rank lost");
  return 0;
}
