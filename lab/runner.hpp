#pragma once
/// \file
/// The notebook's steps as one run: the Example, Problems 1–3, and soln.json.

#include "lab/console.hpp"
#include "lab/usage_error.hpp"
#include "lab/workloads.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parlab::lab {

/// One section of the notebook.
enum class Step { example, prob1, prob2, prob3 };

/// "example", "prob1", ... for a step.
[[nodiscard]] std::string_view step_name(Step step);
/// The step called `name`, or nullopt.
[[nodiscard]] std::optional<Step> parse_step(std::string_view name);

/// What `parlab lab` runs and where it writes.
struct LabConfig {
  std::vector<Step> steps{Step::example, Step::prob1, Step::prob2, Step::prob3};
  std::size_t workers = 0;  ///< 0: cpu_count() (mpi: every rank but 0)
  std::string backend = "threads";
  BusyMode busy = BusyMode::sleep;
  std::filesystem::path out_dir = ".";
};

/// The backends `--backend` accepts in this build.
[[nodiscard]] std::vector<std::string> available_backends();

/// Checks a config before any work: known backend, sane worker count, writable output folder
/// (created if missing). Throws UsageError.
void validate(LabConfig& config);

/// Runs the configured steps, narrating on `console`, writes soln.json atomically into
/// config.out_dir, and returns every timing as JSON (for --json and the benchmark harness).
nlohmann::json run_lab(const LabConfig& config, Console& console);

}  // namespace parlab::lab
