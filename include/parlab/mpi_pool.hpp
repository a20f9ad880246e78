#pragma once
/// \file
/// parlab::MpiPool — the Pool API over MPI ranks (Open MPI), for work that outgrows one machine.
///
/// Run the program under mpirun. Rank 0 runs main() and drives the pool; every other rank
/// serves tasks from MpiPool::start() (or the first MpiPool) until rank 0's program ends, then
/// exits. Functions reach the other ranks by name: register each plain function with
/// PARLAB_MPI_TASK(fn) at namespace scope; captureless lambdas need nothing (they are found by
/// type). Arguments and results travel through codec.hpp, as with ProcessPool.
///
/// An exception in a task comes back to rank 0 (RemoteError, with the item's index in TaskError).
/// A worker rank that is lost — it crashed, was killed, went silent past `heartbeat_timeout`, or
/// ran a task past `task_timeout` — costs no result when the job runs under Open MPI's recovery
/// (`mpirun --enable-recovery`): what it had not answered runs again on the other ranks, and
/// lost_ranks() (and a line on rank 0's stderr at exit) says what was lost and re-run. Without
/// recovery mpirun ends the whole job when a rank dies; the first MpiPool warns of that.
/// Rank 0's own death ends the job (the worker ranks exit when they no longer hear from it).
/// A cancelled result (AsyncResult::cancel, a fail-fast map) drops what was not sent to a rank;
/// what a rank runs finishes, since a rank cannot be stopped without losing it.

#include "parlab/detail/remote_call.hpp"
#include "parlab/pool.hpp"
#include "parlab/remote_initializer.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <typeinfo>
#include <vector>

namespace parlab {

/// How an MpiPool splits its work.
struct MpiOptions {
  /// Items per chunk for map-likes that give none (0: Python's rule, ceil(n / (4 * workers))).
  std::size_t chunksize = 0;
  /// Backpressure: most submitted calls unfinished before a submission blocks (0: no limit), as
  /// PoolOptions::max_pending.
  std::size_t max_pending = 0;
  /// How long a submission blocked by max_pending waits before TimeoutError (0: for ever), as
  /// PoolOptions::submit_timeout.
  std::chrono::milliseconds submit_timeout{0};
  /// How many times an item whose rank was lost while it ran is run again on another rank before
  /// it fails with WorkerCrashed (ProcessOptions::retries). The default 1 re-runs the item of a
  /// rank killed from outside or on a host that went away; an item that kills two ranks fails.
  /// A rank lost while it ran a message of several items cannot say which one ran: they run
  /// again one per message, each charged with that loss, and an item fails only when a rank is
  /// lost while it runs alone.
  unsigned retries = 1;
  /// A task running longer than this fails with TimeoutError and its rank exits, lost (0: no
  /// limit): the rank's own watchdog measures it, looking every 100 ms (so it runs up to 0.2 s more).
  std::chrono::milliseconds task_timeout{0};
  /// A worker rank not heard from for this long is lost (each sends a heartbeat every 100 ms,
  /// also while a task runs). A rank on rank 0's machine whose process ends is lost at once.
  std::chrono::milliseconds heartbeat_timeout{5000};
  /// Starts a new process in the place of each worker rank lost (MPI_Comm_spawn: the program
  /// again, with its arguments), so that a long job keeps its size. Once a pool asks for it,
  /// the job's lost ranks are replaced for every pool.
  bool respawn = false;
  /// Runs once on each worker rank before the pool's first task there: `{f, args...}` or `f`,
  /// with f a function registered with PARLAB_MPI_TASK or a captureless lambda and arguments that
  /// codec.hpp can send (Python's initializer + initargs). If it throws, the tasks sent to that
  /// rank fail with RemoteError("initializer failed: ...") and it is tried again before the
  /// rank's next chunk. Each pool runs its own initializer on the ranks it uses.
  RemoteInitializer initializer{};
};

namespace detail {

/// Registers a plain function under `name` (PARLAB_MPI_TASK); every process of the program
/// registers the same names, so a name identifies the function on every rank.
bool register_mpi_function(const char* name, std::uintptr_t address);
/// The registered id of the function at `address`; throws std::invalid_argument if it is not
/// registered.
[[nodiscard]] std::uint64_t mpi_function_id(std::uintptr_t address);

template <class Call, class Item, class R>
struct MpiEntryKey {};

/// The id of serve_chunk<Call, Item, R>. Initialized before main in every process of the
/// program, since every process has the same instantiations.
template <class Call, class Item, class R>
inline const std::uint64_t mpi_entry_id = register_entry(typeid(MpiEntryKey<Call, Item, R>).name(),
                                                             &serve_chunk<Call, Item, R>);

/// The MPI backend: each pool thread drives one worker rank (another once its own is lost); a
/// rank that finishes its chunk early is sent the next one.
class MpiBackend {
 public:
  MpiBackend(std::size_t workers, MpiOptions options);
  MpiBackend(const MpiBackend&) = delete;
  MpiBackend& operator=(const MpiBackend&) = delete;

  [[nodiscard]] std::size_t default_chunksize(std::size_t items, std::size_t workers) const {
    return remote_chunksize(chunksize_, items, workers);
  }

  /// Throws std::invalid_argument, before any work is queued, for a function other ranks cannot
  /// find (a plain function not registered with PARLAB_MPI_TASK).
  template <class Fn>
  void check_callable(const Fn& fn) const {
    using Remote = RemoteFn<Fn>;
    if constexpr (Remote::sendable && Remote::by_address) (void)mpi_function_id(Remote::encode(fn));
  }

  template <class Fn, class At, class Sink>
  void run(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
    run_remote(*this, fn, at, begin, end, sink);
  }

  /// Sends one chunk (run_remote's hand-off): `fn` is the function's RemoteFn bits.
  template <class Remote, class Item, class R>
  void send_chunk(std::uintptr_t fn, std::size_t begin, std::size_t end, ChunkCodec& codec) {
    const std::uint64_t entry = mpi_entry_id<typename Remote::type, Item, R>;
    run_chunk(entry, Remote::by_address ? mpi_function_id(fn) : 0, begin, end, codec);
  }

  /// Tasks already sent to a rank cannot be stopped: they finish (as in a thread Pool).
  void terminate() {}
  void shutdown() {}

 private:
  enum class Ready { yes, failed, lost };
  void run_chunk(std::uint64_t entry, std::uint64_t fn, std::size_t begin, std::size_t end,
                 ChunkCodec& codec);
  Ready initialize_rank(int rank, std::exception_ptr& failure);

  std::size_t chunksize_;
  unsigned retries_;
  std::chrono::milliseconds task_timeout_;
  std::chrono::milliseconds heartbeat_timeout_;
  RemoteInitializer initializer_;
  std::uint64_t initializer_fn_ = 0;  // the initializer's registered function id (0: a lambda)
  std::mutex init_mutex_;
  std::condition_variable init_ran_;
  std::vector<char> init_running_;           // per rank: its initializer runs now
  std::vector<std::uint64_t> init_done_;     // per rank: 1 + the generation that ran it (0: none)
};

}  // namespace detail

/// A worker rank the job lost (MpiPool::lost_ranks()).
struct LostRank {
  /// Its rank in MPI_COMM_WORLD.
  int rank = 0;
  /// Its process id (0 if it never said).
  long pid = 0;
  /// Why it counts as lost: "its process (pid 4242) ended", "silent for 5012 ms", "task 7 ran past
  /// task_timeout".
  std::string reason;
  /// Items it had been sent and not answered, run again on other ranks (or failed, see retries).
  std::size_t items_rerun = 0;
  /// The pid of the process started in its place (MpiOptions::respawn); 0 if none (yet).
  long replaced_by = 0;
};

namespace detail {

/// The worker count of an MpiPool asking for `workers` (0: all): at most one per rank but 0.
std::size_t mpi_pool_workers(std::size_t workers);

}  // namespace detail

/// Python's multiprocessing.Pool API (see BasicPool) over MPI ranks: rank 0 drives, ranks 1..N-1
/// run the tasks. Functions must be registered plain functions (PARLAB_MPI_TASK) or captureless
/// lambdas; arguments and results travel through codec.hpp. Make MpiPools on rank 0 only, as
/// local variables (not statics): rank 0 ends the worker ranks when its program exits.
class MpiPool : public BasicPool<detail::MpiBackend> {
 public:
  /// A pool over `workers` worker ranks (0, or more than there are: every rank but 0). Starts
  /// MPI if start() has not; on ranks other than 0 this does not return (see start()). Throws
  /// std::runtime_error when the job has a single rank.
  explicit MpiPool(std::size_t workers = 0, MpiOptions options = {})
      : BasicPool(detail::mpi_pool_workers(workers), options) {
    limit_pending(options.max_pending, options.submit_timeout);
  }

  /// Initializes MPI. On rank 0 it returns; on every other rank it serves tasks until rank 0's
  /// program ends, then exits the process with status 0. Call it at the top of main(), so that
  /// worker ranks skip the program's own work; the first MpiPool calls it otherwise. MPI is
  /// finalized when rank 0's program exits.
  static void start();
  /// This process's rank in MPI_COMM_WORLD (starts MPI).
  [[nodiscard]] static int rank();
  /// The number of ranks in the job (starts MPI).
  [[nodiscard]] static int ranks();
  /// The worker ranks lost so far in this job, in the order they were lost (rank 0 only).
  [[nodiscard]] static std::vector<LostRank> lost_ranks();
  /// Whether mpirun was started with Open MPI's recovery (`--enable-recovery`), so that the job
  /// survives a lost rank.
  [[nodiscard]] static bool recovery_enabled();
};

}  // namespace parlab

#define PARLAB_MPI_CONCAT_INNER(a, b) a##b
#define PARLAB_MPI_CONCAT(a, b) PARLAB_MPI_CONCAT_INNER(a, b)

/// Makes the plain function `fn` callable by MpiPool: write it once at namespace scope, in a file
/// linked into the program (e.g. `PARLAB_MPI_TASK(count_words);`). The name as written
/// identifies the function on every rank.
#define PARLAB_MPI_TASK(fn)                                                             \
  [[maybe_unused]] static const bool PARLAB_MPI_CONCAT(parlab_mpi_task_, __COUNTER__) = \
      ::parlab::detail::register_mpi_function(#fn, reinterpret_cast<std::uintptr_t>(&fn))
