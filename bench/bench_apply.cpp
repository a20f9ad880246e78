// (b) Round-trip latency of one small call: submit to a worker, wait for its value — on a
// worker thread (Pool) and on a worker process (ProcessPool: the argument and the result cross
// a Unix socket, encoded with cereal).

#include "bench_common.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>

namespace parlab::bench {
namespace {

std::int64_t add_one(std::int64_t v) noexcept { return v + 1; }

void BM_apply_async_get(benchmark::State& state) {
  auto& pool = shared_pool();
  std::int64_t x = 0;
  for (auto _ : state) {
    x = pool.apply_async(add_one, x).get();
    benchmark::DoNotOptimize(x);
  }
  if (x != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("wrong apply_async result");
}

void BM_apply(benchmark::State& state) {
  auto& pool = shared_pool();
  std::int64_t x = 0;
  for (auto _ : state) {
    x = pool.apply(add_one, x);
    benchmark::DoNotOptimize(x);
  }
  if (x != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("wrong apply result");
}

void BM_process_apply_async_get(benchmark::State& state) {
  auto& pool = shared_process_pool();
  // Untimed calls first: the workers start at their first task.
  std::int64_t x = -100;
  while (x < 0)
    x = pool.apply_async(add_one, x).get();
  for (auto _ : state) {
    x = pool.apply_async(add_one, x).get();
    benchmark::DoNotOptimize(x);
  }
  if (x != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("wrong apply_async result");
}

BENCHMARK(BM_apply_async_get)->Name("apply_async_get")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_apply)->Name("apply")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_process_apply_async_get)
    ->Name("process/apply_async_get")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace parlab::bench
