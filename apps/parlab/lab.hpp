#pragma once
/// \file
/// `parlab lab`'s command line: the notebook's steps (Example, Problems 1–3) on a pool of threads,
/// processes or MPI ranks, narrated, with soln.json written at the end (see docs/lab.md).

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace parlab::cli {

/// The command line of `parlab lab`, as parsed (checked by run_lab_command).
struct LabOptions {
  CLI::App* command = nullptr;  ///< the subcommand, to ask which flags were given
  std::vector<std::string> steps{"example", "prob1", "prob2", "prob3"};
  std::int64_t workers = 0;  ///< --workers, when given; 0: cpu_count()
  std::string backend = "threads";
  std::string busy = "sleep";
  std::string out = ".";
  bool json = false;
};

/// Adds the `lab` subcommand to `app`; CLI11 fills `options` when it parses.
void add_lab_command(CLI::App& app, LabOptions& options);

/// Runs `parlab lab`: 0 when every step ran and soln.json was written, 1 when a step failed or the
/// file could not be written, 2 for bad input (one line on stderr; nothing is run).
[[nodiscard]] int run_lab_command(const LabOptions& options);

}  // namespace parlab::cli
