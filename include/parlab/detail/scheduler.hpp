#pragma once
/// \file
/// The scheduler of every BasicPool (Pool, ProcessPool, MpiPool): its worker threads, a FIFO of
/// jobs they run chunk by chunk, and waits that help. Each chunk goes to the pool's backend
/// (backend.hpp); the public API is pool.hpp.

#include "parlab/detail/callback_thread.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace parlab::detail {

/// A unit of queued work that workers run chunk by chunk. Several workers may run chunks of the
/// same job at once; a job is finished when its own bookkeeping says so.
class Job {
 public:
  Job() = default;
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  virtual ~Job() = default;

  /// Claims and runs one chunk; false when nothing is claimable now.
  virtual bool run_chunk() = 0;
  /// Whether run_chunk() could claim something now (may be stale; run_chunk decides).
  [[nodiscard]] virtual bool claimable() const = 0;
  /// Drops every unclaimed item (terminate()): their results fail with PoolTerminated.
  virtual void cancel() = 0;
  /// Whether several workers can share this job at once (then submit() wakes them all, rather
  /// than one waking the next, which costs a second wake-up latency).
  [[nodiscard]] virtual bool parallel() const { return true; }

 private:
  friend class Scheduler;
  bool queued_ = false;  // guarded by Scheduler::mu_
};

class Scheduler;
/// The scheduler whose worker runs on this thread, or nullptr.
const Scheduler* current_scheduler() noexcept;
/// The index (0 .. size()-1) of the worker on this thread within current_scheduler().
std::size_t current_worker_index() noexcept;

/// Worker threads running queued jobs.
class Scheduler {
 public:
  explicit Scheduler(std::size_t workers);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  /// Queues a job; throws PoolNotRunning after close() (except from this pool's own workers,
  /// so tasks can still use the pool while it drains) and after terminate().
  void submit(std::shared_ptr<Job> job);
  /// Throws PoolNotRunning where submit() would (for calls that turn out to have no work).
  void check_accepting();
  /// Queues a streaming job (imap) that the workers may drop while its window is full; close()
  /// re-queues it so that queued streams drain before the workers exit.
  void submit_stream(const std::shared_ptr<Job>& job);
  /// Whether close() or terminate() was called.
  [[nodiscard]] bool closing() const noexcept { return closing_.load(std::memory_order_acquire); }
  /// Queues a job again that became claimable after the workers dropped it (imap's window);
  /// false when the pool was terminated and the job will never run.
  bool requeue(const std::shared_ptr<Job>& job);

  void close();
  void terminate();
  void join();

  [[nodiscard]] std::size_t size() const noexcept { return workers_; }
  /// True on one of this scheduler's worker threads.
  [[nodiscard]] bool on_worker_thread() const noexcept;

  /// Blocks until `done()` is true. On a worker thread it runs queued chunks meanwhile, so a
  /// task waiting on its own pool cannot deadlock it.
  void wait_until(const std::function<bool()>& done);
  /// Wakes helping waiters; call after any state change that wait_until() predicates observe.
  void notify_helpers();
  /// The thread that runs this pool's result callbacks; join() lets it finish them.
  CallbackThread& callbacks() noexcept { return callbacks_; }

  /// Backpressure: at most `max_pending` submitted calls unfinished (0: no limit); a submission
  /// from outside the pool then waits up to `submit_timeout` (0: for ever). Set before any
  /// submission.
  void limit_pending(std::size_t max_pending, std::chrono::milliseconds submit_timeout);
  /// Takes a pending slot for one call, blocking while max_pending are taken. The pool's own
  /// workers and callback thread never block (a nested call would deadlock): they take a slot
  /// beyond the limit. Throws TimeoutError after submit_timeout, PoolNotRunning when the pool
  /// closes or terminates meanwhile. False (no slot taken) when there is no limit.
  [[nodiscard]] bool acquire_pending();
  /// Gives back a slot taken by acquire_pending(), when the call's result is ready.
  void release_pending();

 private:
  void worker_loop(std::size_t index);
  void check_accepting_locked() const;
  void enqueue_locked(std::shared_ptr<Job> job);
  std::shared_ptr<Job> take_locked();
  bool run_one();

  enum class State { running, closed, terminated };

  const std::size_t workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // idle workers
  std::condition_variable help_cv_;  // workers blocked in wait_until()
  std::deque<std::shared_ptr<Job>> queue_;
  State state_ = State::running;
  std::size_t active_ = 0;    // workers inside a job
  std::size_t sleepers_ = 0;  // workers waiting on work_cv_
  std::size_t exited_ = 0;    // workers that left worker_loop()
  std::atomic<std::size_t> queued_jobs_{0};
  std::atomic<std::size_t> helpers_waiting_{0};
  std::atomic<bool> closing_{false};
  std::vector<std::weak_ptr<Job>> streams_;  // guarded by mu_
  std::vector<std::thread> threads_;
  std::mutex join_mu_;
  CallbackThread callbacks_;
  // Backpressure: the limits, set by limit_pending() before any submission, then only read;
  // pending_ guarded by mu_.
  std::size_t max_pending_ = 0;
  std::chrono::milliseconds submit_timeout_{0};
  std::condition_variable pending_cv_;  // submitters waiting for a slot
  std::size_t pending_ = 0;
};

/// Spins briefly on `done` before the caller blocks: a result that arrives within microseconds
/// is picked up without a sleep/wake round trip through the kernel.
template <class Pred>
bool spin_until(Pred done, std::chrono::microseconds budget = std::chrono::microseconds{50}) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (unsigned i = 0;; ++i) {
    if (done()) return true;
    // Yield often: on a machine with more runnable threads than cores, the thread we wait for
    // may need this core.
    if ((i & 7U) == 7U) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace parlab::detail
