#include "bench/harness/workloads.hpp"

#include "bench/harness/contenders.hpp"
#include "lab/numpy_random.hpp"
#include "lab/workloads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#if defined(PARLAB_BENCH_OPENMP)
#include <omp.h>
#endif
#if defined(PARLAB_BENCH_TBB)
#include <tbb/version.h>
#endif

namespace parlab::bench {

namespace {

using Row = std::vector<std::int64_t>;
using Clock = std::chrono::steady_clock;

/// The trivial task: lowbias32, a few integer operations (the same as bench_pool's kernel and
/// workloads.py's trivial()).
inline std::uint32_t lowbias32(std::uint32_t x) noexcept {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

std::string shortest(double value) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return {buf.data(), r.ptr};
}

std::string thousands(std::size_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

/// The values of results, flattened, as workloads.py feeds them to digest().
template <class R>
void flatten(const std::vector<R>& results, std::vector<unsigned long long>& flat) {
  if constexpr (std::is_integral_v<R>) {
    flat.reserve(results.size());
    for (const R v : results)
      flat.push_back(static_cast<unsigned long long>(v));
  } else if constexpr (std::is_same_v<R, std::vector<double>>) {
    for (const auto& row : results)
      for (const double v : row)
        flat.push_back(std::bit_cast<std::uint64_t>(v));
  } else {
    static_assert(std::is_same_v<R, double>, "no digest for this result type");
  }
}

WorkloadInfo make_info(std::string key, std::string title, std::string size, std::string description,
                       std::size_t items) {
  WorkloadInfo info;
  info.key = std::move(key);
  info.title = std::move(title);
  info.size = std::move(size);
  info.description = std::move(description);
  info.items = items;
  return info;
}

/// How a workload's outputs are checked.
enum class Check {
  equal,  ///< equal to the serial C++ output, element for element
  busy,   ///< do_busy_work's elapsed seconds: one per task, each at least the task's duration
};

constexpr double busy_tolerance_s = 1e-4;  // clock granularity between the two clocks involved

template <class In, class F>
class MapWorkload final : public Workload {
  using R = result_of_t<In, F>;

 public:
  MapWorkload(WorkloadInfo info, std::function<std::vector<In>()> make_input, F f, Balance balance,
              Check check, bool into, bool chunk_sweep, std::vector<std::string> python_args)
      : Workload(std::move(info)),
        make_input_(std::move(make_input)),
        f_(std::move(f)),
        balance_(balance),
        check_(check),
        into_(into),
        chunk_sweep_(chunk_sweep),
        python_args_(std::move(python_args)) {}

  void prepare() override {
    input_ = make_input_();
    info_.items = input_.size();
    expected_.reset();
    digest_.reset();
    // The "into" rows' output, allocated now rather than when the first of them runs, so that
    // it does not change the heap under the rows that run after it.
    if (into_) scratch_.resize(input_.size());
  }

  void release() override {
    input_ = {};
    expected_.reset();
    scratch_ = {};
  }

  [[nodiscard]] bool runs(Cid id) const override {
    std::string reason;
    if (build_status(id, reason) != Status::ok) return false;
    if (id == Cid::process_pool || mpi_ranks(id) != 0) return ProcessMappable<In, F>;
    return !spec(id).into || into_;
  }

  [[nodiscard]] bool has_into_rows() const override { return into_; }
  [[nodiscard]] bool sweeps_chunksize() const override { return chunk_sweep_; }

  [[nodiscard]] std::vector<std::string> python_args() const override { return python_args_; }

  RunOutcome run(Cid id, Team& team, std::size_t chunksize) override {
    if (id != Cid::serial && !expected_ && check_ == Check::equal)
      throw std::logic_error("parlab bench: the serial run must come first");
    [[maybe_unused]] const int threads = static_cast<int>(team.workers());
    switch (id) {
      case Cid::serial:
        return finish(timed([&] { return serial_alloc(input_, f_); }), true);
      case Cid::parlab:
        return finish(timed([&] { return parlab_alloc(team.pool(), input_, f_, chunksize); }));
      case Cid::serial_into:
        return into([&](std::vector<R>& out) { serial_into(input_, f_, out); });
      case Cid::parlab_map_into:
        return into([&](std::vector<R>& out) { parlab_into(team.pool(), input_, f_, out, chunksize); });
      case Cid::process_pool:
        if constexpr (ProcessMappable<In, F>) {
          return finish(timed([&] { return process_alloc(team.process_pool(), input_, f_); }));
        } else {
          throw std::logic_error("parlab bench: this workload's function cannot be sent to a process");
        }
#if defined(PARLAB_HAS_MPI)
      case Cid::mpi_pool_np2:
      case Cid::mpi_pool_np3:
        if constexpr (ProcessMappable<In, F>) {
          return finish(timed([&] { return mpi_alloc(team.mpi_pool(), input_, f_); }));
        } else {
          throw std::logic_error("parlab bench: this workload's function cannot be sent to an MPI rank");
        }
#endif
#if defined(PARLAB_BENCH_OPENMP)
      case Cid::openmp:
        return finish(timed([&] { return openmp_alloc(input_, f_, threads, balance_); }));
      case Cid::openmp_into:
        return into([&](std::vector<R>& out) { openmp_into(input_, f_, out, threads, balance_); });
#endif
#if defined(PARLAB_BENCH_TBB)
      case Cid::tbb:
        return finish(timed([&] { return tbb_alloc(team.tbb(), input_, f_); }));
      case Cid::tbb_into:
        return into([&](std::vector<R>& out) { tbb_into(team.tbb(), input_, f_, out); });
#endif
#if defined(PARLAB_BENCH_STD_PAR)
      case Cid::std_par:
        return finish(timed([&] { return std_par_alloc(team.tbb(), input_, f_); }));
      case Cid::std_par_into:
        return into([&](std::vector<R>& out) { std_par_into(team.tbb(), input_, f_, out); });
#endif
      default:
        throw std::logic_error("parlab bench: " + std::string{spec(id).key} + " does not run here");
    }
  }

  [[nodiscard]] std::string check_python(const Json& side) override {
    if (!side.is_object()) return "no result";
    const auto n = side.value("n", std::size_t{0});
    if (n != input_.size())
      return "returned " + std::to_string(n) + " results for " + std::to_string(input_.size()) + " items";
    if (check_ == Check::busy) {
      const auto& values = side.at("values");
      for (std::size_t i = 0; i < input_.size(); ++i) {
        if constexpr (std::is_same_v<In, double>) {
          const double v = values.at(i).get<double>();
          if (!(v + busy_tolerance_s >= input_[i]))
            return "task " + std::to_string(i) + " took " + shortest(v) + " s, less than its " +
                   shortest(input_[i]) + " s";
        }
      }
      return {};
    }
    if (!expected_) return "no serial C++ result to compare with";
    if (!digest_) {
      std::vector<unsigned long long> flat;
      flatten(*expected_, flat);
      digest_ = digest(flat);
    }
    const auto got = side.value("digest", std::string{});
    if (got != *digest_)
      return "results differ from serial C++ (digest " + got + ", serial C++ " + *digest_ + ")";
    return {};
  }

 private:
  template <class Fn>
  std::pair<double, std::vector<R>> timed(Fn&& fn) {
    const auto start = Clock::now();
    auto out = fn();
    return {std::chrono::duration<double>(Clock::now() - start).count(), std::move(out)};
  }

  /// A preallocated output row ("into" rows): allocated, filled and touched before the clock,
  /// reset to R{} so that an item the contender skipped shows up as wrong.
  template <class Fn>
  RunOutcome into(Fn&& fn) {
    scratch_.resize(input_.size());
    std::fill(scratch_.begin(), scratch_.end(), R{});
    const auto start = Clock::now();
    fn(scratch_);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    RunOutcome outcome{seconds, true, {}};
    outcome.problem = problem_with(scratch_);
    outcome.correct = outcome.problem.empty();
    return outcome;
  }

  RunOutcome finish(std::pair<double, std::vector<R>>&& timed_out, bool reference = false) {
    RunOutcome outcome{timed_out.first, true, {}};
    if (reference && !expected_ && check_ == Check::equal) {
      if (timed_out.second.size() != input_.size()) {
        outcome.correct = false;
        outcome.problem = "serial C++ returned " + std::to_string(timed_out.second.size()) + " results";
      } else {
        expected_ = std::move(timed_out.second);
      }
      return outcome;
    }
    outcome.problem = problem_with(timed_out.second);
    outcome.correct = outcome.problem.empty();
    return outcome;
  }

  /// Empty when `out` is right, else the first difference.
  [[nodiscard]] std::string problem_with(const std::vector<R>& out) const {
    if (out.size() != input_.size())
      return "returned " + std::to_string(out.size()) + " results for " + std::to_string(input_.size()) +
             " items";
    if (check_ == Check::busy) {
      if constexpr (std::is_same_v<In, double> && std::is_same_v<R, double>) {
        for (std::size_t i = 0; i < out.size(); ++i)
          if (!(out[i] + busy_tolerance_s >= input_[i]))
            return "task " + std::to_string(i) + " took " + shortest(out[i]) + " s, less than its " +
                   shortest(input_[i]) + " s";
      }
      return {};
    }
    if (*expected_ == out) return {};
    const auto mismatch = std::mismatch(out.begin(), out.end(), expected_->begin());
    return "result " + std::to_string(mismatch.first - out.begin()) + " differs from serial C++";
  }

  std::function<std::vector<In>()> make_input_;
  F f_;
  Balance balance_;
  Check check_;
  bool into_;
  bool chunk_sweep_;
  std::vector<std::string> python_args_;
  std::vector<In> input_;
  std::optional<std::vector<R>> expected_;
  std::optional<std::string> digest_;
  std::vector<R> scratch_;
};

template <class In, class F>
std::unique_ptr<Workload> make_map(WorkloadInfo info, std::function<std::vector<In>()> make_input, F f,
                                   Balance balance, Check check, bool into, bool chunk_sweep,
                                   std::vector<std::string> python_args) {
  return std::make_unique<MapWorkload<In, F>>(std::move(info), std::move(make_input), std::move(f), balance,
                                              check, into, chunk_sweep, std::move(python_args));
}

/// Problem 2 in `mode`. The task is a captureless lambda per mode, so that ProcessPool can run
/// it in its worker processes too.
template <lab::BusyMode mode>
std::unique_ptr<Workload> busy_workload(const Sizes& sizes) {
  constexpr bool spin = mode == lab::BusyMode::spin;
  std::vector<double> work;
  std::string list, pylist;
  for (const double s : {1.0, 2.0, 4.0, 6.0}) {
    work.push_back(std::round(s * sizes.busy_scale * 1e9) / 1e9);  // 0.6, not 0.6000000000000001
    list += (list.empty() ? "" : ", ") + shortest(work.back());
    pylist += (pylist.empty() ? "" : ",") + shortest(work.back());
  }
  WorkloadInfo info =
      make_info(spin ? "busy_spin" : "busy_sleep",
                spin ? "Problem 2: do_busy_work, spin" : "Problem 2: do_busy_work, sleep", "[" + list + "] s",
                std::string{spin ? "burns that much CPU time per task (CPU-bound)"
                                 : "sleeps that long per task (waiting, no CPU)"} +
                    "; the lab's [1, 2, 4, 6] s scaled by " + shortest(sizes.busy_scale),
                work.size());
  auto f = [](double seconds) { return lab::busy_work(seconds, mode, nullptr); };
  return make_map<double>(std::move(info), [work] { return work; }, f, Balance::uneven, Check::busy, false,
                          false,
                          {"--workload", "busy", "--busy", spin ? "spin" : "sleep", "--durations", pylist});
}

}  // namespace

std::string_view status_name(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::wrong:
      return "wrong";
    case Status::failed:
      return "failed";
    case Status::skipped:
      return "skipped";
    case Status::not_built:
      return "not built";
  }
  return "?";
}

Status build_status(Cid id, std::string& reason) {
  switch (id) {
    case Cid::serial:
    case Cid::parlab:
    case Cid::serial_into:
      return Status::ok;
    case Cid::parlab_map_into:
      if constexpr (HasMapInto<Pool, std::uint32_t (*)(std::uint32_t), std::uint32_t, std::uint32_t>) {
        return Status::ok;
      } else {
        reason = "this build's parlab::Pool has no map_into";
        return Status::not_built;
      }
    case Cid::openmp:
    case Cid::openmp_into:
#if defined(PARLAB_BENCH_OPENMP)
      return Status::ok;
#else
      reason = "OpenMP was not found when parlab was configured";
      return Status::not_built;
#endif
    case Cid::tbb:
    case Cid::tbb_into:
#if defined(PARLAB_BENCH_TBB)
      return Status::ok;
#else
      reason = "oneTBB was not found when parlab was configured";
      return Status::not_built;
#endif
    case Cid::std_par:
    case Cid::std_par_into:
#if defined(PARLAB_BENCH_STD_PAR)
      return Status::ok;
#else
      reason = "std::execution::par with a oneTBB backend does not build with this compiler";
      return Status::not_built;
#endif
    case Cid::python_serial:
    case Cid::python_pool:
      return Status::ok;  // decided at run time
    case Cid::process_pool:
      return Status::ok;
    case Cid::mpi_pool_np2:
    case Cid::mpi_pool_np3:
#if defined(PARLAB_HAS_MPI) && defined(PARLAB_BENCH_MPIEXEC)
      return Status::ok;  // mpirun itself is looked for at run time
#else
      reason =
          "MpiPool is not in this build of parlab (no MPI was found when parlab was configured; "
          "Debian: apt-get install libopenmpi-dev openmpi-bin)";
      return Status::not_built;
#endif
  }
  return Status::not_built;
}

Json runtime_versions() {
  Json v = Json::object();
#if defined(PARLAB_BENCH_OPENMP)
  v["openmp"] = std::to_string(_OPENMP);
#else
  v["openmp"] = nullptr;
#endif
#if defined(PARLAB_BENCH_TBB)
  v["onetbb"] = TBB_VERSION_STRING;
#else
  v["onetbb"] = nullptr;
#endif
  v["std_execution_par"] =
#if defined(PARLAB_BENCH_STD_PAR)
      "libstdc++ parallel algorithms on oneTBB";
#else
      nullptr;
#endif
  return v;
}

/// The MpiPool of a Team (an empty shell when MpiPool is not built).
class MpiTeam {
#if defined(PARLAB_HAS_MPI)
 public:
  explicit MpiTeam(std::size_t workers) : pool(workers) {}
  MpiPool pool;
#endif
};

#if defined(PARLAB_HAS_MPI)
MpiPool& Team::mpi_pool() { return mpi_->pool; }
#endif

Team::Team(const std::vector<Cid>& ids, std::size_t workers) : workers_(workers) {
  for (const Cid id : ids) {
    switch (id) {
      case Cid::parlab:
      case Cid::parlab_map_into:
        if (!pool_) pool_ = std::make_unique<Pool>(workers);
        break;
      case Cid::process_pool:
        if (!process_pool_) process_pool_ = std::make_unique<ProcessPool>(workers);
        break;
#if defined(PARLAB_HAS_MPI)
      case Cid::mpi_pool_np2:
      case Cid::mpi_pool_np3:
        if (!mpi_) mpi_ = std::make_unique<MpiTeam>(workers);
        break;
#endif
#if defined(PARLAB_BENCH_TBB)
      case Cid::tbb:
      case Cid::tbb_into:
      case Cid::std_par:
      case Cid::std_par_into:
        if (!tbb_) tbb_ = std::make_unique<TbbTeam>(static_cast<int>(workers));
        break;
#endif
      default:
        break;
    }
  }
}

Team::~Team() = default;

std::string mpiexec() {
#if defined(PARLAB_HAS_MPI) && defined(PARLAB_BENCH_MPIEXEC)
  return PARLAB_BENCH_MPIEXEC;
#else
  return {};
#endif
}

std::size_t Workload::auto_chunksize(std::size_t workers) const {
  const std::size_t parts = 4 * std::max<std::size_t>(1, workers);
  return std::max<std::size_t>(1, (info_.items + parts - 1) / parts);
}

std::vector<std::unique_ptr<Workload>> make_workloads(const Sizes& sizes) {
  std::vector<std::unique_ptr<Workload>> out;

  const std::size_t ex_rows = sizes.example_rows;
  out.push_back(make_map<Row>(
      make_info(
          "example", "Example: howmany_within_range", thousands(ex_rows) + " × 5",
          "counts the values of a row of 5 ints that lie in [4, 8] (the notebook's Pool.map step); data "
          "from seed 100",
          ex_rows),
      [ex_rows] { return lab::RandomState{100}.randint_rows(0, 10, ex_rows, 5); },
      [](const Row& row) { return lab::howmany_within_range_rowonly(row); }, Balance::uniform, Check::equal,
      true, true, {"--workload", "example", "--rows", std::to_string(ex_rows)}));

  const std::size_t rows = sizes.xxl_rows, cols = sizes.xxl_cols;
  out.push_back(make_map<Row>(
      make_info(
          "prob3_xxl", "Problem 3 XXL: normalize", thousands(rows) + " × " + thousands(cols),
          "min-max normalises a row of ints into a new row of doubles; data from seed 42 after the Small, "
          "Medium, Large and XL draws, as in the notebook",
          rows),
      [rows, cols] {
        lab::RandomState rng{42};
        std::vector<std::int64_t> skip;
        for (const auto& [r, c] : {std::pair{100, 50}, {1'000, 50}, {10'000, 50}, {50'000, 100}}) {
          skip.resize(static_cast<std::size_t>(r) * static_cast<std::size_t>(c));
          rng.randint_fill(0, 1000, skip);
        }
        return rng.randint_rows(0, 1000, rows, cols);
      },
      [](const Row& row) { return lab::normalize(row); }, Balance::uniform, Check::equal, true, true,
      {"--workload", "prob3_xxl", "--rows", std::to_string(rows), "--cols", std::to_string(cols)}));

  out.push_back(busy_workload<lab::BusyMode::spin>(sizes));
  out.push_back(busy_workload<lab::BusyMode::sleep>(sizes));

  const std::size_t items = sizes.trivial_items;
  out.push_back(make_map<std::uint32_t>(
      make_info(
          "trivial", "Trivial task: lowbias32", thousands(items),
          "hashes a 32-bit int (a few ns of work per item), so the cost of handing items out and of the "
          "result vector shows",
          items),
      [items] {
        std::vector<std::uint32_t> v(items);
        for (std::size_t i = 0; i < items; ++i)
          v[i] = static_cast<std::uint32_t>(i);
        return v;
      },
      [](std::uint32_t x) noexcept { return lowbias32(x); }, Balance::uniform, Check::equal, true, true,
      {"--workload", "trivial", "--items", std::to_string(items)}));
  return out;
}

namespace {

/// The task of the latency rows: as trivial as a call gets (bench_apply.cpp's add_one).
std::int64_t add_one(std::int64_t v) noexcept { return v + 1; }

template <class P>
void time_round_trips(P& pool, std::size_t warmup, std::size_t calls, Latency& out) {
  std::int64_t x = 0;
  for (std::size_t i = 0; i < warmup; ++i)
    x = pool.apply_async(add_one, x).get();
  out.samples_s.reserve(calls);
  for (std::size_t i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    const std::int64_t y = pool.apply_async(add_one, x).get();
    out.samples_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    if (y != x + 1) {
      out.status = Status::wrong;
      out.note = "call " + std::to_string(i) + " returned " + std::to_string(y) + " for f(" +
                 std::to_string(x) + ") = x + 1";
      out.samples_s.clear();
      return;
    }
    x = y;
  }
  out.verified = true;
}

}  // namespace

Latency measure_latency(Cid id, std::size_t workers, std::size_t warmup, std::size_t calls) {
  Latency out;
  out.contender = id;
  out.workers = workers;
  out.warmup_calls = warmup;
  try {
    if (id == Cid::parlab) {
      Pool pool{workers};
      time_round_trips(pool, warmup, calls, out);
    } else if (id == Cid::process_pool) {
      ProcessPool pool{workers};
      time_round_trips(pool, warmup, calls, out);
    } else {
      throw std::logic_error("parlab bench: no latency row for " + std::string{spec(id).key});
    }
  } catch (const std::exception& e) {
    out.status = Status::failed;
    out.verified = false;
    out.note = e.what();
    out.samples_s.clear();
  }
  return out;
}

WorkloadInfo brewery_info() {
  auto info = make_info("brewery", "Brewery: counts per state over HTTP", "4 states",
                        "the lab's async task (brewery-async.py): serial vs asyncio.gather", 4);
  info.status = Status::skipped;
  info.reason =
      "measured by its own benchmark, bench_brewery (make bench runs it next): out/brewery-bench.md";
  return info;
}

std::string digest(const std::vector<unsigned long long>& flat) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < flat.size(); ++i) {
    const std::uint64_t weight =
        (static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) | 1U;
    sum += static_cast<std::uint64_t>(flat[i]) * weight;
  }
  return fmt::format("0x{:016x}", sum);
}

}  // namespace parlab::bench
