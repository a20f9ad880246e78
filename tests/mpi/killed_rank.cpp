// A worker rank killed with SIGKILL in a job without recovery: the whole job aborts, as MPI does. The test
// (run_killed_rank.cmake) checks that mpirun ends promptly with a failure, never hangs.
//   killed_rank task      a task kills its own rank
//   killed_rank outside   rank 0 kills a worker rank's process while it runs a long map
//   killed_rank long      a map of about a minute, for interrupting mpirun (interrupt.sh)
#include <parlab/mpi_pool.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {
int die_on_three(int x) {
  if (x == 3) ::raise(SIGKILL);
  return x;
}
long worker_pid(int /*unused*/) { return static_cast<long>(::getpid()); }
int slow(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  return x;
}
}  // namespace
PARLAB_MPI_TASK(die_on_three);
PARLAB_MPI_TASK(worker_pid);
PARLAB_MPI_TASK(slow);

int main(int argc, char** argv) {
  parlab::MpiPool::start();
  const bool outside = argc > 1 && std::strcmp(argv[1], "outside") == 0;
  const bool long_map = argc > 1 && std::strcmp(argv[1], "long") == 0;
  parlab::MpiPool pool;
  std::size_t results = 0;
  if (long_map) {
    std::printf("running\n");
    std::fflush(stdout);
    results = pool.map(slow, std::vector<int>(600, 1), {.chunksize = 1}).size();
  } else if (outside) {
    const long victim = pool.apply(worker_pid, 0);
    auto pending = pool.map_async(slow, std::vector<int>(100, 1), {.chunksize = 1});
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    std::printf("killing worker process %ld\n", victim);
    std::fflush(stdout);
    ::kill(static_cast<pid_t>(victim), SIGKILL);
    results = pending.get().size();
  } else {
    results = pool.map(die_on_three, std::vector<int>{0, 1, 2, 3, 4, 5}, {.chunksize = 1}).size();
  }
  std::printf("map returned %zu results: a killed rank did not end the job\n", results);
  return 0;
}
