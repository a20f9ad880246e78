#include "bench.hpp"

#include "bench/harness/engine.hpp"
#include "cli_error.hpp"

namespace parlab::cli {

namespace {

/// The command line as the harness takes it: --repeat and --workers only when given.
bench::Options harness_options(const BenchOptions& o) {
  bench::Options options = o.given;
  if (o.command->count("--repeat") > 0) options.repeat = o.repeat;
  if (o.command->count("--workers") > 0) options.workers = o.workers;
  return options;
}

}  // namespace

void add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* cmd = app.add_subcommand(
      "bench",
      "Measure parlab against serial C++, OpenMP, oneTBB, std::execution::par and the Python notebook");
  o.command = cmd;
  cmd->add_flag(
      "--quick", o.given.quick,
      "Short run: 3 runs, Problem 2 at 1/100 of the lab's durations, Python once, 1,000 latency calls");
  cmd->add_option("--repeat", o.repeat,
                  "Timed runs per row, after 2 to 5 warm-up runs (default 5; 3 with --quick)");
  cmd->add_option("--workers", o.workers,
                  "Worker counts of the sweep, e.g. 1,2,4 (default 1 to 2 x cpu_count())")
      ->delimiter(',');
  cmd->add_option("--out", o.given.out,
                  "Folder for bench.json, report.md, speedup.png, python-vs-cpp.png (default out)");
  cmd->add_option(
         "--workload", o.given.workloads,
         "Only these workloads: example,prob3_xxl,busy_spin,busy_sleep,trivial,latency (default all)")
      ->delimiter(',');
  cmd->add_option("--python", o.given.python,
                  "Python interpreter with numpy (default /usr/bin/python3, then python3)");
  cmd->add_flag("--no-python", o.given.no_python, "Skip the Python notebook's rows");
  cmd->add_flag("--tiny", o.given.tiny,
                "Smallest sizes, for tests: checks everything in seconds, the figures mean nothing");
  // Hidden (no group): the MpiPool rows' child job, started by `parlab bench` under mpirun.
  cmd->add_flag("--mpi-child", o.mpi_child, "One rank of the MpiPool rows' child job (internal)")->group("");
}

bool bench_selected(const BenchOptions& o) { return o.command != nullptr && o.command->parsed(); }

int run_bench_command(const BenchOptions& o) {
  const bench::Options options = harness_options(o);
  if (o.mpi_child) {
    try {
      return bench::run_mpi_child(options);
    } catch (const UsageError& e) {
      return report_error(2, e.what());
    } catch (const std::exception& e) {  // MPI could not start
      return report_error(1, e.what());
    }
  }
  bench::Settings settings;
  try {
    settings = bench::make_settings(options);
  } catch (const UsageError& e) {
    return report_error(2, e.what());
  }
  try {
    return bench::run(std::move(settings));
  } catch (const std::exception& e) {
    return report_error(1, e.what());
  }
}

}  // namespace parlab::cli
