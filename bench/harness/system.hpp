#pragma once
/// \file
/// The machine under `parlab bench` and the programs it runs (python3, gnuplot).

#include "bench/harness/model.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace parlab::bench {

/// CPU model, cores, logical CPUs, cpu_count(), compiler and flags, OS, load average.
[[nodiscard]] Json machine_info();

/// The 1-minute load average, or -1 when unknown.
[[nodiscard]] double load_average();

/// The full path of `name` (as the shell would find it on PATH), or nullopt. A name with a '/'
/// is returned as it is when it is an executable file.
[[nodiscard]] std::optional<std::string> find_executable(const std::string& name);

/// What a child process did.
struct ProcessResult {
  int exit_code = -1;      ///< exit status; 128 + signal when killed
  bool timed_out = false;  ///< killed after the timeout
  std::string out;         ///< its stdout
  std::string err;         ///< its stderr
};

/// Runs argv[0] (a full path) with `argv` in its own process group, stdin from /dev/null, and
/// captures stdout and stderr. After `timeout` the whole group is killed. Ctrl-C (SIGINT) or
/// SIGTERM while it runs is passed on to the group before this process stops. Throws
/// std::runtime_error when it cannot be started.
[[nodiscard]] ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::seconds timeout);

/// The last non-empty line of `text` (for one-line error reports).
[[nodiscard]] std::string last_line(const std::string& text);

}  // namespace parlab::bench
