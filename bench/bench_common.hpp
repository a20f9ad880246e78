#pragma once
/// \file
/// Shared pieces of bench_pool: the per-item kernel, the map input and the one Pool every
/// benchmark uses (built once, outside any timing loop), and the ProcessPool of the latency rows.

#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parlab::bench {

/// Items in the map benchmarks.
inline constexpr std::size_t kMapItems = 10'000'000;

/// A few integer and float operations per item (lowbias32 hash, then a scale to [0.5, 1.5)):
/// the result depends on the input bits, so nothing folds, and it stays compute-bound
/// rather than memory-bound.
inline float kernel(std::uint32_t x) noexcept {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return static_cast<float>(x) * 0x1p-32f + 0.5f;
}

/// The map input: kMapItems values, built once.
const std::vector<std::uint32_t>& map_input();

/// The pool of cpu_count() workers shared by every benchmark.
Pool& shared_pool();

/// The ProcessPool of cpu_count() worker processes for the process latency rows (built on first
/// use; its workers start at its first task).
ProcessPool& shared_process_pool();

/// Threads the OpenMP / TBB / std::execution baselines use: the same as the pool's.
std::size_t baseline_threads();

}  // namespace parlab::bench
