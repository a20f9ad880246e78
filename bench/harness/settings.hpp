#pragma once
/// \file
/// What `parlab bench` is asked to do: its command line as given, and the run's settings that
/// follow from it, checked.

#include "bench/harness/workloads.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace parlab::bench {

/// The command line of `parlab bench`, as given (make_settings checks it).
struct Options {
  bool quick = false;
  bool tiny = false;
  std::optional<std::int64_t> repeat;               ///< --repeat; nullopt: 5, or 3 with quick / tiny
  std::optional<std::vector<std::string>> workers;  ///< --workers; nullopt: 1 to 2 x cpu_count()
  std::vector<std::string> workloads;               ///< --workload; empty: all
  std::string out = "out";
  std::string python;  ///< interpreter; empty: PARLAB_BENCH_PYTHON, /usr/bin/python3, python3 on PATH
  bool no_python = false;
};

/// A run's settings, checked.
struct Settings {
  std::string mode = "full";  ///< full, quick or tiny
  Sizes sizes;
  std::size_t repeat = 5;
  std::size_t warmup = 2;      ///< warm-up runs per block, at least ...
  std::size_t warmup_max = 5;  ///< ... and at most, until two in a row agree within 10%
  std::size_t python_repeat = 5;
  std::size_t python_warmup = 1;
  bool latency = true;               ///< the round-trip latency rows
  std::size_t latency_calls = 2000;  ///< timed apply_async(f, x).get() calls per row ...
  std::size_t latency_warmup = 200;  ///< ... after this many untimed ones
  std::size_t main_workers = 1;
  std::vector<std::size_t> sweep_workers;
  std::vector<std::string> workloads;  ///< empty: all
  std::filesystem::path out_dir;
  std::optional<std::string> python;  ///< interpreter, or nullopt (python_skipped says why)
  std::string python_skipped;
  std::string workloads_py;
};

/// The settings that follow from --tiny / --quick and --repeat alone (all that the MpiPool rows'
/// child job needs). Throws lab::UsageError.
[[nodiscard]] Settings mode_settings(const Options& options);

/// Every setting: also the worker counts, the workloads, the output folder (created if missing)
/// and the Python interpreter. Throws lab::UsageError.
[[nodiscard]] Settings make_settings(const Options& options);

/// The most warm-up runs of an MpiPool row: as the other rows, but only the least in a short run
/// (--quick, --tiny), where the MPI jobs would otherwise double the time of their rows.
[[nodiscard]] std::size_t mpi_warmup_max(const Settings& settings);

}  // namespace parlab::bench
