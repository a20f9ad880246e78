#include "bench/harness/engine.hpp"

#include "bench/harness/measure.hpp"
#include "bench/harness/report.hpp"
#include "bench/harness/system.hpp"
#include "lab/console.hpp"
#include "lab/system.hpp"

#include <parlab/process_pool.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>

namespace parlab::bench {

namespace fs = std::filesystem;

namespace {

using lab::Align;
using lab::pad;

std::string utc_now() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

std::string duration_text(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  return fmt::format("{} min {:02} s", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
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

/// A result row for point `p`, before any run.
Result result_for(const Workload& w, const Point& p) {
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

/// The last line of `out` that is a JSON object: rank 0's report (MPI may print notices around it).
std::optional<Json> last_json_line(const std::string& out) {
  std::optional<Json> report;
  std::size_t end = out.size();
  while (!report && end > 0) {
    const std::size_t begin = out.rfind('\n', end - 1);
    const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
    const std::string text = out.substr(from, end - from);
    if (!text.empty() && text.front() == '{') report = Json::parse(text, nullptr, false);
    if (report && report->is_discarded()) report.reset();
    end = begin == std::string::npos ? 0 : begin;
  }
  return report;
}

/// Idle time between two contenders.
constexpr std::chrono::milliseconds settle{20};

class Bench {
 public:
  Bench(Settings settings, lab::Console& console) : c_(std::move(settings)), console_(console) {}

  int run() {
    const auto started = std::chrono::steady_clock::now();
    run_.started = utc_now();
    run_.machine = machine_info();
    run_.main_workers = c_.main_workers;
    run_.sweep_workers = c_.sweep_workers;
    ask_python();
    find_contenders();
    auto workloads = selected_workloads();
    const auto mpi_ids = mpi_contenders();
    const std::size_t total = measurements(workloads, mpi_ids);
    run_.settings = settings_json();
    header(workloads.size(), total);

    std::size_t done = 0;
    std::vector<std::string> keys;  // the workloads measured, for the MpiPool child jobs
    for (auto& w : workloads) {
      measure_workload(*w, done, total);
      keys.push_back(w->info().key);
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
  /// Python, once, before any work: which interpreter, and can it run the notebook.
  void ask_python() {
    std::optional<Json> py;
    if (c_.python) {
      py = python_facts(*c_.python, c_.python_skipped);
      if (!py) c_.python.reset();
    }
    if (py)
      run_.machine["python"] = *py;
    else
      run_.machine["python_skipped"] = c_.python_skipped;
  }

  /// Every contender, and whether this run can measure it.
  void find_contenders() {
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
  }

  /// The workloads of --workload (all by default), in run order.
  std::vector<std::unique_ptr<Workload>> selected_workloads() const {
    auto workloads = make_workloads(c_.sizes);
    if (!c_.workloads.empty())
      std::erase_if(workloads, [&](const auto& w) {
        return std::find(c_.workloads.begin(), c_.workloads.end(), w->info().key) == c_.workloads.end();
      });
    return workloads;
  }

  /// How many measurements the run makes (the "[k/total]" of the progress lines).
  std::size_t measurements(const std::vector<std::unique_ptr<Workload>>& workloads,
                           const std::vector<Cid>& mpi_ids) const {
    std::size_t total = 0;
    for (const auto& w : workloads)
      total += plan(*w, c_).size() + (c_.python ? 1 : 0);
    if (c_.latency) total += 2 + (c_.python ? 1 : 0);
    if (!workloads.empty()) total += mpi_ids.size();
    return total;
  }

  /// Every row of one workload: the main table, the sweeps, Python's, and the rows not measured.
  void measure_workload(Workload& w, std::size_t& done, std::size_t total) {
    const auto& info = w.info();
    console_.line("");
    console_.line("== " + info.title + " (" + info.size + "): " + info.description);
    w.prepare();
    const auto points = plan(w, c_);
    std::vector<Point> main_points;
    for (const auto& p : points)
      if (p.main) main_points.push_back(p);
    measure_main(w, main_points, done + 1, total);
    done += main_points.size();
    for (const auto& p : points)
      if (!p.main) measure(w, p, ++done, total);
    if (c_.python) python(w, ++done, total);
    not_measured(w);
    run_.workloads.push_back(w.info());
    w.release();
  }

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
    console_.line(fmt::format(
        "parlab bench ({}): {} workloads, {} measurements; {}-{} warm-up + {} timed runs each (Python: {} + "
        "{}); results in {}",
        c_.mode, workloads, total, c_.warmup, c_.warmup_max, c_.repeat, c_.python_warmup, c_.python_repeat,
        c_.out_dir.string()));
    console_.line(
        fmt::format("machine: {}; load average {:.2f}", machine_line(m), m.value("load_average_1m", -1.0)));
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
      const auto note = fmt::format(
          "the load average was {:.2f} on {} CPUs when the run started: other work was running, "
          "so the figures are noisier and the parallel ones lower than on an idle machine",
          load, cpus);
      run_.notes.push_back(note);
      console_.line("note: " + note);
    }
  }

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
      return fmt::format("[{:3}/{}] {}, {}, {} workers, pass {}", first + k, total, w.info().key,
                         spec(points[k].id).title, points[k].workers, pass);
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
    run_block(
        w, p, r, c_.repeat,
        fmt::format("[{:3}/{}] {}, {}, {} workers", index, total, w.info().key, spec(p.id).title, p.workers));
    line(index, total, r);
    run_.results.push_back(std::move(r));
  }

  /// workloads.py's serial and Pool.map rows of `w`, in one Python process.
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
    console_.start_progress(fmt::format("[{:3}/{}] {}, Python serial and Pool.map ({} + {} runs each)", index,
                                        total, info.key, c_.python_warmup, c_.python_repeat),
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

  /// `mpirun -np <np> <this program> bench --mpi-child --workload <keys> ...`.
  std::vector<std::string> mpi_child_argv(std::size_t np, const std::string& self,
                                          const std::vector<std::string>& keys) const {
    std::vector<std::string> argv{mpiexec(),
                                  "--allow-run-as-root",
                                  "--oversubscribe",
                                  "--mca",
                                  "btl",
                                  "self,vader,tcp",
                                  "--mca",
                                  "btl_vader_single_copy_mechanism",
                                  "none",
                                  "-np",
                                  std::to_string(np),
                                  self,
                                  "bench",
                                  "--mpi-child",
                                  "--workload",
                                  fmt::format("{}", fmt::join(keys, ",")),
                                  "--repeat",
                                  std::to_string(c_.repeat)};
    if (c_.mode != "full") argv.push_back("--" + c_.mode);
    return argv;
  }

  /// Fills `res` from its workload's entry of the child job's report.
  void take_mpi_result(Result& res, const Json& report, std::size_t np) const {
    const Json* side = nullptr;
    for (const auto& j : report.at("results"))
      if (j.value("workload", std::string{}) == res.workload) side = &j;
    if (!side) {
      res.status = Status::failed;
      res.note = "the MPI job did not report this workload";
      return;
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

  /// Runs the child job of `rows` (one per workload) and fills them; returns what went wrong
  /// with the whole job, or "".
  std::string run_mpi_job(std::size_t np, std::vector<Result>& rows) {
    std::vector<std::string> keys;
    for (const auto& r : rows)
      keys.push_back(r.workload);
    try {
      std::error_code ec;
      const auto self = fs::read_symlink("/proc/self/exe", ec);
      if (ec) throw std::runtime_error("cannot find this program (/proc/self/exe): " + ec.message());
      ::malloc_trim(0);
      const auto r = run_process(mpi_child_argv(np, self.string(), keys), std::chrono::seconds{3600});
      const auto report = last_json_line(r.out);
      if (r.timed_out) return "mpirun -np " + std::to_string(np) + " took more than an hour";
      if (r.exit_code != 0 || !report)
        return "mpirun -np " + std::to_string(np) + " parlab bench --mpi-child exited with status " +
               std::to_string(r.exit_code) + (report ? "" : " without its report") + ": " +
               last_line(r.err.empty() ? r.out : r.err);
      if (report->contains("error"))
        return "mpirun -np " + std::to_string(np) + ": " + report->value("error", std::string{});
      for (auto& res : rows)
        take_mpi_result(res, *report, np);
    } catch (const std::exception& e) {
      return "mpirun -np " + std::to_string(np) + ": " + e.what();
    }
    return {};
  }

  /// The MpiPool rows of contender `id` on the workloads `keys`, measured as the Python rows are:
  /// in a child job, `mpirun -np N parlab bench --mpi-child --workload ...`, whose rank 0 builds
  /// each workload's input as this process does, runs pool.map (warm-ups, then the timed runs),
  /// checks every output against serial C++ and prints the rows as JSON; ranks 1..N-1 serve.
  /// One job per -np for all workloads: starting an MPI job costs about a second.
  void mpi(Cid id, const std::vector<std::string>& keys, std::size_t index, std::size_t total) {
    const std::size_t np = mpi_ranks(id);
    std::vector<Result> rows;
    for (const auto& k : keys) {
      Result r = row(k, id, np - 1);
      r.chunksize_auto = true;
      rows.push_back(std::move(r));
    }
    console_.start_progress(
        fmt::format("[{:3}/{}] {}, all workloads (mpirun -np {}, {}-{} warm-up + {} runs each)", index, total,
                    spec(id).title, np, c_.warmup, mpi_warmup_max(c_), c_.repeat),
        1);
    const auto job_start = std::chrono::steady_clock::now();
    const std::string problem = run_mpi_job(np, rows);
    console_.end_progress();
    console_.line(fmt::format(
        "[{:3}/{}] mpirun -np {} parlab bench --mpi-child: {} from start to end", index, total, np,
        duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - job_start).count())));
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
    console_.line(fmt::format(
        "== Round-trip latency: apply_async(f, x).get() with f(x) = x + 1, {} untimed calls, then "
        "{} calls timed one by one",
        c_.latency_warmup, c_.latency_calls));
    for (const Cid id : {Cid::parlab, Cid::process_pool}) {
      ::malloc_trim(0);
      console_.start_progress(fmt::format("[{:3}/{}] latency, {}", done + 1, total, latency_title(id)), 1);
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
    console_.start_progress(fmt::format("[{:3}/{}] latency, Python Pool", done + 1, total), 1);
    python_latency(py);
    console_.end_progress();
    latency_line(++done, total, py);
    run_.latency.push_back(std::move(py));
  }

  /// Python's row of the latency table, from workloads.py --workload apply.
  void python_latency(Latency& py) const {
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
  }

  /// One progress line of a finished row: "[  7/120] example    OpenMP    4 w   ...  figures".
  void progress_line(std::size_t index, std::size_t total, std::string_view workload, std::string_view title,
                     std::size_t workers, std::string_view chunk, std::string_view figures) {
    console_.line(fmt::format("[{:3}/{}] {:<10} {:<25} {:2} w {:<12} {}", index, total, workload, title,
                              workers, chunk, figures));
  }

  void latency_line(std::size_t index, std::size_t total, const Latency& l) {
    std::string figures;
    if (l.measured())
      figures =
          fmt::format("median {}  p10 {}  p90 {}  ({} calls)  checked", seconds_column(l.quantile(0.5)),
                      seconds_column(l.quantile(0.1)), seconds_column(l.quantile(0.9)), l.samples_s.size());
    else
      figures = no_figure(l.status) + (l.note.empty() ? "" : ": " + l.note);
    progress_line(index, total, "latency", latency_title(l.contender), l.workers, "", figures);
  }

  void line(std::size_t index, std::size_t total, const Result& r) {
    std::string chunk;
    if (r.contender == Cid::parlab || r.contender == Cid::parlab_map_into)
      chunk = r.chunksize ? "chunk " + std::to_string(*r.chunksize) : "chunk auto";
    std::string figures;
    if (r.measured()) {
      figures = fmt::format("median {}  min {}  max {}", seconds_column(r.median()), seconds_column(r.min()),
                            seconds_column(r.max()));
      if (auto v = ratio_to(run_, r, Cid::serial); v && r.contender != Cid::serial)
        figures += fmt::format("  {:>8} serial", format_ratio(*v, true));
      figures += "  checked";
    } else {
      figures = no_figure(r.status) + (r.note.empty() ? "" : ": " + r.note);
    }
    progress_line(index, total, r.workload, spec(r.contender).title, r.workers, chunk, figures);
  }

  /// A time in a progress line's column of 9 ("  12.3 ms").
  static std::string seconds_column(double seconds) { return pad(format_seconds(seconds), 9, Align::right); }

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

  /// A note on the rows whose runs spread widely: the machine was busy, or the row is noisy by nature.
  void note_noisy_rows() {
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
  }

  /// Writes the outputs, prints the summary; the exit status.
  int finish() {
    int status = 0;
    for (const auto& r : run_.results)
      if (r.status == Status::wrong || r.status == Status::failed) status = 1;
    for (const auto& l : run_.latency)
      if (l.status == Status::wrong || l.status == Status::failed) status = 1;
    note_noisy_rows();
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

  Settings c_;
  lab::Console& console_;
  Run run_;
};

}  // namespace

int run(Settings settings) {
  // The ProcessPool rows fork their workers from a fork server: start it now, while this
  // process has one thread and little memory, rather than from a snapshot taken mid-run.
  // Should it fail, each ProcessPool row fails with the reason, and the rest still runs.
  try {
    parlab::ProcessPool::start_fork_server();
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
  }
  lab::Console console{std::cout, lab::Console::live_for(STDOUT_FILENO)};
  Bench bench{std::move(settings), console};
  return bench.run();
}

}  // namespace parlab::bench
