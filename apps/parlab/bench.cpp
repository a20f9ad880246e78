#include "bench.hpp"
#include "cli_error.hpp"

#include "bench/harness/model.hpp"
#include "bench/harness/report.hpp"
#include "bench/harness/system.hpp"
#include "bench/harness/workloads.hpp"
#include "bench_config.hpp"
#include "lab/console.hpp"
#include "lab/system.hpp"

#include <parlab/cpu.hpp>
#include <parlab/process_pool.hpp>
#if defined(PARLAB_HAS_MPI)
#include <parlab/mpi_pool.hpp>
#endif

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

namespace parlab::cli {

namespace fs = std::filesystem;
using namespace parlab::bench;

namespace {

constexpr std::size_t max_workers = 1024;
constexpr std::int64_t max_repeat = 1000;

/// Bad command-line input: one line on stderr, exit status 2.

/// A run's settings, validated.
struct Config {
  std::string mode = "full";  // full, quick or tiny
  Sizes sizes;
  std::size_t repeat = 5;
  std::size_t warmup = 2;      // warm-up runs per block, at least ...
  std::size_t warmup_max = 5;  // ... and at most, until two in a row agree within 10%
  std::size_t python_repeat = 5;
  std::size_t python_warmup = 1;
  bool latency = true;               // the round-trip latency rows
  std::size_t latency_calls = 2000;  // timed apply_async(f, x).get() calls per row ...
  std::size_t latency_warmup = 200;  // ... after this many untimed ones
  std::size_t main_workers = 1;
  std::vector<std::size_t> sweep_workers;
  std::vector<std::string> workloads;  // empty: all
  fs::path out_dir;
  std::optional<std::string> python;  // interpreter, or nullopt (python_skipped says why)
  std::string python_skipped;
  std::string workloads_py;
};

std::string strf(const char* fmt, auto... args) {
  std::array<char, 1024> buf{};
  std::snprintf(buf.data(), buf.size(), fmt, args...);
  return buf.data();
}

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

/// The settings that follow from --tiny / --quick and --repeat (shared with --mpi-child).
Config mode_config(const BenchOptions& o) {
  Config c;
  c.mode = o.tiny ? "tiny" : (o.quick ? "quick" : "full");
  if (o.tiny) {
    c.sizes = Sizes{.example_rows = 10'000,
                    .xxl_rows = 1'000,
                    .xxl_cols = 100,
                    .busy_scale = 0.001,
                    .trivial_items = 100'000};
  } else if (o.quick) {
    c.sizes.busy_scale = 0.01;
  }
  const bool short_run = o.quick || o.tiny;
  if (o.command->count("--repeat") > 0) {
    if (o.repeat < 1 || o.repeat > max_repeat)
      throw UsageError("--repeat must be between 1 and " + std::to_string(max_repeat) + " (got " +
                       std::to_string(o.repeat) + ")");
    c.repeat = static_cast<std::size_t>(o.repeat);
  } else {
    c.repeat = short_run ? 3 : 5;
  }
  // Python runs the same sizes, 50-500 times slower: once, without a warm-up, in a short run.
  c.python_repeat = short_run ? 1 : c.repeat;
  c.python_warmup = short_run ? 0 : 1;
  if (o.tiny) {
    c.latency_calls = 50;
    c.latency_warmup = 10;
  } else if (o.quick) {
    c.latency_calls = 1000;
    c.latency_warmup = 100;
  }
  return c;
}

Config make_config(const BenchOptions& o) {
  Config c = mode_config(o);
  c.main_workers = parlab::cpu_count();
  if (o.command->count("--workers") > 0) {
    std::set<std::size_t> seen;
    for (const auto& w : o.workers) {
      const auto n = parse_count(w, "--workers");
      if (n < 1 || n > max_workers)
        throw UsageError("--workers: each count must be between 1 and " + std::to_string(max_workers) +
                         " (got " + w + ")");
      seen.insert(n);
    }
    if (seen.empty()) throw UsageError("--workers needs at least one count");
    c.sweep_workers.assign(seen.begin(), seen.end());
  } else {
    for (std::size_t w = 1; w <= 2 * c.main_workers; ++w)
      c.sweep_workers.push_back(w);
  }

  const std::vector<std::string> known{"example",    "prob3_xxl", "busy_spin",
                                       "busy_sleep", "trivial",   "latency"};
  for (const auto& w : o.workloads) {
    if (std::find(known.begin(), known.end(), w) == known.end())
      throw UsageError("--workload: unknown workload '" + w +
                       "' (choose from example, prob3_xxl, busy_spin, busy_sleep, trivial, latency)");
    c.workloads.push_back(w);
  }
  c.latency = c.workloads.empty() ||
              std::find(c.workloads.begin(), c.workloads.end(), "latency") != c.workloads.end();

  if (o.out.empty()) throw UsageError("--out needs a folder");
  c.out_dir = o.out;
  std::error_code ec;
  fs::create_directories(c.out_dir, ec);
  if (ec || !fs::is_directory(c.out_dir))
    throw UsageError("--out " + o.out + ": cannot create the folder" +
                     (ec ? " (" + ec.message() + ")" : std::string{}));
  if (::access(c.out_dir.c_str(), W_OK) != 0)
    throw UsageError("--out " + o.out + ": folder is not writable (" + std::strerror(errno) + ")");

  // Python: an explicit --python must exist; otherwise a missing interpreter only skips its rows.
  c.workloads_py = (fs::path{python_dir()} / "workloads.py").string();
  if (o.no_python) {
    c.python_skipped = "--no-python";
  } else if (!o.python.empty()) {
    c.python = find_executable(o.python);
    if (!c.python) throw UsageError("--python " + o.python + ": no such executable");
  } else if (const char* env = std::getenv("PARLAB_BENCH_PYTHON"); env && *env) {
    c.python = find_executable(env);
    if (!c.python) c.python_skipped = std::string{"PARLAB_BENCH_PYTHON="} + env + " is not an executable";
  } else {
    c.python = find_executable("/usr/bin/python3");
    if (!c.python) c.python = find_executable("python3");
    if (!c.python) c.python_skipped = "python3 not found (neither /usr/bin/python3 nor on PATH)";
  }
  if (c.python && !fs::exists(c.workloads_py)) {
    c.python.reset();
    c.python_skipped = c.workloads_py + " not found (set PARLAB_BENCH_PYTHON_DIR to parlab's bench/python)";
  }
  return c;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string duration_text(double seconds) {
  if (seconds < 60) return strf("%.1f s", seconds);
  return strf("%d min %02d s", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
}

/// Asks the interpreter for its version, numpy's and its cpu_count; nullopt (and `why`) when
/// it cannot run the Python rows.
std::optional<Json> python_facts(const std::string& python, std::string& why) {
  const std::string code =
      "import json, multiprocessing as mp, platform\n"
      "try:\n"
      "    import numpy\n"
      "except ImportError:\n"
      "    raise SystemExit(3)\n"
      "print(json.dumps({'version': platform.python_version(), 'numpy': numpy.__version__,"
      " 'cpu_count': mp.cpu_count(), 'start_method': mp.get_start_method()}))\n";
  try {
    const auto r = run_process({python, "-c", code}, std::chrono::seconds{60});
    if (r.exit_code == 3) {
      why = "numpy is not installed for " + python + " (apt-get install python3-numpy)";
      return std::nullopt;
    }
    if (r.exit_code != 0 || r.timed_out) {
      why = python + " failed: " + (r.timed_out ? std::string{"timed out"} : last_line(r.err));
      return std::nullopt;
    }
    auto facts = Json::parse(r.out);
    facts["interpreter"] = python;
    return facts;
  } catch (const std::exception& e) {
    why = python + ": " + e.what();
    return std::nullopt;
  }
}

/// A main-table result of `id` on `workload`.
Result row(const std::string& workload, Cid id, std::size_t workers) {
  Result r;
  r.workload = workload;
  r.contender = id;
  r.workers = workers;
  r.main = true;
  return r;
}

/// One measurement to make.
struct Point {
  Cid id;
  std::size_t workers;
  std::size_t chunksize;  // 0: automatic (parlab rows)
  bool main;
};

/// The measurements of one workload, serial first (its output is the reference).
std::vector<Point> plan(const Workload& w, const Config& c) {
  std::vector<Point> points;
  std::set<std::size_t> cols(c.sweep_workers.begin(), c.sweep_workers.end());
  cols.insert(c.main_workers);
  points.push_back({Cid::serial, 1, 0, true});
  // The main table first, then the sweeps.
  for (const Cid id :
       {Cid::parlab, Cid::openmp, Cid::tbb, Cid::std_par, Cid::serial_into, Cid::parlab_map_into,
        Cid::openmp_into, Cid::tbb_into, Cid::std_par_into, Cid::process_pool})
    if (w.runs(id)) points.push_back({id, id == Cid::serial_into ? 1 : c.main_workers, 0, true});
  for (const Cid id :
       {Cid::parlab, Cid::openmp, Cid::tbb, Cid::std_par, Cid::parlab_map_into, Cid::process_pool}) {
    if (!w.runs(id)) continue;
    for (const auto n : cols)
      if (n != c.main_workers) points.push_back({id, n, 0, false});
  }
  if (w.sweeps_chunksize() && w.runs(Cid::parlab)) {
    const std::size_t automatic = w.auto_chunksize(c.main_workers);
    for (std::size_t chunk = 1; chunk < automatic; chunk *= 10)
      points.push_back({Cid::parlab, c.main_workers, chunk, false});
  }
  return points;
}

/// One timed run of `p` into `r`; a wrong output or an exception marks the row.
void run_once(Workload& w, const Point& p, Team& team, Result& r, bool warmup) {
  if (r.status == Status::failed) return;
  try {
    const auto outcome = w.run(p.id, team, p.chunksize);
    (warmup ? r.warmup_s : r.samples_s).push_back(outcome.seconds);
    if (!outcome.correct && r.status == Status::ok) {
      r.status = Status::wrong;
      r.verified = false;
      r.note = outcome.problem;
    }
  } catch (const std::exception& e) {
    r.status = Status::failed;
    r.verified = false;
    r.note = e.what();
  }
}

/// Warm-up runs of `p` until the block is in its steady state (two runs in a row within 10% of
/// each other, at least `warmup` and at most `warmup_max`: first calls fault in fresh memory,
/// start threads, fill caches), then `runs` timed runs; `tick` after each run.
template <class Tick>
void warm_and_time(Workload& w, const Point& p, Team& team, Result& r, std::size_t warmup,
                   std::size_t warmup_max, std::size_t runs, Tick&& tick) {
  const std::size_t before = r.warmup_s.size();
  for (;;) {
    run_once(w, p, team, r, true);
    tick();
    const std::size_t n = r.warmup_s.size() - before;
    if (r.status == Status::failed || n >= warmup_max) break;
    if (n >= warmup) {
      const double a = r.warmup_s[r.warmup_s.size() - 1], b = r.warmup_s[r.warmup_s.size() - 2];
      if (std::abs(a - b) <= 0.1 * std::max(a, b)) break;
    }
  }
  for (std::size_t i = 0; i < runs; ++i) {
    run_once(w, p, team, r, false);
    tick();
  }
}

/// The most warm-up runs of an MpiPool row: as the other rows, but only the least in a short run
/// (--quick, --tiny), where the MPI jobs would otherwise double the time of their rows.
std::size_t mpi_warmup_max(const Config& c) { return c.mode == "full" ? c.warmup_max : c.warmup; }

/// The note of a row whose function cannot be sent to another process.
constexpr const char* cannot_send_note =
    "this workload's function captures state, so it cannot be sent to a worker process";

class Bench {
 public:
  Bench(Config config, lab::Console& console) : c_(std::move(config)), console_(console) {}

  int run() {
    const auto started = std::chrono::steady_clock::now();
    run_.started = utc_now();
    run_.machine = machine_info();
    run_.main_workers = c_.main_workers;
    run_.sweep_workers = c_.sweep_workers;

    // Python, once, before any work: which interpreter, and can it run the notebook.
    std::optional<Json> py;
    if (c_.python) {
      py = python_facts(*c_.python, c_.python_skipped);
      if (!py) c_.python.reset();
    }
    if (py)
      run_.machine["python"] = *py;
    else
      run_.machine["python_skipped"] = c_.python_skipped;

    for (const auto& s : contender_specs()) {
      Contender k{s.id, Status::ok, {}};
      k.status = build_status(s.id, k.reason);
      if ((s.id == Cid::python_serial || s.id == Cid::python_pool) && !c_.python) {
        k.status = Status::skipped;
        k.reason = c_.python_skipped;
      }
      if (mpi_ranks(s.id) != 0 && k.status == Status::ok && !find_executable(mpiexec())) {
        k.status = Status::skipped;
        k.reason = mpiexec() + " (parlab's mpirun when it was configured) is not an executable any more";
      }
      run_.contenders.push_back(std::move(k));
    }

    auto workloads = make_workloads(c_.sizes);
    if (!c_.workloads.empty())
      std::erase_if(workloads, [&](const auto& w) {
        return std::find(c_.workloads.begin(), c_.workloads.end(), w->info().key) == c_.workloads.end();
      });
    std::size_t total = 0;
    for (const auto& w : workloads)
      total += plan(*w, c_).size() + (c_.python ? 1 : 0);
    if (c_.latency) total += 2 + (c_.python ? 1 : 0);
    const auto mpi_ids = mpi_contenders();
    if (!workloads.empty()) total += mpi_ids.size();

    run_.settings = settings_json();
    header(workloads.size(), total);

    std::size_t done = 0;
    std::vector<std::string> keys;  // the workloads measured, for the MpiPool child jobs
    for (auto& w : workloads) {
      const auto& info = w->info();
      console_.line("");
      console_.line("== " + info.title + " (" + info.size + "): " + info.description);
      w->prepare();
      const auto points = plan(*w, c_);
      std::vector<Point> main_points;
      for (const auto& p : points)
        if (p.main) main_points.push_back(p);
      measure_main(*w, main_points, done + 1, total);
      done += main_points.size();
      for (const auto& p : points)
        if (!p.main) measure(*w, p, ++done, total);
      if (c_.python) python(*w, ++done, total);
      not_measured(*w);
      run_.workloads.push_back(w->info());
      keys.push_back(w->info().key);
      w->release();
    }
    if (!keys.empty())
      for (const Cid id : mpi_ids)
        mpi(id, keys, ++done, total);
    if (c_.workloads.empty()) run_.workloads.push_back(brewery_info());
    if (c_.latency) latency(done, total);

    run_.machine["load_average_1m_end"] = load_average();
    run_.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    evaluate_targets(run_);
    return finish();
  }

 private:
  Json settings_json() const {
    Json s = Json::object();
    s["mode"] = c_.mode;
    s["repeat"] = c_.repeat;
    s["warmup"] = c_.warmup;
    s["warmup_max"] = c_.warmup_max;
    s["python_repeat"] = c_.python_repeat;
    s["python_warmup"] = c_.python_warmup;
    s["latency_calls"] = c_.latency ? Json(c_.latency_calls) : Json(nullptr);
    s["latency_warmup_calls"] = c_.latency ? Json(c_.latency_warmup) : Json(nullptr);
    s["main_workers"] = c_.main_workers;
    s["sweep_workers"] = c_.sweep_workers;
    s["sizes"] = {{"example_rows", c_.sizes.example_rows},
                  {"xxl_rows", c_.sizes.xxl_rows},
                  {"xxl_cols", c_.sizes.xxl_cols},
                  {"busy_seconds", busy_seconds()},
                  {"trivial_items", c_.sizes.trivial_items}};
    s["workloads"] = c_.workloads;
    s["python"] = c_.python ? Json(*c_.python) : Json(nullptr);
    s["out"] = c_.out_dir.string();
    return s;
  }

  /// The lab's [1, 2, 4, 6] s at this run's scale.
  std::vector<double> busy_seconds() const {
    std::vector<double> out;
    for (const double s : {1.0, 2.0, 4.0, 6.0})
      out.push_back(std::round(s * c_.sizes.busy_scale * 1e9) / 1e9);
    return out;
  }

  void header(std::size_t workloads, std::size_t total) {
    const auto& m = run_.machine;
    console_.line(
        strf("parlab bench (%s): %zu workloads, %zu measurements; %zu-%zu warm-up + %zu timed runs each "
             "(Python: %zu + %zu); results in %s",
             c_.mode.c_str(), workloads, total, c_.warmup, c_.warmup_max, c_.repeat, c_.python_warmup,
             c_.python_repeat, c_.out_dir.c_str()));
    console_.line(strf("machine: %s, %d cores (%d logical CPUs), cpu_count() = %d; load average %.2f",
                       m.value("cpu_model", std::string{"?"}).c_str(), m.value("cores", 0),
                       m.value("logical_cpus", 0), m.value("cpu_count", 0),
                       m.value("load_average_1m", -1.0)));
    console_.line("compiler: " + m.value("compiler", std::string{}) + ", " +
                  m.value("cxx_flags", std::string{}) + " (" + m.value("build_type", std::string{}) + ")");
    if (c_.python) {
      const auto& py = m["python"];
      console_.line("python: " + *c_.python + " " + py.value("version", std::string{}) + ", numpy " +
                    py.value("numpy", std::string{}));
    } else {
      console_.line("python: skipped - " + c_.python_skipped);
    }
    for (const auto& k : run_.contenders)
      if (k.status == Status::not_built)
        console_.line("not built: " + std::string{spec(k.id).title} + " - " + k.reason);
    console_.line("elsewhere: workload " + brewery_info().title + " - " + brewery_info().reason);
    const double load = m.value("load_average_1m", -1.0);
    const int cpus = m.value("logical_cpus", 1);
    if (load > 0.5 * cpus) {
      const auto note = strf(
          "the load average was %.2f on %d CPUs when the run started: other work was running, "
          "so the figures are noisier and the parallel ones lower than on an idle machine",
          load, cpus);
      run_.notes.push_back(note);
      console_.line("note: " + note);
    }
  }

  /// A result row for point `p`, before any run.
  static Result result_for(const Workload& w, const Point& p) {
    Result r;
    r.workload = w.info().key;
    r.contender = p.id;
    r.workers = p.workers;
    r.main = p.main;
    r.verified = true;
    if (p.id == Cid::parlab || p.id == Cid::parlab_map_into) {
      r.chunksize_auto = p.chunksize == 0;
      if (p.chunksize != 0) r.chunksize = p.chunksize;
    }
    if (p.id == Cid::process_pool) r.chunksize_auto = true;
    return r;
  }

  /// Idle time between two contenders.
  static constexpr std::chrono::milliseconds settle{20};

  /// Runs `p` as a block (a warm-up, then `runs` timed runs) with its own threads, into `r`.
  void run_block(Workload& w, const Point& p, Result& r, std::size_t runs, const std::string& label) {
    // Every block starts from a trimmed heap (free memory back to the system), so that no block
    // inherits warm or cold memory from the block before it: glibc reuses or trims freed memory
    // depending on the history of the heap, which made the same row 3 ms or 25 ms depending on
    // its neighbours. The warm-up below then brings each block to its own steady state.
    ::malloc_trim(0);
    console_.start_progress(label + ", warm-up and runs", c_.warmup_max + runs);
    try {
      Team team{{p.id}, p.workers};
      std::size_t done = 0;
      warm_and_time(w, p, team, r, c_.warmup, c_.warmup_max, runs, [&] { console_.update_progress(++done); });
    } catch (const std::exception& e) {  // the team itself could not be built
      r.status = Status::failed;
      r.verified = false;
      r.note = e.what();
    }
    console_.end_progress();
    // Let this runtime's threads go idle before the next contender starts.
    std::this_thread::sleep_for(settle);
  }

  /// The main table, in two passes of blocks: the first in plan order (serial first: its
  /// output is the reference) with half the timed runs, the second in reverse order with the
  /// rest, each block after its own warm-up. No contender owes its figure to its place in the
  /// queue or to one quiet or busy moment of the machine.
  void measure_main(Workload& w, const std::vector<Point>& points, std::size_t first, std::size_t total) {
    const std::size_t n = points.size();
    std::vector<Result> results;
    for (const auto& p : points)
      results.push_back(result_for(w, p));
    const std::size_t second = c_.repeat / 2, first_runs = c_.repeat - second;
    auto label = [&](std::size_t k, int pass) {
      return strf("[%3zu/%zu] %s, %s, %zu workers, pass %d", first + k, total, w.info().key.c_str(),
                  std::string{spec(points[k].id).title}.c_str(), points[k].workers, pass);
    };
    for (std::size_t k = 0; k < n; ++k)
      run_block(w, points[k], results[k], first_runs, label(k, 1));
    if (second > 0)
      for (std::size_t k = n; k-- > 0;)
        run_block(w, points[k], results[k], second, label(k, 2));
    for (std::size_t k = 0; k < n; ++k) {
      line(first + k, total, results[k]);
      run_.results.push_back(std::move(results[k]));
    }
  }

  /// A sweep point: a warm-up and `repeat` runs in a row, with its own threads.
  void measure(Workload& w, const Point& p, std::size_t index, std::size_t total) {
    Result r = result_for(w, p);
    run_block(w, p, r, c_.repeat,
              strf("[%3zu/%zu] %s, %s, %zu workers", index, total, w.info().key.c_str(),
                   std::string{spec(p.id).title}.c_str(), p.workers));
    line(index, total, r);
    run_.results.push_back(std::move(r));
  }

  void python(Workload& w, std::size_t index, std::size_t total) {
    const auto& info = w.info();
    std::vector<std::string> argv{*c_.python, c_.workloads_py};
    for (const auto& a : w.python_args())
      argv.push_back(a);
    for (const auto& a :
         {std::string{"--workers"}, std::to_string(c_.main_workers), std::string{"--repeat"},
          std::to_string(c_.python_repeat), std::string{"--warmup"}, std::to_string(c_.python_warmup)})
      argv.push_back(a);
    Result serial = row(info.key, Cid::python_serial, 1);
    Result pool = row(info.key, Cid::python_pool, c_.main_workers);
    console_.start_progress(strf("[%3zu/%zu] %s, Python serial and Pool.map (%zu + %zu runs each)", index,
                                 total, info.key.c_str(), c_.python_warmup, c_.python_repeat),
                            1);
    std::string problem;
    Status status = Status::failed;
    try {
      const auto r = run_process(argv, std::chrono::seconds{3600});
      if (r.timed_out) {
        problem = "workloads.py took more than an hour";
      } else if (r.exit_code == 3) {
        status = Status::skipped;
        problem = "numpy is not installed for " + *c_.python;
      } else if (r.exit_code != 0) {
        problem = "workloads.py exited with status " + std::to_string(r.exit_code) + ": " + last_line(r.err);
      } else {
        const auto j = Json::parse(r.out);
        for (auto [res, key] : {std::pair{&serial, "serial"}, std::pair{&pool, "pool"}}) {
          const auto& side = j.at(key);
          res->warmup_s = side.at("warmup_s").get<std::vector<double>>();
          res->samples_s = side.at("samples_s").get<std::vector<double>>();
          res->note = w.check_python(side);
          res->verified = res->note.empty();
          res->status = res->verified ? Status::ok : Status::wrong;
        }
        pool.workers = j.value("workers", c_.main_workers);
      }
    } catch (const std::exception& e) {
      problem = std::string{"workloads.py: "} + e.what();
    }
    if (!problem.empty()) {
      for (auto* res : {&serial, &pool}) {
        res->status = status;
        res->note = problem;
      }
    }
    console_.end_progress();
    line(index, total, serial);
    line(index, total, pool);
    run_.results.push_back(std::move(serial));
    run_.results.push_back(std::move(pool));
  }

  /// The MpiPool contenders this run measures (in this build, with mpirun there).
  std::vector<Cid> mpi_contenders() const {
    std::vector<Cid> ids;
    for (const auto& k : run_.contenders)
      if (mpi_ranks(k.id) != 0 && k.status == Status::ok) ids.push_back(k.id);
    return ids;
  }

  /// The MpiPool rows of contender `id` on the workloads `keys`, measured as the Python rows are:
  /// in a child job, `mpirun -np N parlab bench --mpi-child --workload ...`, whose rank 0 builds
  /// each workload's input as this process does, runs pool.map (warm-ups, then the timed runs),
  /// checks every output against serial C++ and prints the rows as JSON; ranks 1..N-1 serve.
  /// One job per -np for all workloads: starting an MPI job costs about a second.
  void mpi(Cid id, const std::vector<std::string>& keys, std::size_t index, std::size_t total) {
    const std::size_t np = mpi_ranks(id);
    std::string joined;
    for (const auto& k : keys)
      joined += (joined.empty() ? "" : ",") + k;
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    std::vector<std::string> argv{mpiexec(), "--allow-run-as-root", "--oversubscribe", "--mca", "btl",
                                  "self,vader,tcp", "--mca", "btl_vader_single_copy_mechanism", "none",
                                  "-np", std::to_string(np),
                                  self.string(), "bench", "--mpi-child", "--workload", joined, "--repeat",
                                  std::to_string(c_.repeat)};
    if (c_.mode != "full") argv.push_back("--" + c_.mode);
    std::vector<Result> rows;
    for (const auto& k : keys) {
      Result r = row(k, id, np - 1);
      r.chunksize_auto = true;
      rows.push_back(std::move(r));
    }
    console_.start_progress(
        strf("[%3zu/%zu] %s, all workloads (mpirun -np %zu, %zu-%zu warm-up + %zu runs each)", index, total,
             std::string{spec(id).title}.c_str(), np, c_.warmup, mpi_warmup_max(c_), c_.repeat),
        1);
    const auto job_start = std::chrono::steady_clock::now();
    std::string problem;
    try {
      if (ec) throw std::runtime_error("cannot find this program (/proc/self/exe): " + ec.message());
      ::malloc_trim(0);
      const auto r = run_process(argv, std::chrono::seconds{3600});
      // The last line that is a JSON object: rank 0's report (MPI may print notices around it).
      std::optional<Json> report;
      std::size_t end = r.out.size();
      while (!report && end > 0) {
        const std::size_t begin = r.out.rfind('\n', end - 1);
        const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
        const std::string text = r.out.substr(from, end - from);
        if (!text.empty() && text.front() == '{') report = Json::parse(text, nullptr, false);
        if (report && report->is_discarded()) report.reset();
        end = begin == std::string::npos ? 0 : begin;
      }
      if (r.timed_out) {
        problem = "mpirun -np " + std::to_string(np) + " took more than an hour";
      } else if (r.exit_code != 0 || !report) {
        problem = "mpirun -np " + std::to_string(np) + " parlab bench --mpi-child exited with status " +
                  std::to_string(r.exit_code) + (report ? "" : " without its report") + ": " +
                  last_line(r.err.empty() ? r.out : r.err);
      } else if (report->contains("error")) {
        problem = "mpirun -np " + std::to_string(np) + ": " + report->value("error", std::string{});
      } else {
        for (auto& res : rows) {
          const Json* side = nullptr;
          for (const auto& j : report->at("results"))
            if (j.value("workload", std::string{}) == res.workload) side = &j;
          if (!side) {
            res.status = Status::failed;
            res.note = "the MPI job did not report this workload";
            continue;
          }
          const auto status = side->value("status", std::string{"failed"});
          res.status = status == "ok"        ? Status::ok
                       : status == "wrong"   ? Status::wrong
                       : status == "skipped" ? Status::skipped
                                             : Status::failed;
          res.note = side->value("note", std::string{});
          res.warmup_s = side->value("warmup_s", std::vector<double>{});
          res.samples_s = side->value("samples_s", std::vector<double>{});
          res.workers = side->value("workers", np - 1);
          res.verified = res.status == Status::ok;
          if (res.status == Status::ok && res.samples_s.size() != c_.repeat) {
            res.status = Status::failed;
            res.verified = false;
            res.note = "the MPI job returned " + std::to_string(res.samples_s.size()) + " timed runs for " +
                       std::to_string(c_.repeat);
          }
          if (res.status != Status::ok && res.note.empty()) res.note = "the MPI job gave no reason";
          if (res.status == Status::failed || res.status == Status::skipped) res.samples_s.clear();
        }
      }
    } catch (const std::exception& e) {
      problem = "mpirun -np " + std::to_string(np) + ": " + e.what();
    }
    console_.end_progress();
    console_.line(strf(
        "[%3zu/%zu] mpirun -np %zu parlab bench --mpi-child: %s from start to end", index, total, np,
        duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - job_start).count())
            .c_str()));
    for (auto& res : rows) {
      if (!problem.empty()) {
        res.status = Status::failed;
        res.verified = false;
        res.note = problem;
        res.warmup_s.clear();
        res.samples_s.clear();
      }
      line(index, total, res);
      run_.results.push_back(std::move(res));
    }
    std::this_thread::sleep_for(settle);
  }

  /// Round-trip latency of apply_async(f, x).get(): parlab's Pool, parlab's ProcessPool and, in
  /// a fresh interpreter, Python's multiprocessing.Pool, each at cpu_count() workers.
  void latency(std::size_t& done, std::size_t total) {
    console_.line("");
    console_.line(
        strf("== Round-trip latency: apply_async(f, x).get() with f(x) = x + 1, %zu untimed calls, then "
             "%zu calls timed one by one",
             c_.latency_warmup, c_.latency_calls));
    for (const Cid id : {Cid::parlab, Cid::process_pool}) {
      ::malloc_trim(0);
      console_.start_progress(strf("[%3zu/%zu] latency, %s", done + 1, total, latency_title(id).c_str()), 1);
      Latency l = measure_latency(id, c_.main_workers, c_.latency_warmup, c_.latency_calls);
      console_.end_progress();
      latency_line(++done, total, l);
      run_.latency.push_back(std::move(l));
      std::this_thread::sleep_for(settle);
    }
    Latency py;
    py.contender = Cid::python_pool;
    py.workers = c_.main_workers;
    py.warmup_calls = c_.latency_warmup;
    if (!c_.python) {
      py.status = Status::skipped;
      py.note = c_.python_skipped;
      run_.latency.push_back(std::move(py));
      return;
    }
    console_.start_progress(strf("[%3zu/%zu] latency, Python Pool", done + 1, total), 1);
    const std::vector<std::string> argv{*c_.python,       c_.workloads_py,
                                        "--workload",     "apply",
                                        "--calls",        std::to_string(c_.latency_calls),
                                        "--warmup-calls", std::to_string(c_.latency_warmup),
                                        "--workers",      std::to_string(c_.main_workers)};
    try {
      const auto r = run_process(argv, std::chrono::seconds{600});
      if (r.timed_out) {
        py.status = Status::failed;
        py.note = "workloads.py --workload apply took more than 10 minutes";
      } else if (r.exit_code == 3) {
        py.status = Status::skipped;
        py.note = "numpy is not installed for " + *c_.python;
      } else if (r.exit_code != 0) {
        py.status = Status::failed;
        py.note = "workloads.py exited with status " + std::to_string(r.exit_code) + ": " + last_line(r.err);
      } else {
        const auto out = Json::parse(r.out);
        const auto& j = out.at("apply");
        py.samples_s = j.at("samples_s").get<std::vector<double>>();
        py.workers = out.value("workers", c_.main_workers);
        const auto expected = static_cast<std::int64_t>(c_.latency_warmup + c_.latency_calls);
        const auto got = j.value("final", std::int64_t{-1});
        if (py.samples_s.size() != c_.latency_calls) {
          py.status = Status::wrong;
          py.note = "returned " + std::to_string(py.samples_s.size()) + " samples for " +
                    std::to_string(c_.latency_calls) + " calls";
        } else if (got != expected) {
          py.status = Status::wrong;
          py.note = "x + 1 applied " + std::to_string(expected) + " times from 0 gave " + std::to_string(got);
        } else {
          py.verified = true;
        }
        if (!py.verified) py.samples_s.clear();
      }
    } catch (const std::exception& e) {
      py.status = Status::failed;
      py.note = std::string{"workloads.py --workload apply: "} + e.what();
    }
    console_.end_progress();
    latency_line(++done, total, py);
    run_.latency.push_back(std::move(py));
  }

  void latency_line(std::size_t index, std::size_t total, const Latency& l) {
    std::string figures;
    if (l.measured())
      figures = strf("median %9s  p10 %9s  p90 %9s  (%zu calls)  checked",
                     format_seconds(l.quantile(0.5)).c_str(), format_seconds(l.quantile(0.1)).c_str(),
                     format_seconds(l.quantile(0.9)).c_str(), l.samples_s.size());
    else
      figures = (l.status == Status::wrong ? std::string{"WRONG"} : std::string{status_name(l.status)}) +
                (l.note.empty() ? "" : ": " + l.note);
    console_.line(strf("[%3zu/%zu] %-10s %-25s %2zu w %-12s %s", index, total, "latency",
                       latency_title(l.contender).c_str(), l.workers, "", figures.c_str()));
  }

  /// Rows for the contenders that are not built here, or skipped (Python without numpy; the
  /// ProcessPool on a workload whose function cannot be sent to a process).
  void not_measured(const Workload& w) {
    for (const auto& k : run_.contenders) {
      const auto& s = spec(k.id);
      if (k.id == Cid::process_pool && k.status == Status::ok && !w.runs(k.id)) {
        Result r = row(w.info().key, k.id, c_.main_workers);
        r.status = Status::skipped;
        r.note = cannot_send_note;
        run_.results.push_back(std::move(r));
        continue;
      }
      if (k.status == Status::ok) continue;         // measured, or does not apply here
      if (s.into && !w.has_into_rows()) continue;   // "into" rows are for the map workloads
      if (run_.main(w.info().key, k.id)) continue;  // already recorded (python())
      Result r = row(w.info().key, k.id,
                     mpi_ranks(k.id) != 0 ? mpi_ranks(k.id) - 1 : (s.parallel ? c_.main_workers : 1));
      r.status = k.status;
      r.note = k.reason;
      run_.results.push_back(std::move(r));
    }
  }

  void line(std::size_t index, std::size_t total, const Result& r) {
    std::string chunk;
    if (r.contender == Cid::parlab || r.contender == Cid::parlab_map_into)
      chunk = r.chunksize ? "chunk " + std::to_string(*r.chunksize) : "chunk auto";
    std::string figures;
    if (r.measured()) {
      figures = strf("median %9s  min %9s  max %9s", format_seconds(r.median()).c_str(),
                     format_seconds(r.min()).c_str(), format_seconds(r.max()).c_str());
      if (auto v = ratio_to(run_, r, Cid::serial); v && r.contender != Cid::serial)
        figures += strf("  %8s serial", format_ratio(*v, true).c_str());
      figures += "  checked";
    } else {
      figures = (r.status == Status::wrong ? std::string{"WRONG"} : std::string{status_name(r.status)}) +
                (r.note.empty() ? "" : ": " + r.note);
    }
    console_.line(strf("[%3zu/%zu] %-10s %-25s %2zu w %-12s %s", index, total, r.workload.c_str(),
                       std::string{spec(r.contender).title}.c_str(), r.workers, chunk.c_str(),
                       figures.c_str()));
  }

  int finish() {
    int status = 0;
    for (const auto& r : run_.results)
      if (r.status == Status::wrong || r.status == Status::failed) status = 1;
    for (const auto& l : run_.latency)
      if (l.status == Status::wrong || l.status == Status::failed) status = 1;

    // Rows whose runs spread widely: the machine was busy, or the row is noisy by nature.
    std::string noisy;
    std::size_t n_noisy = 0;
    for (const auto& r : run_.results) {
      if (!r.measured() || r.samples_s.size() < 3 || r.max() <= 1.5 * r.min()) continue;
      if (++n_noisy <= 6)
        noisy += (noisy.empty() ? "" : "; ") + r.workload + " " + std::string{spec(r.contender).title} + " " +
                 std::to_string(r.workers) + " w" +
                 (r.chunksize ? " chunk " + std::to_string(*r.chunksize) : "") + " (" +
                 format_seconds(r.min()) + " to " + format_seconds(r.max()) + ")";
    }
    if (n_noisy > 0)
      run_.notes.push_back(std::to_string(n_noisy) +
                           " rows spread by more than 1.5x between their fastest and slowest "
                           "run (medians absorb a few outliers): " +
                           noisy + (n_noisy > 6 ? "; ..." : ""));
    const auto plots = draw_plots(run_, c_.out_dir);
    for (const auto& p : plots)
      run_.notes.push_back(p);
    const auto json_path = c_.out_dir / "bench.json";
    const auto report_path = c_.out_dir / "report.md";
    lab::write_file_atomically(json_path, to_json(run_).dump(2) + "\n");
    lab::write_file_atomically(report_path, to_markdown(run_));

    console_.line("");
    for (const auto& l : terminal_summary(run_))
      console_.line(l);
    console_.line("");
    for (const auto& p : plots)
      console_.line("note: " + p);
    if (status != 0) console_.line("some rows were WRONG or failed: see the lines above and report.md");
    console_.line("wrote " + json_path.string() + ", " + report_path.string() +
                  (plots.empty() ? ", " + (c_.out_dir / "speedup.png").string() + ", " +
                                       (c_.out_dir / "python-vs-cpp.png").string()
                                 : std::string{}) +
                  " in " + duration_text(run_.elapsed_s));
    return status;
  }

  Config c_;
  lab::Console& console_;
  Run run_;
};

}  // namespace

namespace {

/// `parlab bench --mpi-child`: one process of the MpiPool rows' child job. Every rank but 0
/// serves tasks in MpiPool::start() and exits when rank 0 ends. Rank 0 measures each workload of
/// --workload as the parent measures its own rows (the same input, warm-ups until steady, the
/// timed runs, every output checked against serial C++) and prints one line of JSON:
/// {"ranks": N, "workers": N - 1, "results": [{"workload", "status", "note", "workers",
/// "warmup_s", "samples_s"}, ...]} (or {"error": "..."}); the parent turns it into rows.
int run_mpi_child(const BenchOptions& o) {
#if defined(PARLAB_HAS_MPI)
  parlab::MpiPool::start();  // worker ranks serve from here and never return
  Json out = Json::object();
  try {
    const Config c = mode_config(o);
    const auto ranks = static_cast<std::size_t>(parlab::MpiPool::ranks());
    if (ranks < 2)
      throw std::runtime_error("--mpi-child needs worker ranks: run it under mpirun -np N, N >= 2");
    const std::size_t workers = ranks - 1;
    const Cid id = ranks == 2 ? Cid::mpi_pool_np2 : Cid::mpi_pool_np3;
    out["ranks"] = ranks;
    out["workers"] = workers;
    Json results = Json::array();
    auto workloads = make_workloads(c.sizes);
    for (const auto& key : o.workloads) {
      const auto it = std::find_if(workloads.begin(), workloads.end(),
                                   [&](const auto& w) { return w->info().key == key; });
      if (it == workloads.end()) throw std::runtime_error("--mpi-child: unknown workload '" + key + "'");
      Workload& w = **it;
      Result r;
      r.workload = key;
      r.contender = id;
      r.workers = workers;
      r.verified = true;
      if (!w.runs(id)) {
        r.status = Status::skipped;
        r.note = cannot_send_note;
      } else {
        w.prepare();
        try {
          Team serial_team{{Cid::serial}, 1};
          Result reference;
          run_once(w, {Cid::serial, 1, 0, true}, serial_team, reference, true);  // the reference output
          if (reference.status != Status::ok)
            throw std::runtime_error("serial C++ reference: " + reference.note);
          Team team{{id}, workers};
          warm_and_time(w, {id, workers, 0, true}, team, r, c.warmup, mpi_warmup_max(c), c.repeat, [] {});
        } catch (const std::exception& e) {
          r.status = Status::failed;
          r.note = e.what();
        }
        w.release();
      }
      results.push_back({{"workload", key},
                         {"status", status_name(r.status)},
                         {"note", r.note},
                         {"workers", workers},
                         {"warmup_s", r.warmup_s},
                         {"samples_s", r.samples_s}});
    }
    out["results"] = std::move(results);
  } catch (const std::exception& e) {
    out = Json{{"error", e.what()}};
  }
  std::cout << out.dump() << std::endl;
  return 0;
#else
  static_cast<void>(o);
  return report_error(2, "--mpi-child: MpiPool is not in this build of parlab");
#endif
}

}  // namespace

void add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* cmd = app.add_subcommand(
      "bench",
      "Measure parlab against serial C++, OpenMP, oneTBB, std::execution::par and the Python notebook");
  o.command = cmd;
  cmd->add_flag(
      "--quick", o.quick,
      "Short run: 3 runs, Problem 2 at 1/100 of the lab's durations, Python once, 1,000 latency calls");
  cmd->add_option("--repeat", o.repeat,
                  "Timed runs per row, after 2 to 5 warm-up runs (default 5; 3 with --quick)");
  cmd->add_option("--workers", o.workers,
                  "Worker counts of the sweep, e.g. 1,2,4 (default 1 to 2 x cpu_count())")
      ->delimiter(',');
  cmd->add_option("--out", o.out,
                  "Folder for bench.json, report.md, speedup.png, python-vs-cpp.png (default out)");
  cmd->add_option(
         "--workload", o.workloads,
         "Only these workloads: example,prob3_xxl,busy_spin,busy_sleep,trivial,latency (default all)")
      ->delimiter(',');
  cmd->add_option("--python", o.python,
                  "Python interpreter with numpy (default /usr/bin/python3, then python3)");
  cmd->add_flag("--no-python", o.no_python, "Skip the Python notebook's rows");
  cmd->add_flag("--tiny", o.tiny,
                "Smallest sizes, for tests: checks everything in seconds, the figures mean nothing");
  // Hidden (no group): the MpiPool rows' child job, started by `parlab bench` under mpirun.
  cmd->add_flag("--mpi-child", o.mpi_child, "One rank of the MpiPool rows' child job (internal)")->group("");
}

bool bench_selected(const BenchOptions& o) { return o.command != nullptr && o.command->parsed(); }

int run_bench_command(const BenchOptions& options) {
  if (options.mpi_child) {
    try {
      return run_mpi_child(options);
    } catch (const std::exception& e) {  // MPI could not start
      return report_error(1, e.what());
    }
  }
  Config config;
  try {
    config = make_config(options);
  } catch (const UsageError& e) {
    return report_error(2, e.what());
  }
  try {
    // The ProcessPool rows fork their workers from a fork server: start it now, while this
    // process has one thread and little memory, rather than from a snapshot taken mid-run.
    // Should it fail, each ProcessPool row fails with the reason, and the rest still runs.
    try {
      parlab::ProcessPool::start_fork_server();
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
    }
    lab::Console console{std::cout, lab::Console::live_for(STDOUT_FILENO)};
    Bench bench{std::move(config), console};
    return bench.run();
  } catch (const std::exception& e) {
    return report_error(1, e.what());
  }
}

}  // namespace parlab::cli
