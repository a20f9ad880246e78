// (c) imap per-item cost: a trivial function over a lazily read input, default options
// (chunksize 1) and chunksize 64.

#include "bench_common.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <ranges>

namespace parlab::bench {
namespace {

constexpr int kImapItems = 100'000;

void run_imap(benchmark::State& state, const MapOptions& options) {
  auto& pool = shared_pool();
  std::int64_t sum = 0;
  for (auto _ : state) {
    sum = 0;
    for (auto&& v : pool.imap([](int x) noexcept { return std::int64_t{x} * 3 + 1; },
                              std::views::iota(0, kImapItems), options)) {
      sum += v;
    }
    benchmark::DoNotOptimize(sum);
  }
  constexpr std::int64_t n = kImapItems;
  if (sum != 3 * (n * (n - 1) / 2) + n) {
    state.SkipWithError("wrong imap result");
    return;
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_imap_default(benchmark::State& state) { run_imap(state, {}); }
void BM_imap_chunksize64(benchmark::State& state) { run_imap(state, {.chunksize = 64}); }

BENCHMARK(BM_imap_default)->Name("imap/default")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_imap_chunksize64)->Name("imap/chunksize64")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace parlab::bench
