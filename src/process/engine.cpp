// ProcessPool's engine: the worker processes of one pool and how a chunk runs on them, crashes,
// hangs and all.
//
// Processes: the program → a fork server (fork_server.hpp) → the workers (worker.hpp), forked by
// the fork server on request. Each pool thread drives one worker over a Unix stream socket
// (protocol.hpp), streaming a chunk's tasks to it (stream.hpp). A worker shares one page with the
// program where it records the task it is running, so that when it dies or hangs the program
// knows which task was to blame.

#include "parlab/errors.hpp"
#include "parlab/process_pool.hpp"

#include "fd.hpp"
#include "fork_server.hpp"
#include "memory.hpp"
#include "protocol.hpp"
#include "stream.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parlab::detail {

using process::ChunkCall;
using process::Fd;
using process::ForkServer;
using process::Kind;
using process::RangeStream;
using process::SharedPage;
using process::StreamEnd;
using process::throw_errno;
using process::WorkerLink;

/// The worker processes of one ProcessPool, one slot per pool thread.
class ProcessEngine {
 public:
  ProcessEngine(std::size_t workers, ProcessOptions options);
  ProcessEngine(const ProcessEngine&) = delete;
  ProcessEngine& operator=(const ProcessEngine&) = delete;
  ~ProcessEngine();

  /// Runs tasks [begin, end) on the worker of pool thread `slot`, replacing it when it dies, hangs
  /// or has run max_tasks_per_child tasks; every task's outcome goes to `codec`.
  void run(std::size_t slot, ChunkEntry entry, std::uintptr_t fn, std::size_t begin, std::size_t end,
           ChunkCodec& codec);
  /// Kills the workers: what they were running, and what is left of their chunks, fails with
  /// PoolTerminated.
  void terminate();
  /// Asks the workers to exit, and kills those that do not within a second.
  void shutdown();
  [[nodiscard]] std::vector<long> pids() const;

 private:
  struct Slot {
    std::size_t index = 0;  // worker_index() in its workers
    std::atomic<long> pid{0};
    Fd socket;
    Fd page_fd;  // the shared page, sent to each new worker of this slot
    SharedPage* page = nullptr;
    std::size_t tasks = 0;
    std::exception_ptr init_error;  // the initializer failed in this worker
    std::string payload, frame;     // kept across chunks: their memory is reused
  };

  /// Tasks [first, last) of a chunk.
  struct Range {
    std::size_t first, last;
  };

  /// What run() has left to do of a chunk, and the worker deaths so far.
  struct Work {
    std::deque<Range> todo;
    std::map<std::size_t, unsigned> crashes;  // task index → times its worker died running it
    unsigned anonymous_deaths = 0;            // deaths outside any task (while decoding, idle)
    std::size_t rss_at_kill = 0;              // of the worker last killed for max_memory_hard

    /// Puts [first, last) first in line (nothing if it is empty).
    void push_front(std::size_t first, std::size_t last) {
      if (first < last) todo.push_front({first, last});
    }
  };

  // A worker's life.
  void start(Slot& slot);
  void introduce(Slot& slot);
  void stop(Slot& slot, std::chrono::milliseconds grace);
  int bury(Slot& slot);

  // run()'s steps.
  bool ready_worker(Slot& slot, Range range, ChunkCodec& codec);
  void limit_to_quota(const Slot& slot, Range& range, Work& work) const;
  void retire_if_spent(Slot& slot);
  [[nodiscard]] bool over_memory_soft_limit(const Slot& slot) const;
  void recover(Slot& slot, Range rest, StreamEnd how, ChunkCodec& codec, Work& work);
  void abandon(Slot& slot, Range rest, ChunkCodec& codec);
  [[nodiscard]] std::exception_ptr timeout_error(std::size_t task, long pid) const;

  ProcessOptions options_;
  std::shared_ptr<ForkServer> server_;
  std::vector<Slot> slots_;
  std::atomic<bool> terminating_{false};
};

namespace {

void fail_range(ChunkCodec& codec, std::size_t first, std::size_t last, const std::exception_ptr& error) {
  for (std::size_t i = first; i < last; ++i)
    codec.error(i, error);
}

std::exception_ptr dropped_by_terminate() {
  return std::make_exception_ptr(PoolTerminated("parlab: task dropped by ProcessPool::terminate()"));
}

/// The task of [first, last) that the worker was running when it stopped, if its page says so.
std::optional<std::size_t> running_task(const SharedPage& page, std::size_t first, std::size_t last) {
  const std::uint64_t running = page.running.load();
  if (running == 0 || running - 1 < first || running - 1 >= last) return std::nullopt;
  return static_cast<std::size_t>(running - 1);
}

}  // namespace

ProcessEngine::ProcessEngine(std::size_t workers, ProcessOptions options)
    : options_(options), server_(ForkServer::acquire()), slots_(workers) {
  for (std::size_t i = 0; i < workers; ++i) {
    slots_[i].index = i;
    start(slots_[i]);
  }
}

ProcessEngine::~ProcessEngine() {
  shutdown();
  for (auto& slot : slots_)
    if (slot.page) ::munmap(slot.page, sizeof(SharedPage));
}

void ProcessEngine::run(std::size_t slot_index, ChunkEntry entry, std::uintptr_t fn, std::size_t begin,
                        std::size_t end, ChunkCodec& codec) {
  Slot& slot = slots_.at(slot_index);
  Work work;
  work.todo.push_back({begin, end});
  while (!work.todo.empty()) {
    Range range = work.todo.front();
    work.todo.pop_front();
    if (codec.stop_token().stop_requested()) {  // the job was stopped: nothing more is sent
      for (std::size_t i = range.first; i < range.last; ++i)
        codec.cancelled(i);
      continue;
    }
    if (!ready_worker(slot, range, codec)) continue;
    limit_to_quota(slot, range, work);
    slot.page->running.store(0);
    RangeStream stream{{entry, fn, codec},
                       range.first,
                       range.last,
                       {slot.socket.get(), slot.pid.load(), slot.payload, slot.frame},
                       options_.task_timeout,
                       options_.max_memory_hard};
    const StreamEnd how = stream.run();
    slot.tasks += stream.done() - range.first;
    if (how == StreamEnd::finished) {
      retire_if_spent(slot);
    } else if (how == StreamEnd::cancelled) {
      abandon(slot, {stream.done(), range.last}, codec);
    } else if (stream.done() >= range.last) {  // killed for the last result: it did not decode
      bury(slot);
    } else {
      work.rss_at_kill = stream.rss_at_kill();
      recover(slot, {stream.done(), range.last}, how, codec, work);
    }
  }
}

/// Whether the slot has a worker for `range`, started now if need be; when it cannot have one
/// (the pool is terminating, the worker does not start or its initializer failed), the tasks of
/// `range` fail.
bool ProcessEngine::ready_worker(Slot& slot, Range range, ChunkCodec& codec) {
  if (terminating_.load()) {
    fail_range(codec, range.first, range.last, dropped_by_terminate());
    return false;
  }
  try {
    if (slot.pid.load() == 0) start(slot);
  } catch (...) {
    fail_range(codec, range.first, range.last, std::current_exception());
    return false;
  }
  if (slot.init_error) {
    fail_range(codec, range.first, range.last, slot.init_error);
    bury(slot);
    return false;
  }
  return true;
}

/// With max_tasks_per_child, cuts `range` to the tasks the slot's worker may still run; the rest
/// goes first in line, for the next worker.
void ProcessEngine::limit_to_quota(const Slot& slot, Range& range, Work& work) const {
  if (options_.max_tasks_per_child == 0) return;
  const std::size_t quota = options_.max_tasks_per_child - slot.tasks;
  if (range.last - range.first > quota) {
    work.todo.push_front({range.first + quota, range.last});
    range.last = range.first + quota;
  }
}

/// Ends a worker that has run max_tasks_per_child tasks, or whose memory is over
/// max_memory_per_child; the next range starts a new one.
void ProcessEngine::retire_if_spent(Slot& slot) {
  if ((options_.max_tasks_per_child != 0 && slot.tasks >= options_.max_tasks_per_child) ||
      over_memory_soft_limit(slot)) {
    write_frame(slot.socket.get(), Kind::exit, {});
    stop(slot, std::chrono::seconds{5});
  }
}

/// Whether the slot's worker, between ranges, has a resident set over max_memory_per_child.
bool ProcessEngine::over_memory_soft_limit(const Slot& slot) const {
  if (options_.max_memory_per_child == 0) return false;
  const std::optional<std::size_t> rss = process::resident_bytes(slot.pid.load());
  return rss && *rss > options_.max_memory_per_child;
}

/// The worker died, hung or passed max_memory_hard with tasks `rest` unreported: buries it,
/// blames the task it was running (TimeoutError, MemoryLimitError, or WorkerCrashed once its
/// retries are spent) and puts the others back first in line.
void ProcessEngine::recover(Slot& slot, Range rest, StreamEnd how, ChunkCodec& codec, Work& work) {
  const long pid = slot.pid.load();
  const std::optional<std::size_t> running = running_task(*slot.page, rest.first, rest.last);
  const std::size_t culprit = running.value_or(rest.first);
  const bool timed_out = how == StreamEnd::timed_out;
  if (timed_out) ::kill(static_cast<pid_t>(pid), SIGKILL);
  const int status = bury(slot);
  if (terminating_.load()) {
    fail_range(codec, rest.first, rest.last, dropped_by_terminate());
    return;
  }
  work.push_front(culprit + 1, rest.last);
  if (timed_out) {
    codec.error(culprit, timeout_error(culprit, pid));
  } else if (how == StreamEnd::over_memory && running) {
    codec.error(culprit, std::make_exception_ptr(
                             MemoryLimitError(culprit, pid, options_.max_memory_hard, work.rss_at_kill)));
  } else if (!running && ++work.anonymous_deaths <= 3) {
    work.push_front(culprit, culprit + 1);  // not caught running a task: try again
  } else if (++work.crashes[culprit] <= options_.retries) {
    work.push_front(culprit, culprit + 1);
  } else {
    codec.error(culprit, std::make_exception_ptr(WorkerCrashed(culprit, pid, status)));
  }
  work.push_front(rest.first, culprit);  // finished but not reported before the worker died: run again
}

/// The job was stopped while the slot's worker had tasks `rest` unreported (the stream killed
/// it): buries it, reports those tasks cancelled and starts a new worker in its place.
void ProcessEngine::abandon(Slot& slot, Range rest, ChunkCodec& codec) {
  bury(slot);
  for (std::size_t i = rest.first; i < rest.last; ++i)
    codec.cancelled(i);
  if (terminating_.load()) return;
  try {
    start(slot);
  } catch (...) {  // no worker now: ready_worker starts one for the next chunk, or fails its tasks
  }
}

std::exception_ptr ProcessEngine::timeout_error(std::size_t task, long pid) const {
  return std::make_exception_ptr(TimeoutError("task " + std::to_string(task) +
                                              " ran longer than task_timeout (" +
                                              std::to_string(options_.task_timeout.count()) +
                                              " ms); worker process " + std::to_string(pid) + " was killed"));
}

void ProcessEngine::terminate() {
  terminating_.store(true);
  for (auto& slot : slots_) {
    if (const long pid = slot.pid.load(); pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

void ProcessEngine::shutdown() {
  for (auto& slot : slots_)
    if (slot.pid.load() > 0) write_frame(slot.socket.get(), Kind::exit, {});
  for (auto& slot : slots_)
    stop(slot, std::chrono::milliseconds{1000});
}

std::vector<long> ProcessEngine::pids() const {
  std::vector<long> out;
  for (const auto& slot : slots_)
    out.push_back(slot.pid.load());
  return out;
}

/// Starts a worker in `slot`, tells it its index and runs the initializer in it, if there is one.
void ProcessEngine::start(Slot& slot) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  Fd ours{sv[0]}, theirs{sv[1]};
  if (!slot.page) {
    Fd page_fd{::memfd_create("parlab-worker", MFD_CLOEXEC)};
    if (!page_fd.valid() || ::ftruncate(page_fd.get(), sizeof(SharedPage)) != 0) throw_errno("memfd");
    void* mem = ::mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd.get(), 0);
    if (mem == MAP_FAILED) throw_errno("mmap");
    slot.page = static_cast<SharedPage*>(mem);
    slot.page_fd = std::move(page_fd);
  }
  slot.page->running.store(0);
  const long pid = server_->spawn(theirs.get(), slot.page_fd.get());
  theirs.reset();
  // Our end never blocks: a RangeStream writes arguments and reads results at the same time.
  ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) | O_NONBLOCK);
  slot.socket = std::move(ours);
  slot.tasks = 0;
  slot.init_error = nullptr;
  slot.pid.store(pid);
  introduce(slot);
}

/// Sends the slot's new worker its init frame: its index, and the initializer if there is one,
/// whose failure is kept in slot.init_error. Without an initializer nothing is waited for.
void ProcessEngine::introduce(Slot& slot) {
  const RemoteInitializer& init = options_.initializer;
  std::string payload;
  codec::Writer out{payload};
  out(static_cast<std::uint64_t>(slot.index), static_cast<std::uint8_t>(init ? 1 : 0));
  if (!init) {
    write_frame(slot.socket.get(), Kind::init, payload);  // a worker gone already shows at its first chunk
    return;
  }
  out(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(init.entry())),
      static_cast<std::uint64_t>(init.fn()), std::uint64_t{0}, std::uint64_t{1});
  payload += init.args();
  Kind kind{};
  std::string reply;
  if (write_frame(slot.socket.get(), Kind::init, payload) && read_frame(slot.socket.get(), kind, reply)) {
    if (kind == Kind::ready) return;
    if (kind == Kind::init_failed) {
      std::string type, message;
      codec::Reader{reply}(type, message);
      slot.init_error = std::make_exception_ptr(RemoteError(type, "initializer failed: " + message));
      return;
    }
  }
  const long pid = slot.pid.load();
  const int status = server_->wait_exit(pid, std::chrono::seconds{2});
  slot.init_error = std::make_exception_ptr(
      std::runtime_error("parlab: ProcessPool: worker " + std::to_string(pid) + " died in its initializer (" +
                         describe(std::make_exception_ptr(WorkerCrashed(0, pid, status))) + ")"));
}

/// Ends a worker: waits up to `grace` for it to exit, then kills it.
void ProcessEngine::stop(Slot& slot, std::chrono::milliseconds grace) {
  const long pid = slot.pid.exchange(0);
  slot.socket.reset();
  if (pid <= 0) return;
  if (server_->wait_exit(pid, grace) == -1) {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    if (server_->wait_exit(pid, std::chrono::seconds{5}) == -1) server_->forget(pid);
  }
}

/// The worker died or was killed: its exit status (after it is reaped).
int ProcessEngine::bury(Slot& slot) {
  const long pid = slot.pid.exchange(0);
  slot.socket.reset();
  int status = server_->wait_exit(pid, std::chrono::seconds{5});
  if (status == -1) {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    status = server_->wait_exit(pid, std::chrono::seconds{5});
    if (status == -1) server_->forget(pid);
  }
  return status;
}

ProcessBackend::ProcessBackend(std::size_t workers, ProcessOptions options)
    : chunksize_(options.chunksize), engine_(std::make_unique<ProcessEngine>(workers, options)) {}

ProcessBackend::~ProcessBackend() = default;

void ProcessBackend::run_chunk(ChunkEntry entry, std::uintptr_t fn, std::size_t begin, std::size_t end,
                               ChunkCodec& codec) {
  engine_->run(current_worker_index(), entry, fn, begin, end, codec);
}

void ProcessBackend::terminate() { engine_->terminate(); }
void ProcessBackend::shutdown() { engine_->shutdown(); }
std::vector<long> ProcessBackend::pids() const { return engine_->pids(); }

}  // namespace parlab::detail

void parlab::ProcessPool::start_fork_server() { detail::process::ForkServer::keep_forever(); }
