#pragma once
/// \file
/// `parlab bench`'s command line: every backend against its peers on the lab's workloads, in one
/// run; writes bench.json, report.md, speedup.png and python-vs-cpp.png (see docs/performance.md).

#include "bench/harness/settings.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace parlab::cli {

/// The command line of `parlab bench`, as parsed (checked by run_bench_command).
struct BenchOptions {
  CLI::App* command = nullptr;  ///< the subcommand, to ask whether it was given
  bench::Options given;         ///< every flag the harness takes as it is; --repeat and --workers from below
  std::int64_t repeat = 0;      ///< --repeat, when given
  std::vector<std::string> workers;  ///< --workers, when given
  /// Hidden: this process is rank 0 (or a worker rank) of the MpiPool rows' child job,
  /// `mpirun -np N parlab bench --mpi-child --workload ...`; rank 0 prints the rows as JSON.
  bool mpi_child = false;
};

/// Adds the `bench` subcommand to `app`; CLI11 fills `options` when it parses.
void add_bench_command(CLI::App& app, BenchOptions& options);

/// Whether `parlab bench` was the subcommand given.
[[nodiscard]] bool bench_selected(const BenchOptions& options);

/// Runs `parlab bench`: 0 when every row was measured and checked (targets may be missed),
/// 1 when a row was wrong or failed or the outputs could not be written, 2 for bad input
/// (one line on stderr; nothing is written).
[[nodiscard]] int run_bench_command(const BenchOptions& options);

}  // namespace parlab::cli
