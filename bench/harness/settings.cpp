#include "bench/harness/settings.hpp"

#include "bench/harness/system.hpp"
#include "bench_config.hpp"
#include "lab/system.hpp"
#include "lab/usage_error.hpp"

#include <parlab/cpu.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

namespace parlab::bench {

namespace fs = std::filesystem;
using lab::UsageError;

namespace {

constexpr std::size_t max_workers = 1024;
constexpr std::int64_t max_repeat = 1000;

std::size_t parse_count(const std::string& text, const char* option) {
  std::size_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end)
    throw UsageError(std::string{option} + " wants whole numbers separated by commas (got '" + text + "')");
  return value;
}

std::string python_dir() {
  if (const char* env = std::getenv("PARLAB_BENCH_PYTHON_DIR"); env && *env) return env;
  return PARLAB_BENCH_PYTHON_DIR;
}

std::vector<std::size_t> sweep_workers(const Options& o, std::size_t main_workers) {
  std::vector<std::size_t> workers;
  if (!o.workers) {
    for (std::size_t w = 1; w <= 2 * main_workers; ++w)
      workers.push_back(w);
    return workers;
  }
  std::set<std::size_t> seen;
  for (const auto& w : *o.workers) {
    const auto n = parse_count(w, "--workers");
    if (n < 1 || n > max_workers)
      throw UsageError("--workers: each count must be between 1 and " + std::to_string(max_workers) +
                       " (got " + w + ")");
    seen.insert(n);
  }
  if (seen.empty()) throw UsageError("--workers needs at least one count");
  return {seen.begin(), seen.end()};
}

std::vector<std::string> known_workloads(const Options& o) {
  const std::vector<std::string> known{"example",    "prob3_xxl", "busy_spin",
                                       "busy_sleep", "trivial",   "latency"};
  for (const auto& w : o.workloads)
    if (std::find(known.begin(), known.end(), w) == known.end())
      throw UsageError("--workload: unknown workload '" + w +
                       "' (choose from example, prob3_xxl, busy_spin, busy_sleep, trivial, latency)");
  return o.workloads;
}

/// An explicit --python must exist; otherwise a missing interpreter only skips its rows.
void find_python(const Options& o, Settings& s) {
  s.workloads_py = (fs::path{python_dir()} / "workloads.py").string();
  if (o.no_python) {
    s.python_skipped = "--no-python";
  } else if (!o.python.empty()) {
    s.python = find_executable(o.python);
    if (!s.python) throw UsageError("--python " + o.python + ": no such executable");
  } else if (const char* env = std::getenv("PARLAB_BENCH_PYTHON"); env && *env) {
    s.python = find_executable(env);
    if (!s.python) s.python_skipped = std::string{"PARLAB_BENCH_PYTHON="} + env + " is not an executable";
  } else {
    s.python = find_executable("/usr/bin/python3");
    if (!s.python) s.python = find_executable("python3");
    if (!s.python) s.python_skipped = "python3 not found (neither /usr/bin/python3 nor on PATH)";
  }
  if (s.python && !fs::exists(s.workloads_py)) {
    s.python.reset();
    s.python_skipped = s.workloads_py + " not found (set PARLAB_BENCH_PYTHON_DIR to parlab's bench/python)";
  }
}

}  // namespace

Settings mode_settings(const Options& o) {
  Settings s;
  s.mode = o.tiny ? "tiny" : (o.quick ? "quick" : "full");
  if (o.tiny) {
    s.sizes = Sizes{.example_rows = 10'000,
                    .xxl_rows = 1'000,
                    .xxl_cols = 100,
                    .busy_scale = 0.001,
                    .trivial_items = 100'000};
  } else if (o.quick) {
    s.sizes.busy_scale = 0.01;
  }
  const bool short_run = o.quick || o.tiny;
  if (o.repeat) {
    if (*o.repeat < 1 || *o.repeat > max_repeat)
      throw UsageError("--repeat must be between 1 and " + std::to_string(max_repeat) + " (got " +
                       std::to_string(*o.repeat) + ")");
    s.repeat = static_cast<std::size_t>(*o.repeat);
  } else {
    s.repeat = short_run ? 3 : 5;
  }
  // Python runs the same sizes, 50-500 times slower: once, without a warm-up, in a short run.
  s.python_repeat = short_run ? 1 : s.repeat;
  s.python_warmup = short_run ? 0 : 1;
  if (o.tiny) {
    s.latency_calls = 50;
    s.latency_warmup = 10;
  } else if (o.quick) {
    s.latency_calls = 1000;
    s.latency_warmup = 100;
  }
  return s;
}

Settings make_settings(const Options& o) {
  Settings s = mode_settings(o);
  s.main_workers = parlab::cpu_count();
  s.sweep_workers = sweep_workers(o, s.main_workers);
  s.workloads = known_workloads(o);
  s.latency = s.workloads.empty() ||
              std::find(s.workloads.begin(), s.workloads.end(), "latency") != s.workloads.end();
  if (o.out.empty()) throw UsageError("--out needs a folder");
  s.out_dir = o.out;
  lab::create_out_folder(s.out_dir);
  find_python(o, s);
  return s;
}

std::size_t mpi_warmup_max(const Settings& s) { return s.mode == "full" ? s.warmup_max : s.warmup; }

}  // namespace parlab::bench
