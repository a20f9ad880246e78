// (a) map over kMapItems compute-bound items: a serial loop, parlab::Pool::map, OpenMP,
// oneTBB and std::execution::par. The baselines write into a preallocated vector; Pool::map
// returns a new vector each call (its API), so *_alloc rows show what that allocation costs
// and map/parlab_void shows the pool doing the baselines' exact work.

#include "bench_common.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <ranges>
#include <string>
#include <vector>

#if defined(PARLAB_BENCH_TBB)
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#endif
#if defined(PARLAB_BENCH_STD_PAR)
#include <algorithm>
#include <execution>
#endif

namespace parlab::bench {
namespace {

/// Checks a sample of the output outside the timing loop; a wrong result fails the row.
bool verify(benchmark::State& state, const std::vector<float>& out) {
  const auto& in = map_input();
  if (out.size() != in.size()) {
    state.SkipWithError("wrong output size");
    return false;
  }
  for (std::size_t i = 0; i < in.size(); i += 9973) {
    if (out[i] != kernel(in[i])) {
      state.SkipWithError(("wrong result at index " + std::to_string(i)).c_str());
      return false;
    }
  }
  if (out.back() != kernel(in.back())) {
    state.SkipWithError("wrong result at the last index");
    return false;
  }
  return true;
}

void finish(benchmark::State& state, const std::vector<float>& out) {
  if (verify(state, out)) {
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(map_input().size()));
  }
}

void serial_loop(const std::vector<std::uint32_t>& in, std::vector<float>& out) {
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) out[i] = kernel(in[i]);
}

void BM_map_serial(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    serial_loop(in, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

void BM_map_serial_alloc(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out;
  for (auto _ : state) {
    out = std::vector<float>(in.size());
    serial_loop(in, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

void BM_map_parlab(benchmark::State& state) {
  const auto& in = map_input();
  auto& pool = shared_pool();
  std::vector<float> out;
  for (auto _ : state) {
    out = pool.map([](std::uint32_t x) noexcept { return kernel(x); }, in);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

// The same work as the OpenMP row through the pool's scheduler, without a result vector:
// a void function over indices writing into a preallocated vector. Against map/parlab it
// separates the cost of building map's result from the cost of scheduling.
void BM_map_parlab_void(benchmark::State& state) {
  const auto& in = map_input();
  auto& pool = shared_pool();
  std::vector<float> out(in.size());
  float* const dst = out.data();
  const std::uint32_t* const src = in.data();
  for (auto _ : state) {
    pool.map([dst, src](std::size_t i) noexcept { dst[i] = kernel(src[i]); },
             std::views::iota(std::size_t{0}, in.size()));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

// Pool::map_into: map's API writing into the caller's preallocated output, the baselines' contract.
void BM_map_parlab_into(benchmark::State& state) {
  const auto& in = map_input();
  auto& pool = shared_pool();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    pool.map_into([](std::uint32_t x) noexcept { return kernel(x); }, in, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

#if defined(PARLAB_BENCH_OPENMP)
void openmp_loop(const std::vector<std::uint32_t>& in, std::vector<float>& out) {
  const std::size_t n = in.size();
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) out[i] = kernel(in[i]);
}

void BM_map_openmp(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    openmp_loop(in, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}

void BM_map_openmp_alloc(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out;
  for (auto _ : state) {
    out = std::vector<float>(in.size());
    openmp_loop(in, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}
#endif

#if defined(PARLAB_BENCH_TBB) || defined(PARLAB_BENCH_STD_PAR)
tbb::task_arena& arena() {
  static tbb::task_arena a{static_cast<int>(baseline_threads())};
  return a;
}
#endif

#if defined(PARLAB_BENCH_TBB)
void BM_map_tbb(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    arena().execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, in.size()),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::size_t i = r.begin(); i != r.end(); ++i) out[i] = kernel(in[i]);
                        });
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}
#endif

#if defined(PARLAB_BENCH_STD_PAR)
void BM_map_std_par(benchmark::State& state) {
  const auto& in = map_input();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    arena().execute([&] {
      std::transform(std::execution::par, in.begin(), in.end(), out.begin(),
                     [](std::uint32_t x) noexcept { return kernel(x); });
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, out);
}
#endif

// Real time: the parallel rows do their work on other threads than the one being timed.
BENCHMARK(BM_map_serial)->Name("map/serial")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_map_serial_alloc)->Name("map/serial_alloc")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_map_parlab)->Name("map/parlab")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_map_parlab_void)->Name("map/parlab_void")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_map_parlab_into)->Name("map/parlab_into")->UseRealTime()->Unit(benchmark::kMillisecond);
#if defined(PARLAB_BENCH_OPENMP)
BENCHMARK(BM_map_openmp)->Name("map/openmp")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_map_openmp_alloc)->Name("map/openmp_alloc")->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
#if defined(PARLAB_BENCH_TBB)
BENCHMARK(BM_map_tbb)->Name("map/tbb")->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
#if defined(PARLAB_BENCH_STD_PAR)
BENCHMARK(BM_map_std_par)->Name("map/std_par")->UseRealTime()->Unit(benchmark::kMillisecond);
#endif

}  // namespace
}  // namespace parlab::bench
