// bench_pool's main: pins the baselines to the pool's thread count and records it in the
// benchmark context, so a JSON report says what was compared.

#include "bench_common.hpp"

#include "parlab/cpu.hpp"

#include <benchmark/benchmark.h>

#include <numeric>
#include <string>

#if defined(PARLAB_BENCH_OPENMP)
#include <omp.h>
#endif

namespace parlab::bench {

const std::vector<std::uint32_t>& map_input() {
  static const std::vector<std::uint32_t> input = [] {
    std::vector<std::uint32_t> v(kMapItems);
    std::iota(v.begin(), v.end(), 0x9e3779b9U);
    return v;
  }();
  return input;
}

Pool& shared_pool() {
  static Pool pool{cpu_count()};
  return pool;
}

ProcessPool& shared_process_pool() {
  static ProcessPool pool{cpu_count()};
  return pool;
}

std::size_t baseline_threads() { return shared_pool().size(); }

}  // namespace parlab::bench

int main(int argc, char** argv) {
  using namespace parlab::bench;
  // ProcessPool's workers are forked from a fork server: start it while this process has one thread.
  parlab::ProcessPool::start_fork_server();
  const std::size_t threads = baseline_threads();
  benchmark::AddCustomContext("parlab_cpu_count", std::to_string(parlab::cpu_count()));
  benchmark::AddCustomContext("parlab_pool_workers", std::to_string(threads));
#if defined(PARLAB_BENCH_OPENMP)
  omp_set_num_threads(static_cast<int>(threads));
  benchmark::AddCustomContext("openmp_threads", std::to_string(omp_get_max_threads()));
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
