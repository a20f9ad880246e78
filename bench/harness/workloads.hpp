#pragma once
/// \file
/// The workloads of `parlab bench`: the lab's steps as maps over a vector, each runnable by every
/// C++ contender, timed and checked against the serial C++ result, and each with the arguments
/// that make bench/python/workloads.py run the same thing in Python.

#include "bench/harness/model.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace parlab {
class Pool;
class ProcessPool;
class MpiPool;
}  // namespace parlab

namespace parlab::bench {

/// The sizes of a run.
struct Sizes {
  std::size_t example_rows = 1'000'000;  ///< Example: rows of 5 ints
  std::size_t xxl_rows = 100'000;        ///< Problem 3 XXL: rows ...
  std::size_t xxl_cols = 100;            ///< ... of this many ints
  double busy_scale = 0.1;               ///< Problem 2: the lab's [1, 2, 4, 6] s times this
  std::size_t trivial_items = 10'000'000;
};

/// Whether a C++ contender is in this build (OpenMP, oneTBB, std::execution::par, map_into);
/// `reason` says why not.
[[nodiscard]] Status build_status(Cid id, std::string& reason);

/// Versions of the parallel runtimes compiled in, for the machine header.
[[nodiscard]] Json runtime_versions();

class TbbTeam;
class MpiTeam;

/// The threads of `workers` workers for some contenders: one Pool for the parlab rows, one
/// ProcessPool of `workers` processes for the process_pool rows, one MpiPool of `workers` worker
/// ranks for the MpiPool rows (made only inside the mpirun child job), one oneTBB arena for the TBB
/// and std::execution::par rows, a thread count for OpenMP. Built before the clock starts.
/// (Only one Team with an arena may exist at a time: its global_control sets oneTBB's
/// process-wide thread limit.)
class Team {
 public:
  Team(const std::vector<Cid>& ids, std::size_t workers);
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;
  ~Team();

  [[nodiscard]] std::size_t workers() const { return workers_; }
  [[nodiscard]] Pool& pool() { return *pool_; }
  [[nodiscard]] ProcessPool& process_pool() { return *process_pool_; }
  [[nodiscard]] TbbTeam& tbb() { return *tbb_; }
  /// The MpiPool of the MpiPool rows: only on rank 0 of an mpirun job (`parlab bench --mpi-child`).
  [[nodiscard]] MpiPool& mpi_pool();  // defined when MpiPool is built

 private:
  std::size_t workers_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<ProcessPool> process_pool_;
  std::unique_ptr<MpiTeam> mpi_;
  std::unique_ptr<TbbTeam> tbb_;
};

/// One timed call and its check.
struct RunOutcome {
  double seconds = 0;
  bool correct = true;
  std::string problem;  ///< what was wrong with the output
};

/// A lab step as a map of f over a vector of items.
class Workload {
 public:
  explicit Workload(WorkloadInfo info) : info_(std::move(info)) {}
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;
  virtual ~Workload() = default;

  [[nodiscard]] const WorkloadInfo& info() const { return info_; }

  /// Builds the input (not timed). The serial C++ run must come first: its output is the
  /// reference every other run is checked against.
  virtual void prepare() = 0;
  /// Frees the input and the reference.
  virtual void release() = 0;
  /// Whether `id` runs on this workload (the "into" rows run on the map workloads only; the
  /// ProcessPool row where the function and its data can be sent to a worker process).
  [[nodiscard]] virtual bool runs(Cid id) const = 0;
  /// Whether the "into" rows (output preallocated) belong here: the map workloads, not Problem 2.
  [[nodiscard]] virtual bool has_into_rows() const = 0;
  /// Whether the chunksize sweep applies (many small items; not the four busy tasks).
  [[nodiscard]] virtual bool sweeps_chunksize() const = 0;
  /// Pool's automatic chunksize for `workers`.
  [[nodiscard]] std::size_t auto_chunksize(std::size_t workers) const;
  /// Runs `id` once on `team` (Pool chunksize `chunksize`, 0 = automatic), timing only the
  /// call, and checks the output.
  virtual RunOutcome run(Cid id, Team& team, std::size_t chunksize) = 0;
  /// Arguments of bench/python/workloads.py for the same workload and data.
  [[nodiscard]] virtual std::vector<std::string> python_args() const = 0;
  /// Checks one side ("serial" or "pool") of workloads.py's JSON against the serial C++
  /// result; empty when it agrees, else what differs.
  [[nodiscard]] virtual std::string check_python(const Json& side) = 0;

 protected:
  WorkloadInfo info_;
};

/// The mpirun of this build (PARLAB_MPIEXEC when parlab was configured), or "" when MpiPool is
/// not built.
[[nodiscard]] std::string mpiexec();

/// The workloads at `sizes`, in run order (the brewery task last, not built).
[[nodiscard]] std::vector<std::unique_ptr<Workload>> make_workloads(const Sizes& sizes);

/// Round-trip latency of apply_async(f, x).get() with a trivial f (x + 1) on a Pool
/// (Cid::parlab) or a ProcessPool (Cid::process_pool) of `workers`: the pool is made first, then
/// `warmup` untimed calls (the first starts the workers), then `calls` calls each timed on its
/// own. Every call's value is checked; a failure marks the result, it does not throw.
[[nodiscard]] Latency measure_latency(Cid id, std::size_t workers, std::size_t warmup, std::size_t calls);

/// The brewery task's entry: a workload that is not in this build.
[[nodiscard]] WorkloadInfo brewery_info();

/// Fingerprint of a flat list of 64-bit values, as workloads.py's digest(): the sum of
/// v[i] * ((i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) | 1) modulo 2**64, as "0x%016x".
[[nodiscard]] std::string digest(const std::vector<unsigned long long>& flat);

}  // namespace parlab::bench
