// A task that kills its own worker rank with SIGKILL: MPI's semantics are that the whole job
// aborts. The test (run_killed_rank.cmake) checks that mpirun ends promptly with a failure.
#include <parlab/mpi_pool.hpp>

#include <csignal>
#include <cstdio>
#include <vector>

namespace {
int die_on_three(int x) {
  if (x == 3) std::raise(SIGKILL);
  return x;
}
}  // namespace
PARLAB_MPI_TASK(die_on_three);

int main() {
  parlab::MpiPool::start();
  parlab::MpiPool pool;
  const auto out = pool.map(die_on_three, std::vector<int>{0, 1, 2, 3, 4, 5}, {.chunksize = 1});
  std::printf("map returned %zu results: a killed rank did not end the job\n", out.size());
  return 0;
}
