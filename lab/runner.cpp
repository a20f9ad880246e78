#include "lab/runner.hpp"

#include "lab/numpy_random.hpp"
#include "lab/py_json.hpp"
#include "lab/pyrepr.hpp"
#include "lab/system.hpp"

#include <parlab/pool.hpp>
#include <parlab/process_pool.hpp>
#ifdef PARLAB_HAS_MPI
#include <parlab/mpi_pool.hpp>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <numeric>
#include <tuple>
#include <utility>

namespace parlab::lab {
namespace {

using Row = std::vector<int64_t>;
using Clock = std::chrono::steady_clock;

constexpr std::size_t max_workers = 1024;

/// Seconds taken by f(), with f's result.
template <class F>
auto timed(F&& f) {
  const auto start = Clock::now();
  auto result = f();
  return std::pair{std::chrono::duration<double>(Clock::now() - start).count(), std::move(result)};
}

/// A MapOptions whose progress hook feeds the console's progress line.
MapOptions with_progress(Console& console) {
  return {.progress = [&console](std::size_t done, std::size_t) { console.update_progress(done); }};
}

/// Runs f with a progress line labelled `label` for `total` items.
template <class F>
auto with_progress_line(Console& console, std::string label, std::size_t total, F&& f) {
  console.start_progress(std::move(label), total);
  struct End {
    Console& c;
    ~End() { c.end_progress(); }
  } end{console};
  return f();
}

template <class P>
nlohmann::json run_example(P& pool, Console& console) {
  console.line("== Example: howmany_within_range(row, 4, 8) over 1,000,000 rows x 5, seed 100 ==");
  RandomState rng{100};
  const auto t_start = Clock::now();
  const auto data = rng.randint_rows(0, 10, 1'000'000, 5);
  const double t_data = std::chrono::duration<double>(Clock::now() - t_start).count();
  console.line(fmt::format("  data: {} rows generated in {:.3f} s", data.size(), t_data));

  auto [t_serial, serial] = timed([&] {
    std::vector<int> out;
    out.reserve(data.size());
    for (const auto& row : data)
      out.push_back(howmany_within_range(row, 4, 8));
    return out;
  });
  auto [t_map, mapped] = with_progress_line(console, "Pool.map", data.size(), [&] {
    return timed([&] { return pool.map(howmany_within_range_rowonly, data, with_progress(console)); });
  });
  auto [t_star, starred] = with_progress_line(console, "Pool.starmap", data.size(), [&] {
    return timed([&] {
      std::vector<std::tuple<const Row&, int64_t, int64_t>> args;
      args.reserve(data.size());
      for (const auto& row : data)
        args.emplace_back(row, 4, 8);
      return pool.starmap(howmany_within_range, args, with_progress(console));
    });
  });
  auto [t_async, async_counts] = with_progress_line(console, "Pool.starmap_async", data.size(), [&] {
    return timed([&] {
      std::vector<std::tuple<std::size_t, const Row&, int64_t, int64_t>> args;
      args.reserve(data.size());
      for (std::size_t i = 0; i < data.size(); ++i)
        args.emplace_back(i, data[i], 4, 8);
      auto indexed = [](std::size_t i, const Row& row, int64_t lo, int64_t hi) {
        return std::pair{i, howmany_within_range(row, lo, hi)};
      };
      auto pairs = pool.starmap_async(indexed, std::move(args), with_progress(console)).get();
      std::sort(pairs.begin(), pairs.end());  // the notebook re-sorts by index
      std::vector<int> out;
      out.reserve(pairs.size());
      for (const auto& p : pairs)
        out.push_back(p.second);
      return out;
    });
  });

  console.line(fmt::format("  serial loop           {:8.3f} s", t_serial));
  console.line(fmt::format("  Pool.map              {:8.3f} s  ({:.2f}x serial)", t_map, t_serial / t_map));
  console.line(fmt::format("  Pool.starmap          {:8.3f} s  ({:.2f}x serial)", t_star, t_serial / t_star));
  console.line(
      fmt::format("  Pool.starmap_async    {:8.3f} s  ({:.2f}x serial)", t_async, t_serial / t_async));
  std::vector<int> first(serial.begin(), serial.begin() + 10);
  console.line("  first 10 counts: " + py_str(first));
  if (serial.size() != 1'000'000 || mapped != serial || starred != serial || async_counts != serial)
    throw std::runtime_error("example: the four methods disagree — this is a bug in parlab");
  console.line("  all four agree on 1,000,000 counts");
  return {{"rows", data.size()}, {"serial", t_serial},       {"map", t_map},
          {"starmap", t_star},   {"starmap_async", t_async}, {"first10", first}};
}

template <class P>
std::string run_prob1(P& pool, Console& console) {
  console.line("== Problem 1: common items per row, Pool.starmap ==");
  const auto a = prob1_list_a();
  const auto b = prob1_list_b();
  std::vector<std::tuple<const Row&, const Row&>> pairs;
  for (std::size_t i = 0; i < a.size(); ++i)
    pairs.emplace_back(a[i], b[i]);
  const std::string answer = py_str(pool.starmap(common_items, pairs));
  console.line("  " + answer);
  return answer;
}

struct Prob2 {
  double part1, part2, part3;
  nlohmann::json record;
};

/// The size a pool of type P gets when asked for `n` workers (an MpiPool has one per worker rank).
template <class P>
std::size_t pool_size_for(std::size_t n) {
#ifdef PARLAB_HAS_MPI
  if constexpr (std::is_same_v<P, MpiPool>)
    return std::min(n, static_cast<std::size_t>(MpiPool::ranks() - 1));
#endif
  return n;
}

template <class P>
Prob2 run_prob2(std::size_t workers, BusyMode mode, Console& console) {
  const std::vector<double> work{1, 2, 4, 6};
  const double total = std::accumulate(work.begin(), work.end(), 0.0);
  const double longest = *std::max_element(work.begin(), work.end());
  const std::size_t cores = cpu_count();
  const bool spin = mode == BusyMode::spin;
  const std::size_t part_c = pool_size_for<P>(work.size());  // one worker per task, where it can
  console.line(fmt::format("== Problem 2: do_busy_work over [1, 2, 4, 6] ({}), cpu_count = {} ==",
                           spin ? "spin: burns CPU" : "sleep: waits", cores));
  std::ostream& log = console.stream();
  auto busy = [mode, &log](double seconds) { return busy_work(seconds, mode, &log); };
  // Worker processes print do_busy_work's line themselves, to stderr (stdout may be --json's).
  constexpr auto busy_sleep = [](double seconds) { return busy_work(seconds, BusyMode::sleep, &std::clog); };
  constexpr auto busy_spin = [](double seconds) { return busy_work(seconds, BusyMode::spin, &std::clog); };

  // The best any schedule can do with `parallel` tasks at once: the longest task, and the total
  // work spread over the CPUs that really run at once (for spin, pool size capped by cores).
  auto bound = [&](std::size_t pool_size) {
    const std::size_t parallel = spin ? std::min(pool_size, cores) : pool_size;
    return std::max(longest, total / static_cast<double>(parallel));
  };

  auto run_part = [&](const char* label, std::size_t pool_size) {
    return with_progress_line(console, label, work.size(), [&] {
      if (pool_size == 0) {  // Part A: the builtin map, serial
        return timed([&] {
                 std::vector<double> out;
                 for (double w : work) {
                   out.push_back(busy(w));
                   console.update_progress(out.size());
                 }
                 return out;
               })
            .first;
      }
      P pool{pool_size};
      return timed([&] {
               if constexpr (std::is_same_v<P, Pool>)
                 return pool.map(busy, work, with_progress(console));
               else if (spin)
                 return pool.map(busy_spin, work, with_progress(console));
               else
                 return pool.map(busy_sleep, work, with_progress(console));
             })
          .first;
    });
  };

  console.line("  Part A: serial map");
  const double part1 = run_part("Part A", 0);
  console.line(fmt::format("  Part B: Pool({}).map", workers));
  const double part2 = run_part("Part B", workers);
  console.line(fmt::format("  Part C: Pool({}).map (one worker per task)", part_c));
  const double part3 = run_part("Part C", part_c);

  const double bound_a = total, bound_b = bound(workers), bound_c = bound(part_c);
  console.line(fmt::format("  Part A serial          {:7.3f} s   lower bound {:6.3f} s (all work in a row)",
                           part1, bound_a));
  console.line(fmt::format("  Part B Pool({})        {:7.3f} s   lower bound {:6.3f} s   speedup {:.2f}x",
                           workers, part2, bound_b, part1 / part2));
  console.line(fmt::format("  Part C Pool({})        {:7.3f} s   lower bound {:6.3f} s   speedup {:.2f}x",
                           part_c, part3, bound_c, part1 / part3));
  if (!spin && workers < work.size())
    console.line(
        fmt::format("  Part B: {} workers run 4 tasks with chunksize 1, so the 6 s task starts only when a"
                    " worker frees up",
                    workers));
  if (spin && part_c > cores)
    console.line(fmt::format("  Part C: {} busy workers share {} CPUs, so total work / cores bounds it",
                             part_c, cores));
  nlohmann::json record{{"mode", spin ? "spin" : "sleep"},
                        {"work", work},
                        {"part1", part1},
                        {"part2", part2},
                        {"part3", part3},
                        {"workers_part2", workers},
                        {"workers_part3", part_c},
                        {"lower_bound", {bound_a, bound_b, bound_c}},
                        {"speedup_part2", part1 / part2},
                        {"speedup_part3", part1 / part3}};
  return {part1, part2, part3, std::move(record)};
}

struct Prob3 {
  std::string answer;
  nlohmann::json record;
};

template <class P>
Prob3 run_prob3(P& pool, Console& console) {
  console.line("== Problem 3: min-max normalisation, seed 42, five sizes ==");
  struct Size {
    const char* name;
    std::size_t rows, cols;
  };
  constexpr std::array<Size, 5> sizes{{{"Small", 100, 50},
                                       {"Medium", 1'000, 50},
                                       {"Large", 10'000, 50},
                                       {"XL", 50'000, 100},
                                       {"XXL", 100'000, 100}}};
  auto norm = [](const Row& row) { return normalize(row); };
  RandomState rng{42};
  nlohmann::json table = nlohmann::json::array();
  std::string answer;
  std::vector<std::string> lines;
  bool slower_somewhere = false;
  for (const auto& size : sizes) {
    const auto data = rng.randint_rows(0, 1000, size.rows, size.cols);
    auto [t_serial, serial] = timed([&] {
      std::vector<std::vector<double>> out;
      out.reserve(data.size());
      for (const auto& row : data)
        out.push_back(normalize(row));
      return out;
    });
    auto [t_parallel, parallel] = with_progress_line(console, size.name, data.size(), [&] {
      return timed([&] { return pool.map(norm, data, with_progress(console)); });
    });
    if (parallel != serial)
      throw std::runtime_error("prob3: serial and parallel results differ — a parlab bug");
    const double speedup = t_serial / t_parallel;
    slower_somewhere = slower_somewhere || speedup < 1.0;
    lines.push_back(fmt::format("  {:<8} | {:7} | {:4} | {:9.4f} | {:11.4f} | {:6.2f}x", size.name, size.rows,
                                size.cols, t_serial, t_parallel, speedup));
    console.line(fmt::format("  {} done: serial {:.4f} s, Pool({}).map {:.4f} s", size.name, t_serial,
                             pool.size(), t_parallel));
    table.push_back({{"name", size.name},
                     {"rows", size.rows},
                     {"cols", size.cols},
                     {"serial", t_serial},
                     {"parallel", t_parallel},
                     {"speedup", speedup}});
    if (std::string_view{size.name} == "XXL") {
      answer = py_str(std::vector<std::vector<double>>(parallel.begin(), parallel.begin() + 5));
    }
  }
  console.line("  Dataset  |    Rows | Cols | Serial(s) | Parallel(s) | Speedup");
  console.line("  ---------+---------+------+-----------+-------------+--------");
  for (const auto& l : lines)
    console.line(l);
  if (slower_somewhere) {
    console.line(
        "  Where parallel is slower than serial, the work per row is smaller than the cost of handing it out"
        " (splitting, waking workers, gathering results): parallelism pays only when each chunk does enough "
        "work.");
  }
  console.line("  prob3 (first 5 normalised XXL rows): " + answer.substr(0, 70) + "...");
  return {answer, table};
}

#ifdef PARLAB_HAS_MPI
/// The worker ranks the job lost (under mpirun --enable-recovery the lab goes on without them),
/// one line each, and as the record's "lost_ranks".
nlohmann::json report_lost_ranks(Console& console) {
  auto lost = nlohmann::json::array();
  for (const auto& l : MpiPool::lost_ranks()) {
    console.line(fmt::format("mpi: worker rank {} (pid {}) was lost ({}); {} item(s) it had not answered ran on "
                             "the other ranks",
                             l.rank, l.pid, l.reason, l.items_rerun));
    lost.push_back({{"rank", l.rank}, {"pid", l.pid}, {"reason", l.reason}, {"items_rerun", l.items_rerun}});
  }
  return lost;
}
#endif

}  // namespace

std::string_view step_name(Step step) {
  switch (step) {
    case Step::example:
      return "example";
    case Step::prob1:
      return "prob1";
    case Step::prob2:
      return "prob2";
    case Step::prob3:
      return "prob3";
  }
  return "?";
}

std::optional<Step> parse_step(std::string_view name) {
  for (Step s : {Step::example, Step::prob1, Step::prob2, Step::prob3})
    if (step_name(s) == name) return s;
  return std::nullopt;
}

#ifdef PARLAB_HAS_MPI
// The notebook's functions, by name on every rank (the lab's lambdas are found by type).
PARLAB_MPI_TASK(howmany_within_range);
PARLAB_MPI_TASK(howmany_within_range_rowonly);
PARLAB_MPI_TASK(common_items);
#endif

std::vector<std::string> available_backends() {
#ifdef PARLAB_HAS_MPI
  return {"threads", "processes", "mpi"};
#else
  return {"threads", "processes"};
#endif
}

void validate(LabConfig& config) {
  if (config.workers == 0 && config.backend != "mpi") config.workers = cpu_count();  // mpi: the job's ranks
  if (config.workers > max_workers)
    throw UsageError("--workers " + std::to_string(config.workers) + " is absurd (at most " +
                     std::to_string(max_workers) + ")");
  const auto backends = available_backends();
  if (std::find(backends.begin(), backends.end(), config.backend) == backends.end()) {
    const std::string names = fmt::format("{}", fmt::join(backends, ", "));
    if (config.backend == "mpi")
      throw UsageError("--backend mpi is not built in this version of parlab (available: " + names + ")");
    throw UsageError("unknown --backend '" + config.backend + "' (available: " + names + ")");
  }
  if (config.steps.empty()) throw UsageError("--step needs at least one step");
#ifdef PARLAB_HAS_MPI
  if (config.backend == "mpi") {
    MpiPool::start();  // the other ranks serve the pools from here, and exit when rank 0 ends
    const auto worker_ranks = static_cast<std::size_t>(MpiPool::ranks() - 1);
    if (worker_ranks == 0)
      throw UsageError(
          "--backend mpi needs worker ranks: run it as mpirun -np N parlab lab --backend mpi, N >= 2");
    if (config.workers == 0) config.workers = worker_ranks;
    if (config.workers > worker_ranks)
      throw UsageError("--workers " + std::to_string(config.workers) + " but the job has " +
                       std::to_string(worker_ranks) + " worker ranks (mpirun -np " +
                       std::to_string(config.workers + 1) + " for that many)");
  }
#endif
  create_out_folder(config.out_dir);
}

nlohmann::json run_lab(const LabConfig& config, Console& console) {
  auto has = [&](Step s) {
    return std::find(config.steps.begin(), config.steps.end(), s) != config.steps.end();
  };
  Answers answers;
  answers.host = host_name();
  nlohmann::json record{{"cpu_count", cpu_count()},
                        {"workers", config.workers},
                        {"backend", config.backend},
                        {"host", answers.host}};
  console.line(fmt::format("parlab lab: cpu_count() = {}, {} workers, backend {}",
                           static_cast<std::size_t>(cpu_count()), config.workers, config.backend));
  const auto run_steps = [&]<class P>(P& pool) {
    if (has(Step::example)) record["example"] = run_example(pool, console);
    if (has(Step::prob1)) {
      answers.prob1 = run_prob1(pool, console);
      record["prob1"] = *answers.prob1;
    }
    if (has(Step::prob2)) {
      auto p2 = run_prob2<P>(config.workers, config.busy, console);
      answers.part1 = p2.part1;
      answers.part2 = p2.part2;
      answers.part3 = p2.part3;
      record["prob2"] = std::move(p2.record);
    }
    if (has(Step::prob3)) {
      auto p3 = run_prob3(pool, console);
      answers.prob3 = std::move(p3.answer);
      record["prob3"] = std::move(p3.record);
    }
  };
  if (config.backend == "processes") {
    ProcessPool pool{config.workers};
    run_steps(pool);
#ifdef PARLAB_HAS_MPI
  } else if (config.backend == "mpi") {
    MpiPool pool{config.workers};
    run_steps(pool);
    record["lost_ranks"] = report_lost_ranks(console);
#endif
  } else {
    Pool pool{config.workers};
    run_steps(pool);
  }
  const auto path = config.out_dir / "soln.json";
  write_file_atomically(path, soln_json(answers));
  record["soln"] = path.string();
  console.line("wrote " + path.string());
  return record;
}

}  // namespace parlab::lab
