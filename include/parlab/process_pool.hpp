#pragma once
/// \file
/// parlab::ProcessPool — the Pool API over worker processes that survive crashes.
///
/// Each worker thread of the pool drives one worker process: it sends a chunk of arguments
/// (cereal, codec.hpp), the process runs the calls and streams the results back. A worker that
/// dies fails only the task it was running (WorkerCrashed) and is replaced; a task that runs past
/// `task_timeout` has its worker killed (TimeoutError), as has a task whose result is cancelled
/// (AsyncResult::cancel, a fail-fast map: CancelledError). Workers are forked from a fork server, a
/// single-threaded process started the first time a ProcessPool is made (or earlier, by
/// start_fork_server()), so starting one is safe when the parent already runs threads.

#include "parlab/cpu.hpp"
#include "parlab/detail/remote_call.hpp"
#include "parlab/pool.hpp"
#include "parlab/remote_initializer.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab {

/// How a ProcessPool runs its workers.
struct ProcessOptions {
  /// A task running longer than this has its worker killed and fails with TimeoutError
  /// (0: no limit). Measured between results the worker reports, so it is exact to about 5 ms.
  std::chrono::milliseconds task_timeout{0};
  /// A worker process is replaced after this many tasks (0: never), as Python's
  /// maxtasksperchild.
  std::size_t max_tasks_per_child = 0;
  /// How many times a task whose worker died is run again on a fresh worker before it fails
  /// with WorkerCrashed.
  unsigned retries = 0;
  /// Runs once in each worker process before its first task, replacement workers included:
  /// `{f, args...}` or `f`, with f a plain function or captureless lambda and arguments that
  /// codec.hpp can send (Python's initializer + initargs). If it throws, the tasks sent to that
  /// worker fail with RemoteError("initializer failed: ...").
  RemoteInitializer initializer{};
  /// Items per chunk for map-likes that give none (0: Python's rule, ceil(n / (4 * workers))).
  std::size_t chunksize = 0;
  /// Soft memory limit in bytes (0: none): a worker whose resident set size is over it when it
  /// has finished a chunk (or the part of a chunk it ran) is replaced, as with
  /// max_tasks_per_child. With chunksize 1 that is after every task.
  std::size_t max_memory_per_child = 0;
  /// Hard memory limit in bytes (0: none): a worker seen over it while it runs a task is killed,
  /// that task fails with MemoryLimitError (not retried), the worker is replaced and the rest of
  /// the chunk goes on. The program reads the worker's resident set size every few ms while it
  /// runs, so the worker may pass the limit by what it allocates in that time.
  std::size_t max_memory_hard = 0;
  /// Backpressure: most submitted calls unfinished before a submission blocks (0: no limit), as
  /// PoolOptions::max_pending.
  std::size_t max_pending = 0;
  /// How long a submission blocked by max_pending waits before TimeoutError (0: for ever), as
  /// PoolOptions::submit_timeout.
  std::chrono::milliseconds submit_timeout{0};
};

namespace detail {

class ProcessEngine;

/// The process backend: chunks go to the worker process of the pool thread that claimed them.
class ProcessBackend {
 public:
  ProcessBackend(std::size_t workers, ProcessOptions options);
  ProcessBackend(const ProcessBackend&) = delete;
  ProcessBackend& operator=(const ProcessBackend&) = delete;
  ~ProcessBackend();

  [[nodiscard]] std::size_t default_chunksize(std::size_t items, std::size_t workers) const {
    return remote_chunksize(chunksize_, items, workers);
  }

  template <class Fn, class At, class Sink>
  void run(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
    run_remote(*this, fn, at, begin, end, sink);
  }

  /// Sends one chunk (run_remote's hand-off): `fn` is the function's RemoteFn bits.
  template <class Remote, class Item, class R>
  void send_chunk(std::uintptr_t fn, std::size_t begin, std::size_t end, ChunkCodec& codec) {
    run_chunk(&serve_chunk<typename Remote::type, Item, R>, fn, begin, end, codec);
  }

  /// Kills the workers: tasks running in them fail with PoolTerminated.
  void terminate();
  /// Stops the worker processes (after the pool's threads have exited).
  void shutdown();
  /// Process ids of the current workers (0 for a slot whose worker is being replaced).
  [[nodiscard]] std::vector<long> pids() const;

 private:
  void run_chunk(ChunkEntry entry, std::uintptr_t fn, std::size_t begin, std::size_t end, ChunkCodec& codec);

  std::size_t chunksize_;
  std::unique_ptr<ProcessEngine> engine_;
};

}  // namespace detail

/// Python's multiprocessing.Pool API (see BasicPool) over worker processes: a task that crashes
/// its process fails alone with WorkerCrashed, and the pool goes on. Functions must be plain
/// functions or captureless lambdas; arguments and results travel through codec.hpp.
class ProcessPool : public BasicPool<detail::ProcessBackend> {
 public:
  /// A pool of `workers` processes (default: cpu_count()).
  explicit ProcessPool(std::size_t workers = cpu_count(), ProcessOptions options = {})
      : BasicPool(workers, options) {
    limit_pending(options.max_pending, options.submit_timeout);
  }

  /// Process ids of the worker processes, one per worker (0 while one is being replaced).
  [[nodiscard]] std::vector<long> pids() const { return backend().pids(); }

  /// Starts the fork server now, while the program has a single thread, and keeps it for the
  /// rest of the program. Optional: the first ProcessPool starts it otherwise; calling this at
  /// the top of main() means no worker ever starts from a snapshot taken while other threads
  /// held locks.
  static void start_fork_server();
};

}  // namespace parlab
