#pragma once
/// \file
/// The outputs of `parlab bench`: bench.json, report.md, the terminal tables and the two plots.

#include "bench/harness/model.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace parlab::bench {

/// The version of bench.json's layout (docs/performance.md documents it).
inline constexpr const char* schema_version = "parlab-bench/1";

/// "812 µs", "12.3 ms", "1.30 s".
[[nodiscard]] std::string format_seconds(double seconds);
/// "1.92×", "0.0125×", "160×" (`ascii`: "x").
[[nodiscard]] std::string format_ratio(double ratio, bool ascii = false);
/// Three significant digits, so that a figure next to a threshold shows which side it is on:
/// "0.897×", "1.81×", "116×".
[[nodiscard]] std::string format_ratio3(double ratio, bool ascii = false);

/// "WRONG" (a row whose output was wrong must stand out), "failed", "skipped" or "not built": what
/// a row without a figure shows instead.
[[nodiscard]] std::string no_figure(Status status);

/// "AMD EPYC 7B13, 2 cores (4 logical CPUs), cpu_count() = 4".
[[nodiscard]] std::string machine_line(const Json& machine);

/// The name of a pool in the latency rows: "parlab Pool", "parlab ProcessPool", "Python Pool".
[[nodiscard]] std::string latency_title(Cid id);

/// Speed-up of `r` over the main-table row of `reference` on the same workload (reference
/// time / r's time), when both were measured.
[[nodiscard]] std::optional<double> ratio_to(const Run& run, const Result& r, Cid reference);

/// Judges the targets on this run's results (fills run.targets).
void evaluate_targets(Run& run);

/// bench.json: the settings, the machine, every sample of every row, the targets.
[[nodiscard]] Json to_json(const Run& run);

/// report.md: the machine, the main table, the targets, per-workload details and the sweeps.
[[nodiscard]] std::string to_markdown(const Run& run);

/// The main table and the targets as plain text lines (no control characters).
[[nodiscard]] std::vector<std::string> terminal_summary(const Run& run);

/// Draws speedup.png and python-vs-cpp.png into `out_dir` with gnuplot (atomically: a
/// temporary file, then a rename). Returns what went wrong; empty when both were drawn.
[[nodiscard]] std::vector<std::string> draw_plots(const Run& run, const std::filesystem::path& out_dir);

}  // namespace parlab::bench
