#include "bench/harness/report.hpp"

#include "bench/harness/system.hpp"
#include "bench_config.hpp"
#include "lab/console.hpp"
#include "lab/system.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace parlab::bench {

namespace fs = std::filesystem;
using lab::Align;
using lab::pad;

namespace {

std::string title(Cid id) { return std::string{spec(id).title}; }

const std::vector<Cid>& main_order() {
  static const std::vector<Cid> order{
      Cid::serial,        Cid::parlab,          Cid::openmp,       Cid::tbb,          Cid::std_par,
      Cid::serial_into,   Cid::parlab_map_into, Cid::openmp_into,  Cid::tbb_into,     Cid::std_par_into,
      Cid::python_serial, Cid::python_pool,     Cid::process_pool, Cid::mpi_pool_np2, Cid::mpi_pool_np3};
  return order;
}

/// Contenders drawn in the workers sweep, in plot order.
const std::vector<Cid>& sweep_order() {
  static const std::vector<Cid> order{Cid::parlab,  Cid::openmp,          Cid::tbb,
                                      Cid::std_par, Cid::parlab_map_into, Cid::process_pool};
  return order;
}

/// A short name for a lab step (plot labels).
std::string step_label(const WorkloadInfo& w) {
  if (w.key == "example") return "Example";
  if (w.key == "prob3_xxl") return "Problem 3 XXL";
  if (w.key == "busy_spin") return "Problem 2 (spin)";
  if (w.key == "busy_sleep") return "Problem 2 (sleep)";
  if (w.key == "trivial") return "Trivial task";
  if (w.key == "brewery") return "Brewery (async)";
  return w.title;
}

Json number_or_null(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

/// The median of the faster of OpenMP and oneTBB on a workload's main table, with its id.
const Result* best_of_openmp_tbb(const Run& run, std::string_view workload) {
  const Result* best = nullptr;
  for (const Cid id : {Cid::openmp, Cid::tbb}) {
    const Result* r = run.main(workload, id);
    if (r && r->measured() && (!best || r->median() < best->median())) best = r;
  }
  return best;
}

std::vector<std::size_t> worker_columns(const Run& run) {
  std::set<std::size_t> cols(run.sweep_workers.begin(), run.sweep_workers.end());
  cols.insert(run.main_workers);
  return {cols.begin(), cols.end()};
}

std::string md_escape(std::string s) {
  std::string out;
  for (const char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

std::string gp_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string gp_single_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string gp_number(std::optional<double> v) {
  return v && std::isfinite(*v) ? fmt::format("{:.9g}", *v) : "NaN";
}

void write_text(const fs::path& path, const std::string& text) { lab::write_file_atomically(path, text); }

/// Runs gnuplot on `script` (text) with datadir and a temporary output next to `target`, then
/// renames it into place. Returns the problem, or "" when drawn.
std::string run_gnuplot(const std::string& gnuplot, const fs::path& datadir, const std::string& script_name,
                        const char* script, const fs::path& target) {
  const auto script_path = datadir / script_name;
  write_text(script_path, script);
  std::string tmpl = (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    return "cannot create a temporary file next to " + target.string() + ": " + std::strerror(errno);
  ::close(fd);
  const std::string vars =
      "datadir=" + gp_single_quote(datadir.string()) + "; output=" + gp_single_quote(tmpl);
  std::string problem;
  try {
    const auto result = run_process({gnuplot, "-e", vars, script_path.string()}, std::chrono::seconds{120});
    std::error_code ec;
    if (result.timed_out) {
      problem = "gnuplot took more than 120 s drawing " + target.filename().string();
    } else if (result.exit_code != 0) {
      problem = "gnuplot failed drawing " + target.filename().string() + ": " + last_line(result.err);
    } else if (fs::file_size(tmpl, ec) == 0 || ec) {
      problem = "gnuplot drew an empty " + target.filename().string();
    } else {
      ::chmod(tmpl.c_str(), 0644);
      if (::rename(tmpl.c_str(), target.c_str()) != 0)
        problem = "cannot rename into " + target.string() + ": " + std::strerror(errno);
    }
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty()) ::unlink(tmpl.c_str());
  return problem;
}

/// A main-table cell: the median and the speed-up over serial C++.
std::string main_cell(const Run& run, const WorkloadInfo& w, Cid id, bool ascii) {
  if (w.status != Status::ok) return std::string{status_name(w.status)};
  const Result* r = run.main(w.key, id);
  if (!r) return ascii ? "-" : "–";
  if (!r->measured()) return no_figure(r->status);
  std::string cell = format_seconds(r->median());
  if (id != Cid::serial && id != Cid::serial_into)
    if (auto ratio = ratio_to(run, *r, Cid::serial))
      cell += (ascii ? " " : " · ") + format_ratio(*ratio, ascii);
  return cell;
}

std::string settings_line(const Run& run) {
  const auto& s = run.settings;
  return s.value("mode", std::string{"full"}) + " run: per row " + std::to_string(s.value("repeat", 5)) +
         " timed runs after " + std::to_string(s.value("warmup", 2)) + " to " +
         std::to_string(s.value("warmup_max", 5)) +
         " warm-up runs (until two in a row agree within 10%); main-table rows in two passes, the second in "
         "reverse order; Python " +
         std::to_string(s.value("python_repeat", 5)) + " timed after " +
         std::to_string(s.value("python_warmup", 1)) + " warm-up; medians";
}

/// A row's median, or why it has none.
std::string median_or_status(const Result* r) {
  if (!r) return "–";
  if (!r->measured()) return no_figure(r->status);
  return format_seconds(r->median());
}

/// num's median / den's median, when both were measured.
std::string ratio_cell(const Result* num, const Result* den, bool ascii = false) {
  if (!num || !den || !num->measured() || !den->measured() || den->median() <= 0) return ascii ? "-" : "–";
  return format_ratio3(num->median() / den->median(), ascii);
}

/// Whether any workload has a ProcessPool row.
bool has_process_rows(const Run& run) {
  return std::any_of(run.results.begin(), run.results.end(),
                     [](const Result& r) { return r.contender == Cid::process_pool && r.main; });
}

/// Whether any workload has an MpiPool row that ran (measured, wrong or failed).
bool has_mpi_rows(const Run& run) {
  return std::any_of(run.results.begin(), run.results.end(), [](const Result& r) {
    return mpi_ranks(r.contender) != 0 && r.main && r.status != Status::not_built &&
           r.status != Status::skipped;
  });
}

std::string latency_cell(const Latency& l, double q) { return format_seconds(l.quantile(q)); }

/// The title, when and how the run was made.
void md_title(std::ostream& md, const Run& run) {
  md << "# parlab bench\n\n";
  const auto minutes = static_cast<int>(run.elapsed_s) / 60, seconds = static_cast<int>(run.elapsed_s) % 60;
  const std::string mode = run.settings.value("mode", std::string{});
  md << "Measured " << run.started << " in "
     << (minutes > 0 ? fmt::format("{} min {:02} s", minutes, seconds) : fmt::format("{} s", seconds)) << "; "
     << settings_line(run)
     << ". Every figure is the wall time of one call over all items, from one run of `parlab bench`"
     << (mode == "full" ? "" : " (" + mode + ")") << ".\n\n";
}

void md_machine(std::ostream& md, const Run& run) {
  const auto& m = run.machine;
  md << "## Machine\n\n| | |\n|---|---|\n";
  md << "| CPU | " << md_escape(m.value("cpu_model", std::string{"?"})) << ", " << m.value("cores", 0)
     << " cores, " << m.value("logical_cpus", 0) << " logical CPUs, " << m.value("memory_mib", 0LL) / 1024
     << " GiB |\n";
  md << "| cpu_count() | " << m.value("cpu_count", 0) << " (affinity " << m.value("affinity_cpus", 0)
     << ", cgroup quota "
     << (m["cgroup_cpu_quota"].is_null() ? std::string{"none"} : m["cgroup_cpu_quota"].dump())
     << "): the pool size of the main table |\n";
  md << "| compiler | " << md_escape(m.value("compiler", std::string{})) << ", `"
     << m.value("cxx_flags", std::string{}) << "` (" << m.value("build_type", std::string{}) << ") |\n";
  const auto& rt = m["runtimes"];
  md << "| runtimes | OpenMP " << (rt["openmp"].is_null() ? "not built" : rt["openmp"].get<std::string>())
     << ", oneTBB " << (rt["onetbb"].is_null() ? "not built" : rt["onetbb"].get<std::string>())
     << ", std::execution::par " << (rt["std_execution_par"].is_null() ? "not built" : "on oneTBB") << " |\n";
  if (m.contains("python") && m["python"].is_object()) {
    const auto& py = m["python"];
    md << "| Python | " << py.value("interpreter", std::string{}) << " " << py.value("version", std::string{})
       << ", numpy " << py.value("numpy", std::string{}) << ", mp.cpu_count() " << py.value("cpu_count", 0)
       << ", start method " << py.value("start_method", std::string{}) << " |\n";
  } else {
    md << "| Python | skipped: " << md_escape(m.value("python_skipped", std::string{"?"})) << " |\n";
  }
  md << "| OS | " << m.value("os", std::string{}) << " |\n";
  md << fmt::format("| load average | {:.2f} at the start, {:.2f} at the end |\n\n",
                    m.value("load_average_1m", -1.0), m.value("load_average_1m_end", -1.0));
}

void md_main_table(std::ostream& md, const Run& run) {
  const auto& wls = run.workloads;
  md << "## Main table\n\n";
  md << "Median wall time of one call at cpu_count() = " << run.main_workers
     << " workers, with automatic chunks; after the `·`, the speed-up over serial C++ (its time / this time; "
        "above 1 is faster). Rows down to std::execution::par return a new vector, as `Pool.map` does; the "
        "\"into\" rows write into a vector allocated before the clock starts, and their speed-up is over the "
        "serial loop that does the same (\"serial C++, into\"). Python's rows run the notebook's "
        "functions with `multiprocessing`. Every figure comes from a row whose output was checked against "
        "serial "
        "C++.\n\n";
  md << "| contender |";
  for (const auto& w : wls)
    md << " " << md_escape(step_label(w)) << "<br>" << md_escape(w.size) << " |";
  md << "\n|---|";
  for (std::size_t i = 0; i < wls.size(); ++i)
    md << "---:|";
  md << "\n";
  for (const Cid id : main_order()) {
    md << "| " << title(id) << " |";
    for (const auto& w : wls)
      md << " " << main_cell(run, w, id, false) << " |";
    md << "\n";
  }
  md << "\n";
}

void md_targets(std::ostream& md, const Run& run) {
  md << "## Targets\n\n| target | goal | measured | status | how |\n|---|---|---:|---|---|\n";
  for (const auto& t : run.targets) {
    md << "| " << md_escape(t.description) << " | " << t.goal << " | "
       << (t.measured ? format_ratio3(*t.measured) : std::string{"–"}) << " | "
       << (t.status == "met" ? "met" : "**" + t.status + "**") << " | " << md_escape(t.detail) << " |\n";
  }
  md << "\n";
}

void md_process_pool(std::ostream& md, const Run& run) {
  if (!has_process_rows(run)) return;
  md << "## Worker processes: parlab ProcessPool vs Python's Pool\n\n";
  md << "`ProcessPool.map` and Python's `Pool.map` both send every item to a worker process and its result "
        "back (ProcessPool: cereal over a Unix socket per worker; Python: pickle over pipes), in chunks of "
        "ceil(items / (4 × workers)), with the pool started before the clock. parlab `Pool.map` runs the "
        "same function on threads, with nothing to send: \"× threads\" is what the processes cost. Medians "
        "at cpu_count() = "
     << run.main_workers << " workers.\n\n";
  md << "| workload | parlab ProcessPool | Python Pool.map | × Python Pool.map | parlab Pool.map (threads) "
        "| "
        "× threads | × serial C++ |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& w : run.workloads) {
    if (w.status != Status::ok) continue;
    const Result* proc = run.main(w.key, Cid::process_pool);
    if (!proc) continue;
    const Result* py = run.main(w.key, Cid::python_pool);
    const Result* threads = run.main(w.key, Cid::parlab);
    md << "| " << md_escape(step_label(w)) << " (" << md_escape(w.size) << ") | " << median_or_status(proc)
       << " | " << median_or_status(py) << " | " << ratio_cell(py, proc) << " | " << median_or_status(threads)
       << " | " << ratio_cell(threads, proc) << " | " << ratio_cell(run.main(w.key, Cid::serial), proc)
       << " |\n";
  }
  md << "\n";
}

void md_mpi(std::ostream& md, const Run& run) {
  if (!has_mpi_rows(run)) return;
  md << "## MPI ranks: parlab MpiPool vs ProcessPool and Pool\n\n";
  md << "`MpiPool.map` in a child job, `mpirun -np N parlab bench --mpi-child` (Open MPI, shared memory "
        "and TCP on this one machine): rank 0 builds the input, hands chunks of ceil(items / (4 × "
        "workers)) to the N - 1 worker ranks (cereal, as ProcessPool) and checks the output against "
        "serial C++; the job's start is not timed. -np 3 is rank 0 plus 2 workers: on a machine of "
        "fewer than 3 cores the ranks share cores. ProcessPool and Pool at cpu_count() = "
     << run.main_workers
     << " workers; × is that row's time / MpiPool -np 3's (above 1: MpiPool is faster).\n\n";
  md << "| workload | MpiPool -np 2 (1 worker) | MpiPool -np 3 (2 workers) | parlab ProcessPool | parlab "
        "Pool.map (threads) | -np 3 × ProcessPool | -np 3 × threads | -np 3 × serial C++ |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& w : run.workloads) {
    if (w.status != Status::ok) continue;
    const Result* np2 = run.main(w.key, Cid::mpi_pool_np2);
    const Result* np3 = run.main(w.key, Cid::mpi_pool_np3);
    if (!np2 && !np3) continue;
    const Result* proc = run.main(w.key, Cid::process_pool);
    const Result* threads = run.main(w.key, Cid::parlab);
    md << "| " << md_escape(step_label(w)) << " (" << md_escape(w.size) << ") | " << median_or_status(np2)
       << " | " << median_or_status(np3) << " | " << median_or_status(proc) << " | "
       << median_or_status(threads) << " | " << ratio_cell(proc, np3) << " | " << ratio_cell(threads, np3)
       << " | " << ratio_cell(run.main(w.key, Cid::serial), np3) << " |\n";
  }
  md << "\n";
}

void md_latency(std::ostream& md, const Run& run) {
  if (run.latency.empty()) return;
  const Latency* py = run.latency_of(Cid::python_pool);
  md << "## Round-trip latency\n\n";
  md << "`apply_async(f, x).get()` with f(x) = x + 1, one call at a time on a pool of cpu_count() = "
     << run.main_workers << " workers: " << run.settings.value("latency_warmup_calls", Json(0)).dump()
     << " untimed calls, then each call timed on its own (parlab's in this process, Python's in "
        "bench/python/workloads.py). Every call's value was checked.\n\n";
  md << "| pool | workers | median | p10 | p90 | max | mean | calls | × Python Pool |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& l : run.latency) {
    md << "| " << latency_title(l.contender) << " | " << l.workers << " | ";
    if (!l.measured()) {
      md << "– | – | – | – | – | – | " << no_figure(l.status)
         << (l.note.empty() ? "" : ": " + md_escape(l.note)) << " |\n";
      continue;
    }
    md << latency_cell(l, 0.5) << " | " << latency_cell(l, 0.1) << " | " << latency_cell(l, 0.9) << " | "
       << latency_cell(l, 1.0) << " | " << format_seconds(l.mean()) << " | " << l.samples_s.size() << " | "
       << (py && py->measured() ? format_ratio3(py->quantile(0.5) / l.quantile(0.5)) : std::string{"–"})
       << " |\n";
  }
  md << "\n";
}

/// One workload's main-table rows in full: min, max, every speed-up, whether it was checked.
void md_workload(std::ostream& md, const Run& run, const WorkloadInfo& w) {
  md << "### " << md_escape(w.title) << " — " << md_escape(w.size) << "\n\n"
     << md_escape(w.description) << ".\n\n";
  if (w.status != Status::ok) {
    md << "Not measured: " << status_name(w.status) << " (" << md_escape(w.reason) << ").\n\n";
    return;
  }
  md << "| contender | workers | median | min | max | × serial C++ | × Python Pool.map | × Python serial | "
        "check |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const Cid id : main_order()) {
    const Result* r = run.main(w.key, id);
    if (!r) continue;
    md << "| " << title(id) << " | " << r->workers << " | ";
    if (r->measured()) {
      auto ratio = [&](Cid ref) {
        auto v = ratio_to(run, *r, ref);
        return v ? format_ratio(*v) : std::string{"–"};
      };
      md << format_seconds(r->median()) << " | " << format_seconds(r->min()) << " | "
         << format_seconds(r->max()) << " | " << ratio(Cid::serial) << " | " << ratio(Cid::python_pool)
         << " | " << ratio(Cid::python_serial) << " | " << (r->verified ? "checked" : "not checked")
         << " |\n";
    } else {
      md << "– | – | – | – | – | – | " << no_figure(r->status)
         << (r->note.empty() ? "" : ": " + md_escape(r->note)) << " |\n";
    }
  }
  md << "\n";
}

void md_per_workload(std::ostream& md, const Run& run) {
  md << "## Per workload\n\n";
  md << "× serial C++ and × Python: that row's median time / this row's (above 1: this row is faster; "
        "\"into\" rows against \"serial C++, into\"). "
        "\"checked\": every run's output (warm-up included) was compared with serial C++ (Problem 2: each "
        "task "
        "ran at least its duration).\n\n";
  for (const auto& w : run.workloads)
    md_workload(md, run, w);
}

/// A workers-sweep row of contender `id` on `w`, or "" when it has no row at any pool size.
std::string sweep_row(const Run& run, const WorkloadInfo& w, Cid id, const std::vector<std::size_t>& cols) {
  bool any = false;
  std::string line = "| " + title(id) + " |";
  for (const auto c : cols) {
    const Result* r = run.find(w.key, id, c);
    if (!r) {
      line += " – |";
      continue;
    }
    any = true;
    line.append(" ");
    if (!r->measured()) {
      line.append(no_figure(r->status)).append(" |");
      continue;
    }
    line.append(format_seconds(r->median()));
    if (auto ratio = ratio_to(run, *r, Cid::serial)) line.append(" · ").append(format_ratio(*ratio));
    line.append(" |");
  }
  return any ? line : std::string{};
}

void md_workers_sweep(std::ostream& md, const Run& run) {
  md << "## Workers sweep\n\n";
  md << "Median time and speed-up over serial C++ (parlab map_into: over serial C++, into) against the pool "
        "size (threads; processes for ProcessPool), automatic chunks; drawn in speedup.png. This machine has "
     << run.machine.value("cores", 0) << " cores.\n\n";
  const auto cols = worker_columns(run);
  for (const auto& w : run.workloads) {
    if (w.status != Status::ok) continue;
    md << "**" << md_escape(w.title) << "** (" << md_escape(w.size) << ")\n\n| contender |";
    for (const auto c : cols)
      md << " " << c << (c == 1 ? " worker" : " workers") << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < cols.size(); ++i)
      md << "---:|";
    md << "\n";
    for (const Cid id : sweep_order())
      if (const auto line = sweep_row(run, w, id, cols); !line.empty()) md << line << "\n";
    md << "\n";
  }
}

/// The chunksize sweep's rows of `w`, smallest chunks first, then the automatic one.
std::vector<const Result*> chunksize_rows(const Run& run, const WorkloadInfo& w) {
  std::vector<const Result*> rows;
  for (const auto& r : run.results)
    if (r.workload == w.key && r.contender == Cid::parlab && r.workers == run.main_workers && r.chunksize &&
        !r.chunksize_auto)
      rows.push_back(&r);
  if (rows.empty()) return rows;
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return *a->chunksize < *b->chunksize; });
  if (const Result* automatic = run.main(w.key, Cid::parlab)) rows.push_back(automatic);
  return rows;
}

void md_chunksize_sweep(std::ostream& md, const Run& run) {
  md << "## Chunksize sweep\n\n";
  md << "parlab Pool.map at cpu_count() = " << run.main_workers
     << " workers: items a worker claims at once, from 1 to the automatic choice (Python's rule, "
        "ceil(items / (4 × workers))).\n\n";
  for (const auto& w : run.workloads) {
    if (w.status != Status::ok) continue;
    const auto rows = chunksize_rows(run, w);
    if (rows.empty()) continue;
    const Result* automatic = run.main(w.key, Cid::parlab);
    md << "**" << md_escape(w.title) << "** (" << md_escape(w.size) << ")\n\n"
       << "| chunksize | chunks | median | min | max | × automatic | × serial C++ "
          "|\n|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Result* r : rows) {
      const std::string chunk = r->chunksize_auto ? "automatic" : std::to_string(*r->chunksize);
      const std::string chunks =
          r->chunksize_auto ? "–" : std::to_string((w.items + *r->chunksize - 1) / *r->chunksize);
      if (!r->measured()) {
        md << "| " << chunk << " | " << chunks << " | – | – | – | – | " << no_figure(r->status) << " |\n";
        continue;
      }
      const std::string vs_auto = automatic && automatic->measured()
                                      ? format_ratio(automatic->median() / r->median())
                                      : std::string{"–"};
      auto vs_serial = ratio_to(run, *r, Cid::serial);
      md << "| " << chunk << " | " << chunks << " | " << format_seconds(r->median()) << " | "
         << format_seconds(r->min()) << " | " << format_seconds(r->max()) << " | " << vs_auto << " | "
         << (vs_serial ? format_ratio(*vs_serial) : std::string{"–"}) << " |\n";
    }
    md << "\n";
  }
}

/// What was not measured and why, the run's notes, and where the rest is.
void md_not_measured(std::ostream& md, const Run& run) {
  md << "## Not measured\n\n";
  bool none = true;
  for (const auto& c : run.contenders) {
    if (c.status == Status::ok) continue;
    none = false;
    md << "- " << title(c.id) << ": " << status_name(c.status) << " — " << md_escape(c.reason) << "\n";
  }
  for (const auto& w : run.workloads) {
    if (w.status == Status::ok) continue;
    none = false;
    md << "- workload " << md_escape(w.title) << ": " << status_name(w.status) << " — " << md_escape(w.reason)
       << "\n";
  }
  if (none) md << "Everything was measured.\n";
  if (!run.notes.empty()) {
    md << "\n## Notes\n\n";
    for (const auto& n : run.notes)
      md << "- " << md_escape(n) << "\n";
  }
  md << "\nThe raw samples are in bench.json (schema " << schema_version
     << ", documented in docs/performance.md); the plots are speedup.png and python-vs-cpp.png.\n";
}

/// A ratio: no decimal from 100, one from 10, two from `two_decimals_from`, below that three
/// significant digits; then "×" (`ascii`: "x").
std::string ratio_text(double r, bool ascii, double two_decimals_from) {
  const char* x = ascii ? "x" : "×";
  if (r >= 100) return fmt::format("{:.0f}{}", r, x);
  if (r >= 10) return fmt::format("{:.1f}{}", r, x);
  if (r >= two_decimals_from) return fmt::format("{:.2f}{}", r, x);
  return fmt::format("{:.3g}{}", r, x);
}

}  // namespace

std::string format_seconds(double s) {
  auto three = [](double v, const char* unit) {
    if (v < 10) return fmt::format("{:.2f} {}", v, unit);
    if (v < 100) return fmt::format("{:.1f} {}", v, unit);
    return fmt::format("{:.0f} {}", v, unit);
  };
  if (s < 1e-3) return three(s * 1e6, "µs");
  if (s < 1) return three(s * 1e3, "ms");
  return three(s, "s");
}

std::string format_ratio(double r, bool ascii) { return ratio_text(r, ascii, 0.1); }

std::string format_ratio3(double r, bool ascii) { return ratio_text(r, ascii, 1); }

std::string no_figure(Status status) {
  if (status == Status::wrong) return "WRONG";
  return std::string{status_name(status)};
}

std::string machine_line(const Json& m) {
  return fmt::format("{}, {} cores ({} logical CPUs), cpu_count() = {}",
                     m.value("cpu_model", std::string{"?"}), m.value("cores", 0), m.value("logical_cpus", 0),
                     m.value("cpu_count", 0));
}

std::string latency_title(Cid id) {
  switch (id) {
    case Cid::parlab:
      return "parlab Pool";
    case Cid::python_pool:
      return "Python Pool";
    default:
      return title(id);
  }
}

std::optional<double> ratio_to(const Run& run, const Result& r, Cid reference) {
  if (!r.measured()) return std::nullopt;
  // Like with like: a row writing into a preallocated vector against the serial loop that does too.
  if (reference == Cid::serial && spec(r.contender).into) reference = Cid::serial_into;
  const Result* ref = run.main(r.workload, reference);
  if (!ref || !ref->measured() || r.median() <= 0) return std::nullopt;
  return ref->median() / r.median();
}

void evaluate_targets(Run& run) {
  run.targets.clear();
  auto add = [&](std::string key, std::string description, std::string goal, const Result* num,
                 const Result* den, bool higher_is_better, double bound, const std::string& how) {
    Target t{std::move(key), std::move(description), std::move(goal), std::nullopt, "not measured", {}};
    const Result* missing = !num || !num->measured() ? num : (!den || !den->measured() ? den : nullptr);
    if (!num || !den) {
      t.detail = "a row it needs was not run";
    } else if (missing) {
      t.detail = title(missing->contender) + " " + no_figure(missing->status) +
                 (missing->note.empty() ? "" : ": " + missing->note);
    } else {
      t.measured = num->median() / den->median();
      const bool met = higher_is_better ? *t.measured >= bound : *t.measured <= bound;
      t.status = met ? "met" : "MISSED";
      t.detail = how + ": " + format_seconds(num->median()) + " / " + format_seconds(den->median());
    }
    run.targets.push_back(std::move(t));
  };
  for (const std::string wl : {"example", "prob3_xxl"}) {
    const bool has =
        std::any_of(run.workloads.begin(), run.workloads.end(), [&](auto& w) { return w.key == wl; });
    if (!has) continue;
    const std::string name = wl == "example" ? "Example" : "Problem 3 XXL";
    const Result* parlab = run.main(wl, Cid::parlab);
    add(wl + "_vs_python", name + ": parlab Pool.map vs the Python notebook's Pool.map", ">= 100×",
        run.main(wl, Cid::python_pool), parlab, true, 100.0, "Python Pool.map time / parlab Pool.map time");
    add(wl + "_vs_serial", name + ": parlab Pool.map vs serial C++", ">= 1.6×", run.main(wl, Cid::serial),
        parlab, true, 1.6, "serial C++ time / parlab Pool.map time");
    const Result* best = best_of_openmp_tbb(run, wl);
    add(wl + "_vs_best_openmp_tbb", name + ": parlab Pool.map within 10% of the best of OpenMP and oneTBB",
        "<= 1.10× its time", parlab, best ? best : run.main(wl, Cid::openmp), false, 1.10,
        "parlab Pool.map time / " + (best ? title(best->contender) : std::string{"OpenMP"}) + " time");
  }
  // Worker processes against worker processes: parlab's ProcessPool and Python's Pool both
  // send every item to another process and its result back.
  for (const std::string wl : {"example", "prob3_xxl"}) {
    const bool has =
        std::any_of(run.workloads.begin(), run.workloads.end(), [&](auto& w) { return w.key == wl; });
    if (!has) continue;
    const std::string name = wl == "example" ? "Example" : "Problem 3 XXL";
    add(wl + "_process_pool_vs_python",
        name + ": parlab ProcessPool.map vs Python's multiprocessing.Pool.map", ">= 10×",
        run.main(wl, Cid::python_pool), run.main(wl, Cid::process_pool), true, 10.0,
        "Python Pool.map time / parlab ProcessPool time");
  }
  const bool trivial =
      std::any_of(run.workloads.begin(), run.workloads.end(), [](auto& w) { return w.key == "trivial"; });
  if (trivial) {
    add("trivial_vs_openmp", "Trivial task: parlab Pool.map throughput vs OpenMP (both return a new vector)",
        ">= 0.9×", run.main("trivial", Cid::openmp), run.main("trivial", Cid::parlab), true, 0.9,
        "OpenMP time / parlab Pool.map time");
    const Result* into = run.main("trivial", Cid::parlab_map_into);
    if (into || run.contender(Cid::parlab_map_into).status == Status::ok)
      add("trivial_map_into_vs_openmp_into",
          "Trivial task: parlab map_into throughput vs OpenMP (both into a preallocated vector)", ">= 0.9×",
          run.main("trivial", Cid::openmp_into), into, true, 0.9,
          "OpenMP (into) time / parlab map_into time");
  }
}

Json to_json(const Run& run) {
  Json j = Json::object();
  j["schema"] = schema_version;
  j["started"] = run.started;
  j["elapsed_s"] = run.elapsed_s;
  j["settings"] = run.settings;
  j["machine"] = run.machine;
  Json workloads = Json::array();
  for (const auto& w : run.workloads) {
    workloads.push_back({{"key", w.key},
                         {"title", w.title},
                         {"size", w.size},
                         {"description", w.description},
                         {"items", w.items},
                         {"status", status_name(w.status)},
                         {"reason", w.reason}});
  }
  j["workloads"] = std::move(workloads);
  Json contenders = Json::array();
  for (const auto& c : run.contenders) {
    const auto& s = spec(c.id);
    contenders.push_back({{"key", s.key},
                          {"title", s.title},
                          {"description", s.description},
                          {"parallel", s.parallel},
                          {"into", s.into},
                          {"status", status_name(c.status)},
                          {"reason", c.reason}});
  }
  j["contenders"] = std::move(contenders);
  Json results = Json::array();
  for (const auto& r : run.results) {
    const bool m = r.measured();
    Json row = Json::object();
    row["workload"] = r.workload;
    row["contender"] = spec(r.contender).key;
    row["workers"] = r.workers;
    row["chunksize"] = r.chunksize ? Json(*r.chunksize) : Json(nullptr);
    row["chunksize_auto"] = r.chunksize_auto;
    row["main"] = r.main;
    row["status"] = status_name(r.status);
    row["verified"] = r.verified;
    row["note"] = r.note;
    row["warmup_s"] = r.warmup_s;
    row["samples_s"] = r.samples_s;
    row["median_s"] = m ? Json(r.median()) : Json(nullptr);
    row["min_s"] = m ? Json(r.min()) : Json(nullptr);
    row["max_s"] = m ? Json(r.max()) : Json(nullptr);
    row["vs_serial"] = number_or_null(ratio_to(run, r, Cid::serial));
    row["vs_python"] = number_or_null(ratio_to(run, r, Cid::python_pool));
    row["vs_python_serial"] = number_or_null(ratio_to(run, r, Cid::python_serial));
    row["vs_parlab"] = number_or_null(ratio_to(run, r, Cid::parlab));
    results.push_back(std::move(row));
  }
  j["results"] = std::move(results);
  Json latency = Json::array();
  const Latency* py_latency = run.latency_of(Cid::python_pool);
  for (const auto& l : run.latency) {
    const bool m = l.measured();
    auto us = [&](double seconds) { return m ? Json(seconds * 1e6) : Json(nullptr); };
    Json row = Json::object();
    row["contender"] = spec(l.contender).key;
    row["call"] = "apply_async(f, x).get()";
    row["workers"] = l.workers;
    row["warmup_calls"] = l.warmup_calls;
    row["calls"] = l.samples_s.size();
    row["status"] = status_name(l.status);
    row["verified"] = l.verified;
    row["note"] = l.note;
    row["median_us"] = us(l.quantile(0.5));
    row["p10_us"] = us(l.quantile(0.1));
    row["p90_us"] = us(l.quantile(0.9));
    row["min_us"] = us(l.quantile(0.0));
    row["max_us"] = us(l.quantile(1.0));
    row["mean_us"] = us(l.mean());
    row["vs_python"] = m && py_latency && py_latency->measured()
                           ? Json(py_latency->quantile(0.5) / l.quantile(0.5))
                           : Json(nullptr);
    latency.push_back(std::move(row));
  }
  j["latency"] = std::move(latency);
  Json targets = Json::array();
  for (const auto& t : run.targets) {
    targets.push_back({{"key", t.key},
                       {"description", t.description},
                       {"goal", t.goal},
                       {"measured", number_or_null(t.measured)},
                       {"status", t.status},
                       {"detail", t.detail}});
  }
  j["targets"] = std::move(targets);
  j["notes"] = run.notes;
  return j;
}

std::string to_markdown(const Run& run) {
  std::ostringstream md;
  md_title(md, run);
  md_machine(md, run);
  md_main_table(md, run);
  md_targets(md, run);
  md_process_pool(md, run);
  md_mpi(md, run);
  md_latency(md, run);
  md_per_workload(md, run);
  md_workers_sweep(md, run);
  md_chunksize_sweep(md, run);
  md_not_measured(md, run);
  return md.str();
}

std::vector<std::string> terminal_summary(const Run& run) {
  std::vector<std::string> lines;
  std::vector<const WorkloadInfo*> wls;
  for (const auto& w : run.workloads)
    if (w.status == Status::ok) wls.push_back(&w);
  constexpr std::size_t name_w = 26, col_w = 20;
  std::string head = pad("median (x serial C++)", name_w);
  for (const auto* w : wls) {
    std::string label = step_label(*w);
    if (label.size() > col_w - 1) label.resize(col_w - 1);
    head += pad(label, col_w, Align::right);
  }
  lines.push_back(fmt::format("Main table: median of one call, cpu_count() = {} workers", run.main_workers));
  lines.push_back(head);
  for (const Cid id : main_order()) {
    std::string line = pad(title(id), name_w);
    bool any = false;
    for (const auto* w : wls) {
      any = any || run.main(w->key, id) != nullptr;
      line += pad(main_cell(run, *w, id, true), col_w, Align::right);
    }
    if (any) lines.push_back(line);
  }
  for (const auto& w : run.workloads)
    if (w.status != Status::ok)
      lines.push_back("(" + w.title + ": " + std::string{status_name(w.status)} + " - " + w.reason + ")");
  for (const auto& c : run.contenders)
    if (c.status != Status::ok)
      lines.push_back("(" + title(c.id) + ": " + std::string{status_name(c.status)} + " - " + c.reason + ")");
  if (has_process_rows(run)) {
    lines.emplace_back();
    lines.push_back(
        "ProcessPool (worker processes) vs Python's Pool.map and parlab Pool.map (threads), medians:");
    for (const auto* w : wls) {
      const Result* proc = run.main(w->key, Cid::process_pool);
      if (!proc) continue;
      const Result* py = run.main(w->key, Cid::python_pool);
      lines.push_back(fmt::format("  {:<18} ProcessPool {} Python Pool.map {} {:>9} faster; vs threads {}",
                                  step_label(*w), pad(median_or_status(proc), 10),
                                  pad(median_or_status(py), 10), ratio_cell(py, proc, true),
                                  ratio_cell(run.main(w->key, Cid::parlab), proc, true)));
    }
  }
  if (has_mpi_rows(run)) {
    lines.emplace_back();
    lines.push_back(
        "MpiPool (mpirun -np 2 / -np 3, 1 / 2 worker ranks) vs ProcessPool and Pool (threads), medians:");
    for (const auto* w : wls) {
      const Result* np2 = run.main(w->key, Cid::mpi_pool_np2);
      const Result* np3 = run.main(w->key, Cid::mpi_pool_np3);
      if (!np2 && !np3) continue;
      const Result* proc = run.main(w->key, Cid::process_pool);
      lines.push_back(fmt::format(
          "  {:<18} -np 2 {} -np 3 {} ProcessPool {} -np 3 vs ProcessPool {}, vs threads {}", step_label(*w),
          pad(median_or_status(np2), 10), pad(median_or_status(np3), 10), pad(median_or_status(proc), 10),
          ratio_cell(proc, np3, true), ratio_cell(run.main(w->key, Cid::parlab), np3, true)));
    }
  }
  if (!run.latency.empty()) {
    lines.emplace_back();
    std::string line = "Round trip apply_async(f, x).get(), median:";
    for (const auto& l : run.latency) {
      line += " " + latency_title(l.contender) + " " +
              (l.measured() ? format_seconds(l.quantile(0.5)) : std::string{status_name(l.status)}) + ";";
    }
    line.pop_back();
    lines.push_back(line);
  }
  lines.emplace_back();
  lines.push_back("Targets:");
  for (const auto& t : run.targets) {
    const std::string measured = t.measured ? format_ratio3(*t.measured, true) : "-";
    std::string goal;
    const std::string_view times = "×";
    for (std::size_t i = 0; i < t.goal.size(); ++i) {
      if (std::string_view{t.goal}.substr(i, times.size()) == times) {
        goal.push_back('x');
        i += times.size() - 1;
      } else {
        goal.push_back(t.goal[i]);
      }
    }
    lines.push_back(
        fmt::format("  {:<13} {:>9}  goal {} {}", t.status, measured, pad(goal, 18), t.description));
  }
  return lines;
}

std::vector<std::string> draw_plots(const Run& run, const fs::path& out_dir) {
  std::vector<std::string> problems;
  const auto gnuplot = find_executable("gnuplot");
  if (!gnuplot) {
    problems.emplace_back(
        "gnuplot not found on PATH: speedup.png and python-vs-cpp.png not drawn (apt-get install "
        "gnuplot-nox)");
    return problems;
  }
  std::string tmpl = (fs::temp_directory_path() / "parlab-bench-plot-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    problems.push_back(std::string{"cannot create a temporary folder for the plot data: "} +
                       std::strerror(errno));
    return problems;
  }
  const fs::path dir = tmpl;
  struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } remove{dir};

  std::vector<const WorkloadInfo*> wls;
  for (const auto& w : run.workloads)
    if (w.status == Status::ok) wls.push_back(&w);
  const auto& m = run.machine;

  try {
    // speedup.png
    std::vector<Cid> series;
    for (const Cid id : sweep_order())
      if (run.contender(id).status == Status::ok) series.push_back(id);
    const auto cols = worker_columns(run);
    std::ostringstream params;
    params << "npanels = " << wls.size() << "\n";
    params << "array ids[" << wls.size() << "]\narray titles[" << wls.size() << "]\narray ymaxs["
           << wls.size() << "]\n";
    const double cores = m.value("cores", 1);
    for (std::size_t k = 0; k < wls.size(); ++k) {
      params << "ids[" << k + 1 << "] = " << gp_quote(wls[k]->key) << "\n";
      params << "titles[" << k + 1 << "] = " << gp_quote(wls[k]->title + " (" + wls[k]->size + ")") << "\n";
      std::ostringstream dat;
      dat << gp_quote("workers");
      for (const Cid id : series)
        dat << " " << gp_quote(title(id));
      dat << "\n";
      double top = 0;
      for (const auto c : cols) {
        dat << c;
        for (const Cid id : series) {
          const Result* r = run.find(wls[k]->key, id, c);
          const auto speedup = r ? ratio_to(run, *r, Cid::serial) : std::nullopt;
          if (speedup) top = std::max(top, *speedup);
          dat << " " << gp_number(speedup);
        }
        dat << "\n";
      }
      params << "ymaxs[" << k + 1
             << "] = " << fmt::format("{:.4g}", std::max({1.5, top * 1.15, cores * 1.15 + 0.3})) << "\n";
      write_text(dir / ("speedup_" + wls[k]->key + ".dat"), dat.str());
    }
    params << "cores = " << m.value("cores", 1) << "\ncpus = " << m.value("cpu_count", 1) << "\n";
    params << "maxw = " << (cols.empty() ? 1 : cols.back()) << "\nncols = " << series.size() + 1 << "\n";
    params << "heading = "
           << gp_quote("parlab bench: speed-up over serial C++ by workers (median of " +
                       std::to_string(run.settings.value("repeat", 0)) + ") — " + machine_line(m))
           << "\n";
    write_text(dir / "params.gp", params.str());
    if (!wls.empty() && !series.empty()) {
      if (auto p = run_gnuplot(*gnuplot, dir, "speedup.gp", parlab_bench_speedup_gp, out_dir / "speedup.png");
          !p.empty())
        problems.push_back(p);
    }

    // python-vs-cpp.png
    struct Bar {
      std::string title;
      std::string color;
      std::function<const Result*(const std::string&)> row;
    };
    std::vector<Bar> bars{
        {"Python serial", "#7f7f7f", [&](const std::string& wl) { return run.main(wl, Cid::python_serial); }},
        {"Python Pool.map", "#ff7f0e", [&](const std::string& wl) { return run.main(wl, Cid::python_pool); }},
        {"serial C++", "#1f77b4", [&](const std::string& wl) { return run.main(wl, Cid::serial); }},
        {"parlab Pool.map", "#d62728", [&](const std::string& wl) { return run.main(wl, Cid::parlab); }},
        {"parlab ProcessPool", "#9467bd",
         [&](const std::string& wl) { return run.main(wl, Cid::process_pool); }},
        {"parlab MpiPool -np 3", "#8c564b",
         [&](const std::string& wl) { return run.main(wl, Cid::mpi_pool_np3); }},
        {"best of OpenMP, oneTBB", "#2ca02c",
         [&](const std::string& wl) { return best_of_openmp_tbb(run, wl); }},
    };
    // A series with no figure at all (Python skipped) is left out: gnuplot refuses an empty one.
    std::erase_if(bars, [&](const Bar& b) {
      return std::none_of(wls.begin(), wls.end(), [&](const WorkloadInfo* w) {
        const Result* r = b.row(w->key);
        return r && r->measured();
      });
    });
    std::ostringstream dat;
    dat << gp_quote("step");
    for (const auto& b : bars)
      dat << " " << gp_quote(b.title);
    dat << "\n";
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (const auto* w : wls) {
      dat << gp_quote(step_label(*w));
      for (const auto& b : bars) {
        const Result* r = b.row(w->key);
        std::optional<double> t;
        if (r && r->measured()) {
          t = r->median();
          lo = std::min(lo, *t);
          hi = std::max(hi, *t);
        }
        dat << " " << gp_number(t);
      }
      dat << "\n";
    }
    write_text(dir / "pyvscpp.dat", dat.str());
    std::string heading =
        "The lab's steps: the Python notebook vs C++, cpu_count() = " + std::to_string(run.main_workers) +
        " workers (median, log scale)";
    std::string ratios;
    for (const auto* w : wls) {
      const Result* p = run.main(w->key, Cid::parlab);
      if (!p) continue;
      if (auto r = ratio_to(run, *p, Cid::python_pool))
        ratios += (ratios.empty() ? "" : ", ") + step_label(*w) + " " + format_ratio(*r);
    }
    std::string proc_ratios;
    for (const auto* w : wls) {
      const Result* p = run.main(w->key, Cid::process_pool);
      if (!p) continue;
      if (auto r = ratio_to(run, *p, Cid::python_pool))
        proc_ratios += (proc_ratios.empty() ? "" : ", ") + step_label(*w) + " " + format_ratio(*r);
    }
    std::vector<std::string> more;  // heading lines under the first
    if (!ratios.empty()) more.push_back("parlab Pool.map (threads) vs Python's Pool.map: " + ratios);
    if (!proc_ratios.empty())
      more.push_back("parlab ProcessPool (processes) vs Python's Pool.map: " + proc_ratios);
    if (more.empty() && run.contender(Cid::python_pool).status != Status::ok)
      more.push_back("Python not measured: " + run.contender(Cid::python_pool).reason);
    std::ostringstream p2;
    p2 << "nseries = " << bars.size() << "\narray colors[" << std::max<std::size_t>(1, bars.size()) << "]\n";
    for (std::size_t i = 0; i < bars.size(); ++i)
      p2 << "colors[" << i + 1 << "] = " << gp_quote(bars[i].color) << "\n";
    if (hi <= 0) lo = hi = 1;
    p2 << "ymin = " << fmt::format("{:.9g}", std::pow(10.0, std::floor(std::log10(lo)))) << "\n";
    p2 << "ymax = " << fmt::format("{:.9g}", std::pow(10.0, std::ceil(std::log10(hi * 12))))
       << "\n";  // room for the labels
    p2 << "heading = " << gp_quote(heading);
    for (const auto& l : more)
      p2 << " . \"\\n\" . " << gp_quote(l);  // gnuplot: "\n" is a line break
    p2 << "\n";
    write_text(dir / "params.gp", p2.str());
    if (!wls.empty() && !bars.empty()) {
      if (auto p = run_gnuplot(*gnuplot, dir, "python-vs-cpp.gp", parlab_bench_python_vs_cpp_gp,
                               out_dir / "python-vs-cpp.png");
          !p.empty())
        problems.push_back(p);
    }
  } catch (const std::exception& e) {
    problems.push_back(std::string{"plots not drawn: "} + e.what());
  }
  return problems;
}

}  // namespace parlab::bench
