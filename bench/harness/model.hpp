#pragma once
/// \file
/// What `parlab bench` measures and records: workloads, contenders, one result per measurement
/// point, the targets, and the run that holds them all (the content of out/bench.json).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parlab::bench {

using Json = nlohmann::ordered_json;

/// The state of a contender, a workload or one result.
enum class Status {
  ok,         ///< measured, and its results equal the serial C++ results
  wrong,      ///< measured, but its results differ: never a figure to trust
  failed,     ///< it threw, crashed or timed out
  skipped,    ///< could run in this build, but not here (e.g. python3 or numpy missing)
  not_built,  ///< not in this build of parlab
};

/// "ok", "wrong", "failed", "skipped", "not built".
[[nodiscard]] std::string_view status_name(Status status);

/// The contenders, in report order.
enum class Cid {
  serial,
  parlab,
  openmp,
  tbb,
  std_par,
  serial_into,
  parlab_map_into,
  openmp_into,
  tbb_into,
  std_par_into,
  python_serial,
  python_pool,
  process_pool,
  mpi_pool_np2,  ///< MpiPool under mpirun -np 2: rank 0 drives, 1 worker rank
  mpi_pool_np3,  ///< MpiPool under mpirun -np 3: rank 0 drives, 2 worker ranks
};

/// The mpirun -np of an MpiPool contender (2 or 3), 0 for the others. Its pool has np - 1
/// workers (one per rank but rank 0).
[[nodiscard]] constexpr std::size_t mpi_ranks(Cid id) {
  return id == Cid::mpi_pool_np2 ? 2 : (id == Cid::mpi_pool_np3 ? 3 : 0);
}

/// Static facts about a contender.
struct ContenderSpec {
  Cid id;
  std::string_view key;    ///< stable id in bench.json
  std::string_view title;  ///< short label in tables and plots
  std::string_view description;
  bool parallel;  ///< takes a worker count (and so appears in the workers sweep)
  bool into;      ///< writes into a preallocated output (measured on the map workloads only)
};

/// Every contender, in report order.
[[nodiscard]] const std::vector<ContenderSpec>& contender_specs();
[[nodiscard]] const ContenderSpec& spec(Cid id);

/// A contender as this run found it.
struct Contender {
  Cid id;
  Status status = Status::ok;  ///< ok: available; skipped / not_built: why not in `reason`
  std::string reason;
};

/// A workload as this run ran it.
struct WorkloadInfo {
  std::string key;          ///< stable id in bench.json: example, prob3_xxl, busy_spin, ...
  std::string title;        ///< e.g. "Example: howmany_within_range"
  std::string size;         ///< e.g. "1,000,000 × 5"
  std::string description;  ///< one sentence: what f does per item
  std::size_t items = 0;    ///< items mapped per call
  Status status = Status::ok;
  std::string reason;
};

/// One measurement point: a contender on a workload with a worker count (and chunksize).
struct Result {
  std::string workload;
  Cid contender = Cid::serial;
  std::size_t workers = 1;               ///< threads (processes for Python's Pool) it used
  std::optional<std::size_t> chunksize;  ///< Pool's chunksize (parlab rows only)
  bool chunksize_auto = false;           ///< chunksize was Pool's automatic choice
  bool main = false;                     ///< part of the main table (cpu_count() workers, automatic chunks)
  Status status = Status::ok;
  bool verified = false;  ///< every run's output was checked against the serial C++ result
  std::string note;       ///< why it is wrong / failed / skipped / not built
  std::vector<double> warmup_s;
  std::vector<double> samples_s;

  [[nodiscard]] bool measured() const { return status == Status::ok && !samples_s.empty(); }
  [[nodiscard]] double median() const;
  [[nodiscard]] double min() const;
  [[nodiscard]] double max() const;
};

/// Round-trip latency of one small call on a pool: apply_async(f, x).get() with a trivial f,
/// each call timed on its own.
struct Latency {
  Cid contender = Cid::parlab;  ///< parlab (Pool), process_pool or python_pool
  std::size_t workers = 1;
  std::size_t warmup_calls = 0;  ///< untimed calls first (the first starts the workers)
  Status status = Status::ok;
  bool verified = false;          ///< every call returned f(x)
  std::string note;               ///< why it is not ok
  std::vector<double> samples_s;  ///< one per timed call, in seconds

  [[nodiscard]] bool measured() const { return status == Status::ok && !samples_s.empty(); }
  /// The q-quantile of the samples (0.5: the median), by the nearest rank; 0 when there are none.
  [[nodiscard]] double quantile(double q) const;
  [[nodiscard]] double mean() const;
};

/// One of the performance targets, judged on this run.
struct Target {
  std::string key;
  std::string description;
  std::string goal;                ///< e.g. ">= 100x"
  std::optional<double> measured;  ///< the ratio measured, when both sides were measured
  std::string status;              ///< "met", "MISSED" or "not measured"
  std::string detail;              ///< how it was computed, or why it was not measured
};

/// Everything one `parlab bench` run measured.
struct Run {
  Json machine;
  Json settings;
  std::size_t main_workers = 1;  ///< cpu_count(): the main table's pool size
  std::vector<std::size_t> sweep_workers;
  std::vector<WorkloadInfo> workloads;
  std::vector<Contender> contenders;
  std::vector<Result> results;
  std::vector<Latency> latency;  ///< empty when not measured (--workload without "latency")
  std::vector<Target> targets;
  std::vector<std::string> notes;
  std::string started;  ///< UTC, ISO 8601
  double elapsed_s = 0;

  [[nodiscard]] const Contender& contender(Cid id) const;
  /// The result for (workload, contender, workers) with automatic (or no) chunking, or nullptr.
  [[nodiscard]] const Result* find(std::string_view workload, Cid id, std::size_t workers) const;
  /// The main-table result of a contender on a workload, or nullptr.
  [[nodiscard]] const Result* main(std::string_view workload, Cid id) const;
  /// The round-trip latency of a contender, or nullptr.
  [[nodiscard]] const Latency* latency_of(Cid id) const;
};

}  // namespace parlab::bench
