#pragma once
/// \file
/// The run loop of `parlab bench`: every contender on every workload, the Python rows, the
/// MpiPool rows' child jobs and the latency rows, then bench.json, report.md and the plots.

#include "bench/harness/settings.hpp"

namespace parlab::bench {

/// Runs `parlab bench` with `settings`, narrating on stdout, and writes bench.json, report.md,
/// speedup.png and python-vs-cpp.png into settings.out_dir. Returns 0 when every row was measured
/// and checked (targets may be missed), 1 when a row was wrong or failed; throws when the outputs
/// cannot be written.
[[nodiscard]] int run(Settings settings);

/// `parlab bench --mpi-child`: one process of the MpiPool rows' child job. Every rank but 0
/// serves tasks in MpiPool::start() and exits when rank 0 ends. Rank 0 measures each workload of
/// options.workloads as the parent measures its own rows (the same input, warm-ups until steady,
/// the timed runs, every output checked against serial C++) and prints one line of JSON:
/// {"ranks": N, "workers": N - 1, "results": [{"workload", "status", "note", "workers",
/// "warmup_s", "samples_s"}, ...]} (or {"error": "..."}); the parent turns it into rows. Returns 0;
/// throws when MPI cannot start, lab::UsageError when MpiPool is not in this build.
[[nodiscard]] int run_mpi_child(const Options& options);

}  // namespace parlab::bench
