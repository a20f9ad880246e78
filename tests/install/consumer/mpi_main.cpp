// A program built against an installed parlab::mpi, run under mpirun -np 2.
#include <parlab/mpi_pool.hpp>

#include <cstdio>
#include <vector>

namespace {
int triple(int x) { return 3 * x; }
}  // namespace
PARLAB_MPI_TASK(triple);

int main() {
  parlab::MpiPool::start();
  parlab::MpiPool pool;
  std::printf("tripled:");
  for (int v : pool.map(triple, std::vector<int>{1, 2, 3}))
    std::printf(" %d", v);
  std::printf("\n");
}
