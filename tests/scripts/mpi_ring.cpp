// An MPI job for scripts/netns-cluster's test: a token passed around the ring of ranks and an
// allreduce, over whatever transport mpirun chose (the script forces TCP). Each rank prints its
// hostname; rank 0 checks both results and the job exits 1 if either is wrong.
#include <mpi.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char host[256] = {};
  gethostname(host, sizeof host - 1);

  long token = 0;
  const int next = (rank + 1) % size;
  const int prev = (rank + size - 1) % size;
  if (size > 1) {
    if (rank == 0) {
      MPI_Send(&token, 1, MPI_LONG, next, 0, MPI_COMM_WORLD);
      MPI_Recv(&token, 1, MPI_LONG, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&token, 1, MPI_LONG, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      token += rank;
      MPI_Send(&token, 1, MPI_LONG, next, 0, MPI_COMM_WORLD);
    }
  }
  long mine = rank + 1;
  long sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  std::printf("mpi_ring: rank %d of %d on %s\n", rank, size, host);
  std::fflush(stdout);

  int ok = 1;
  if (rank == 0) {
    const long want_token = static_cast<long>(size) * (size - 1) / 2;
    const long want_sum = static_cast<long>(size) * (size + 1) / 2;
    ok = token == want_token && sum == want_sum ? 1 : 0;
    std::printf("mpi_ring: ring token %ld (want %ld), allreduce %ld (want %ld): %s\n", token, want_token, sum,
                want_sum, ok != 0 ? "OK" : "WRONG");
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return ok != 0 ? 0 : 1;
}
