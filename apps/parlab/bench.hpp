#pragma once
// `parlab bench`: every backend against its peers on the lab's workloads, in one run; writes
// bench.json, report.md, speedup.png and python-vs-cpp.png (see docs/performance.md).

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace parlab::cli {

/// The command line of `parlab bench`, as parsed (validated by run_bench_command).
struct BenchOptions {
  CLI::App* command = nullptr;  ///< the subcommand, to ask whether it was given
  bool quick = false;
  bool tiny = false;
  std::int64_t repeat = 0;  ///< 0: 5, or 3 with --quick / --tiny
  std::vector<std::string> workers;
  std::vector<std::string> workloads;
  std::string out = "out";
  std::string python;  ///< interpreter; empty: PARLAB_BENCH_PYTHON, /usr/bin/python3, python3 on PATH
  bool no_python = false;
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
