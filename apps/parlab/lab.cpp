#include "lab.hpp"

#include "cli_error.hpp"
#include "lab/console.hpp"
#include "lab/runner.hpp"

#include <unistd.h>

#include <exception>
#include <iostream>

namespace parlab::cli {

namespace {

/// The run that the flags ask for, checked (lab::validate also creates --out).
lab::LabConfig lab_config(const LabOptions& o) {
  lab::LabConfig config;
  config.steps.clear();
  for (const auto& name : o.steps) {
    auto step = lab::parse_step(name);
    if (!step) throw UsageError("unknown step '" + name + "' (choose from example, prob1, prob2, prob3)");
    config.steps.push_back(*step);
  }
  if (o.command->count("--workers") > 0 && o.workers <= 0)
    throw UsageError("--workers must be at least 1 (got " + std::to_string(o.workers) + ")");
  config.workers = static_cast<std::size_t>(o.workers);
  if (o.busy != "sleep" && o.busy != "spin")
    throw UsageError("--busy must be sleep or spin (got '" + o.busy + "')");
  config.busy = o.busy == "spin" ? lab::BusyMode::spin : lab::BusyMode::sleep;
  config.backend = o.backend;
  config.out_dir = o.out;
  lab::validate(config);
  return config;
}

}  // namespace

void add_lab_command(CLI::App& app, LabOptions& o) {
  auto* cmd = app.add_subcommand("lab", "Run the notebook's steps and write soln.json");
  o.command = cmd;
  cmd->add_option("--step", o.steps, "Steps to run: example,prob1,prob2,prob3 (default: all)")
      ->delimiter(',');
  cmd->add_option("--workers", o.workers, "Pool size (default: cpu_count())");
  cmd->add_option("--backend", o.backend, "threads, processes or mpi (mpi: run under mpirun -np N, N >= 2)");
  cmd->add_option("--busy", o.busy, "Problem 2's do_busy_work: sleep (as the lab) or spin (burns CPU)");
  cmd->add_option("--out", o.out, "Folder for soln.json (default: the current folder)");
  cmd->add_flag("--json", o.json, "Print all timings as JSON on stdout (the narration goes to stderr)");
}

int run_lab_command(const LabOptions& o) {
  lab::LabConfig config;
  try {
    config = lab_config(o);
  } catch (const UsageError& e) {
    return report_error(2, e.what());
  }
  try {
    std::ostream& narration = o.json ? std::cerr : std::cout;
    lab::Console console{narration, lab::Console::live_for(o.json ? STDERR_FILENO : STDOUT_FILENO)};
    auto record = lab::run_lab(config, console);
    if (o.json) std::cout << record.dump(2) << std::endl;
  } catch (const std::exception& e) {
    return report_error(1, e.what());
  }
  return 0;
}

}  // namespace parlab::cli
