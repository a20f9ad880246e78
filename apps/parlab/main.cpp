// The `parlab` command: runs the lab's workloads.
#include "bench.hpp"
#include "cli_error.hpp"
#include "brewery.hpp"
#include "serve.hpp"
#include "lab/console.hpp"
#include "lab/runner.hpp"

#include <parlab/version.hpp>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace {

int usage_error(const std::string& message) { return parlab::cli::report_error(2, message); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "parlab: Python's multiprocessing.Pool and asyncio, natively in C++ — and the lab that teaches them"};
  app.set_version_flag("--version", std::string{"parlab "} + parlab::version, "Print parlab's version and exit");
  app.require_subcommand(1);

  std::vector<std::string> steps{"example", "prob1", "prob2", "prob3"};
  std::int64_t workers = 0;
  std::string backend = "threads";
  std::string busy = "sleep";
  std::string out_dir = ".";
  bool json = false;
  auto* lab = app.add_subcommand("lab", "Run the notebook's steps and write soln.json");
  lab->add_option("--step", steps, "Steps to run: example,prob1,prob2,prob3 (default: all)")->delimiter(',');
  lab->add_option("--workers", workers, "Pool size (default: cpu_count())");
  lab->add_option("--backend", backend, "threads, processes or mpi (mpi: run under mpirun -np N, N >= 2)");
  lab->add_option("--busy", busy, "Problem 2's do_busy_work: sleep (as the lab) or spin (burns CPU)");
  lab->add_option("--out", out_dir, "Folder for soln.json (default: the current folder)");
  lab->add_flag("--json", json, "Print all timings as JSON on stdout (the narration goes to stderr)");
  parlab::cli::BenchOptions bench_options;
  parlab::cli::add_bench_command(app, bench_options);
  parlab::cli::ServeOptions serve_options;
  parlab::cli::add_serve_command(app, serve_options);
  parlab::cli::BreweryOptions brewery_options;
  parlab::cli::add_brewery_command(app, brewery_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(std::string{e.what()} + " (see parlab --help)");
  }
  if (parlab::cli::bench_selected(bench_options)) return parlab::cli::run_bench_command(bench_options);
  if (parlab::cli::serve_selected(serve_options)) return parlab::cli::run_serve_command(serve_options);
  if (parlab::cli::brewery_selected(brewery_options)) return parlab::cli::run_brewery_command(brewery_options);

  parlab::lab::LabConfig config;
  try {
    config.steps.clear();
    for (const auto& name : steps) {
      auto step = parlab::lab::parse_step(name);
      if (!step)
        throw parlab::lab::UsageError("unknown step '" + name +
                                      "' (choose from example, prob1, prob2, prob3)");
      config.steps.push_back(*step);
    }
    if (lab->count("--workers") > 0 && workers <= 0)
      throw parlab::lab::UsageError("--workers must be at least 1 (got " + std::to_string(workers) + ")");
    config.workers = static_cast<std::size_t>(workers);
    if (busy != "sleep" && busy != "spin")
      throw parlab::lab::UsageError("--busy must be sleep or spin (got '" + busy + "')");
    config.busy = busy == "spin" ? parlab::lab::BusyMode::spin : parlab::lab::BusyMode::sleep;
    config.backend = backend;
    config.out_dir = out_dir;
    parlab::lab::validate(config);
  } catch (const parlab::lab::UsageError& e) {
    return usage_error(e.what());
  }

  try {
    std::ostream& narration = json ? std::cerr : std::cout;
    parlab::lab::Console console{narration,
                                 parlab::lab::Console::live_for(json ? STDERR_FILENO : STDOUT_FILENO)};
    auto record = parlab::lab::run_lab(config, console);
    if (json) std::cout << record.dump(2) << std::endl;
  } catch (const std::exception& e) {
    return parlab::cli::report_error(1, e.what());
  }
  return 0;
}
