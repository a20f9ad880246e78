#include "parlab/mpi_pool.hpp"

#include "parlab/errors.hpp"
#include "parlab/worker.hpp"

#include "demangle.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <dlfcn.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

namespace parlab::detail {
namespace {

// ---- names: the registered functions, the same in every process of the program (chunk entries:
// find_entry, remote_call.hpp) ----

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, std::pair<std::string, std::uintptr_t>> functions;
  std::unordered_map<std::uintptr_t, std::uint64_t> function_ids;
};

Registry& registry() {
  static Registry r;
  return r;
}

/// What MPI says an error code means.
std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

[[noreturn]] void fatal(const std::string& message) {
  std::fprintf(stderr, "parlab: MpiPool: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The symbol name of a function, if the dynamic symbol table has it ("" otherwise).
std::string symbol_name(std::uintptr_t address) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(address), &info) == 0 || info.dli_sname == nullptr) return {};
  std::string name = demangle(info.dli_sname);
  if (const auto paren = name.find('('); paren != std::string::npos) name.resize(paren);
  return name;
}

// ---- messages ----
// task      (rank 0 -> worker): [request u64][task_timeout ms u64][entry u64][function u64][base u64]
//                               [count u64][items...]
// result    (worker -> rank 0): [request u64] then per item [0][value] or [1][type][message]
// stop      (rank 0 -> worker): empty; the worker finalizes MPI and exits.
// hello     (both ways, once):  [pid i64][machine string][rank i32]: who the peer is, for local
//                               death checks; from rank 0, the rank the worker serves as (a
//                               replacement learns it so).
// beat      (rank 0 -> worker): [patience ms u64]: how long the worker may go without hearing from
//                               rank 0 before it takes rank 0 for gone; (worker -> rank 0): empty.
// timed out (worker -> rank 0): [request u64][item u64]: the item ran past task_timeout; the
//                               worker exits after sending it.
constexpr int tag_task = 1;
constexpr int tag_result = 2;
constexpr int tag_stop = 3;
constexpr int tag_hello = 4;
constexpr int tag_beat = 5;
constexpr int tag_timed_out = 6;
/// A task message starts with [request][task_timeout], filled in by Runtime::submit.
constexpr std::size_t task_prefix = 2 * sizeof(std::uint64_t);

/// How often each side sends its heartbeat, and how often a worker's watchdog looks.
constexpr std::chrono::milliseconds beat_interval{100};
/// The least time a worker waits without hearing from rank 0 before it takes it for gone.
constexpr std::chrono::milliseconds least_patience{15000};

using Clock = std::chrono::steady_clock;

[[nodiscard]] std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

/// Which kernel and process-id namespace this process runs in: two ranks with the same one can
/// see each other's processes, so a death shows at once (kill(pid, 0)) rather than by silence.
const std::string& machine_id() {
  static const std::string id = [] {
    std::string boot;
    if (std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
      char line[64] = {};
      if (std::fgets(line, sizeof line, f) != nullptr) boot = line;
      std::fclose(f);
    }
    char ns[64] = {};
    const ssize_t n = ::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (boot.empty() || n <= 0) return std::string{};  // unknown: never taken for the same machine
    return boot + std::string(ns, static_cast<std::size_t>(n));
  }();
  return id;
}

/// Whether the process `pid` (on this machine) has ended: gone, or a zombie when `thorough`.
bool process_ended(long pid, bool thorough) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  if (!thorough) return false;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return true;
  char buffer[512] = {};
  const std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  const std::string_view stat{buffer, n};
  const auto paren = stat.rfind(')');  // "pid (name) S ...": the name may hold anything
  return paren != std::string_view::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

/// Waits between polls: a few quick looks after activity, then sleeps growing to `longest`, so
/// an idle rank costs no CPU the ranks doing work could use (MPI's blocking calls spin).
class Backoff {
 public:
  explicit Backoff(std::chrono::microseconds longest) : longest_(longest) {}
  void reset() { idle_ = 0; }
  void wait() {
    if (++idle_ < 64) {
      std::this_thread::yield();
      return;
    }
    const std::chrono::microseconds step{10LL << std::min<std::uint64_t>(idle_ - 64, 10)};
    std::this_thread::sleep_for(std::min(step, longest_));
  }

 private:
  std::chrono::microseconds longest_;
  std::uint64_t idle_ = 0;
};

/// Aborts the job unless an MPI call succeeded (`code`), saying which call (`what`) failed.
void require_mpi_success(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  fatal(std::string(what) + " failed: " + mpi_error_text(code));
}

/// What a worker rank is running, for its watchdog: which item, and its time limit. `step` counts
/// items begun and ended (odd: one runs), so that the watchdog, seeing the same odd step on two
/// looks, knows one item has run since the first; an item costs two plain stores, no clock.
struct Progress {
  std::atomic<std::uint64_t> step{0};
  std::atomic<std::uint64_t> request{0};
  std::atomic<std::uint64_t> index{0};
  std::atomic<std::uint64_t> timeout_ms{0};
};

/// Writes a worker's outcomes into the reply, and which item runs into `progress`.
class ReplyWriter final : public ResultWriter {
 public:
  ReplyWriter(codec::Writer& out, Progress& progress) : out_(out), progress_(progress) {}
  void begin(std::uint64_t index) override {
    progress_.index.store(index, std::memory_order_relaxed);
    progress_.step.store(++step_, std::memory_order_release);
  }
  codec::Writer& ok() override { return write_ok(out_); }
  void fail(const std::exception_ptr& error) override { write_error(out_, error); }
  void end() override {
    progress_.step.store(++step_, std::memory_order_release);
    ++done_;
  }
  [[nodiscard]] std::uint64_t done() const { return done_; }

 private:
  codec::Writer& out_;
  Progress& progress_;
  std::uint64_t step_ = progress_.step.load(std::memory_order_relaxed);
  std::uint64_t done_ = 0;
};

/// Runs one task message on a worker rank, writing the outcomes into `reply`.
void serve_task(const std::string& task, int rank, std::string& reply, Progress& progress) {
  reply.clear();
  codec::Writer out{reply};
  codec::Reader in{task};
  std::uint64_t request = 0, timeout_ms = 0, entry_id = 0, fn_id = 0, base = 0, count = 0;
  in(request, timeout_ms, entry_id, fn_id, base, count);
  progress.request.store(request);
  progress.timeout_ms.store(timeout_ms);
  out(request);
  ReplyWriter writer{out, progress};
  const auto fail_rest = [&](const std::exception_ptr& error) {
    while (writer.done() < count) {
      writer.fail(error);
      writer.end();
    }
  };
  const ChunkEntry entry = find_entry(entry_id);
  std::uintptr_t fn = 0;
  {
    auto& r = registry();
    std::lock_guard lock{r.mutex};
    if (const auto it = r.functions.find(fn_id); it != r.functions.end()) fn = it->second.second;
  }
  if (entry == nullptr || (fn_id != 0 && fn == 0)) {
    fail_rest(std::make_exception_ptr(
        std::runtime_error("parlab: MpiPool: rank " + std::to_string(rank) +
                           " does not know this task; every rank must run the same program binary")));
    return;
  }
  try {
    entry(fn, base, count, in, writer);
  } catch (...) {  // an item that does not decode: it and the rest of the chunk fail
    fail_rest(std::current_exception());
  }
  if (progress.step.load(std::memory_order_relaxed) % 2 != 0)  // an item that threw out of entry()
    progress.step.fetch_add(1, std::memory_order_release);
}

/// What a hello says: the sender's pid, whether it shares this machine, and (from rank 0) the
/// rank the receiver serves as.
struct Hello {
  long pid = 0;
  long local_pid = 0;  ///< pid if the sender shares this machine, else 0
  int slot = 0;
};

std::string write_hello(int slot) {
  std::string hello;
  codec::Writer{hello}(static_cast<std::int64_t>(::getpid()), machine_id(), static_cast<std::int32_t>(slot));
  return hello;
}

Hello read_hello(const std::string& message) {
  std::int64_t pid = 0;
  std::string machine;
  std::int32_t slot = 0;
  codec::Reader{message}(pid, machine, slot);
  const bool local = !machine.empty() && machine == machine_id();
  return {static_cast<long>(pid), local ? static_cast<long>(pid) : 0, static_cast<int>(slot)};
}

/// A worker rank: serves tasks from rank 0 until told to stop. Its MPI calls are non-blocking
/// and made under one mutex (MPI_THREAD_SERIALIZED), so its watchdog thread can send heartbeats
/// while a task runs, end a task past its time limit, and end the rank when rank 0 is gone.
class WorkerRank {
 public:
  /// `comm`: where rank 0 is rank 0 (MPI_COMM_WORLD, or the parent of a replacement rank);
  /// `rank0_pid`: rank 0's pid if it is known already and shares this machine.
  WorkerRank(int rank, MPI_Comm comm, long rank0_pid)
      : rank_(rank), comm_(comm), heard_ms_(now_ms()), rank0_pid_(rank0_pid) {}

  [[noreturn]] void serve() {
    const std::string hello = write_hello(rank_);
    MPI_Request hello_sent = MPI_REQUEST_NULL;
    {
      std::lock_guard lock{mpi_};
      require_mpi_success(MPI_Isend(hello.data(), static_cast<int>(hello.size()), MPI_BYTE, 0, tag_hello,
                                    comm_, &hello_sent),
                          "MPI_Isend");
    }
    std::jthread watchdog{[this](std::stop_token stop) { watch(stop); }};
    Backoff backoff{std::chrono::milliseconds{1}};
    std::string message, reply;
    while (true) {
      int ready = 0;
      MPI_Status status{};
      {
        std::lock_guard lock{mpi_};
        require_mpi_success(MPI_Iprobe(0, MPI_ANY_TAG, comm_, &ready, &status), "MPI_Iprobe");
        if (ready != 0) {
          int bytes = 0;
          MPI_Get_count(&status, MPI_BYTE, &bytes);
          message.resize(static_cast<std::size_t>(bytes));
          require_mpi_success(MPI_Recv(message.data(), bytes, MPI_BYTE, 0, status.MPI_TAG, comm_,
                                       MPI_STATUS_IGNORE),
                              "MPI_Recv");
        }
      }
      if (ready == 0) {
        backoff.wait();
        continue;
      }
      backoff.reset();
      heard_ms_.store(now_ms());
      if (status.MPI_TAG == tag_stop) break;
      if (status.MPI_TAG == tag_hello) {
        rank0_pid_.store(read_hello(message).local_pid);
      } else if (status.MPI_TAG == tag_beat) {
        std::uint64_t patience = 0;
        codec::Reader{message}(patience);
        heard(patience);
      } else if (status.MPI_TAG == tag_task) {
        serve_task(message, rank_, reply, progress_);
        if (reply.size() > INT_MAX)
          fatal("a chunk's results are over MPI's 2 GiB message limit; use a smaller chunksize");
        send_and_wait(reply, tag_result);
      }
    }
    watchdog.request_stop();
    watchdog.join();
    complete(hello_sent);
    complete(beat_sent_);
    MPI_Finalize();
    std::exit(0);
  }

 private:
  /// Sends `bytes` to rank 0 and waits until MPI is done with them, letting the watchdog in.
  void send_and_wait(const std::string& bytes, int tag) {
    MPI_Request request = MPI_REQUEST_NULL;
    {
      std::lock_guard lock{mpi_};
      require_mpi_success(
          MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, tag, comm_, &request),
          "MPI_Isend");
    }
    complete(request);
  }

  /// Waits for `request`, testing it as fast as MPI_Wait would (a large reply moves only while
  /// MPI is called; MPI_Test yields the CPU itself when nothing moved), stepping aside when the
  /// watchdog wants in.
  void complete(MPI_Request& request) {
    while (true) {
      int done = 0;
      {
        std::lock_guard lock{mpi_};
        require_mpi_success(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      }
      if (done != 0) return;
      if (watchdog_waits_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }

  /// The watchdog: a heartbeat to rank 0 every beat_interval; the rank ends itself when an item
  /// runs past its time limit (after telling rank 0 which) or when rank 0 is gone.
  void watch(const std::stop_token& stop) {
    std::mutex m;
    std::condition_variable_any tick;
    std::unique_lock lock{m};
    std::uint64_t step = 0;       // the item running at the last look (an odd step)
    std::int64_t step_since = 0;  // when that look was
    while (true) {
      tick.wait_for(lock, stop, beat_interval, [] { return false; });
      if (stop.stop_requested()) return;
      exchange_beats();
      const std::int64_t now = now_ms();
      const std::uint64_t current = progress_.step.load(std::memory_order_acquire);
      if (current % 2 == 0 || current != step) {
        step = current;
        step_since = now;
      } else if (const std::uint64_t timeout = progress_.timeout_ms.load();
                 timeout != 0 && now - step_since >= static_cast<std::int64_t>(timeout)) {
        const std::uint64_t index = progress_.index.load(std::memory_order_relaxed);
        if (progress_.step.load(std::memory_order_acquire) == current)
          time_out(progress_.request.load(), index, timeout);
      }
      if (const long pid = rank0_pid_.load(); pid != 0 && process_ended(pid, true))
        leave("rank 0 (pid " + std::to_string(pid) + ") has ended");
      if (now - heard_ms_.load() > static_cast<std::int64_t>(patience_ms_.load()))
        leave("nothing heard from rank 0 for " + std::to_string(now - heard_ms_.load()) + " ms");
    }
  }

  /// Sends rank 0 a heartbeat unless the last one is still on its way, and takes rank 0's (the
  /// main thread does not look for messages while a task runs). Waits at most 20 ms for MPI: the
  /// main thread may be stuck in a receive from a rank 0 that is gone.
  void exchange_beats() {
    watchdog_waits_.store(true, std::memory_order_relaxed);
    std::unique_lock lock{mpi_, std::try_to_lock};
    for (int tries = 0; !lock.owns_lock() && tries < 200; ++tries) {
      std::this_thread::sleep_for(std::chrono::microseconds{100});
      lock.try_lock();
    }
    watchdog_waits_.store(false, std::memory_order_relaxed);
    if (lock.owns_lock()) exchange_beats_locked();
  }

  void exchange_beats_locked() {
    int sent = 1;
    if (beat_sent_ != MPI_REQUEST_NULL) MPI_Test(&beat_sent_, &sent, MPI_STATUS_IGNORE);
    if (sent != 0) MPI_Isend(nullptr, 0, MPI_BYTE, 0, tag_beat, comm_, &beat_sent_);
    for (int ready = 1; ready != 0;) {
      MPI_Status status{};
      if (MPI_Iprobe(0, tag_beat, comm_, &ready, &status) != MPI_SUCCESS || ready == 0) return;
      int bytes = 0;
      MPI_Get_count(&status, MPI_BYTE, &bytes);
      std::string message(static_cast<std::size_t>(bytes), '\0');
      MPI_Recv(message.data(), bytes, MPI_BYTE, 0, tag_beat, comm_, MPI_STATUS_IGNORE);
      std::uint64_t patience = 0;
      codec::Reader{message}(patience);
      heard(patience);
    }
  }

  /// A heartbeat from rank 0 came, saying how long to wait for the next.
  void heard(std::uint64_t patience) {
    heard_ms_.store(now_ms());
    patience_ms_.store(std::max<std::uint64_t>(patience, least_patience.count()));
  }

  /// Tells rank 0 that item `index` of `request` ran past `timeout` ms, then ends this rank.
  [[noreturn]] void time_out(std::uint64_t request, std::uint64_t index, std::uint64_t timeout) {
    std::string report;
    codec::Writer{report}(request, index);
    const std::int64_t deadline = now_ms() + 2000;
    MPI_Request sent = MPI_REQUEST_NULL;
    std::lock_guard lock{mpi_};  // the task runs: the main thread makes no MPI call now
    MPI_Isend(report.data(), static_cast<int>(report.size()), MPI_BYTE, 0, tag_timed_out, comm_, &sent);
    for (int done = 0; done == 0 && now_ms() < deadline;) {
      MPI_Test(&sent, &done, MPI_STATUS_IGNORE);
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    leave("task " + std::to_string(index) + " ran past task_timeout (" + std::to_string(timeout) + " ms)");
  }

  [[noreturn]] void leave(const std::string& why) const {
    std::fprintf(stderr, "parlab: MpiPool: rank %d exits: %s\n", rank_, why.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }

  int rank_;
  MPI_Comm comm_;
  std::mutex mpi_;
  Progress progress_;
  MPI_Request beat_sent_ = MPI_REQUEST_NULL;  // under mpi_
  std::atomic<bool> watchdog_waits_{false};   // the watchdog wants mpi_
  std::atomic<std::int64_t> heard_ms_;        // when a message from rank 0 last came
  std::atomic<std::uint64_t> patience_ms_{static_cast<std::uint64_t>(least_patience.count())};
  std::atomic<long> rank0_pid_;  // rank 0's pid when it runs on this machine
};

/// A task's answer on rank 0: the worker's reply, or why there is none.
struct Reply {
  enum class Status {
    answered,       ///< `bytes` holds the worker's reply
    lost_running,   ///< the rank was lost while it ran this task (or was about to)
    lost_unstarted  ///< the rank was lost before it came to this task
  };
  Status status = Status::answered;
  std::string bytes;
  /// lost_running: the item the rank reported past task_timeout, if that is why it was lost.
  std::optional<std::uint64_t> timed_out;
  /// lost_*: the lost rank's pid (0 if it never said).
  long pid = 0;
};

/// MPI for this process: initialized once, finalized at exit. On rank 0 a communication thread
/// makes every MPI call: it sends the pools' tasks, takes the replies, exchanges heartbeats and
/// finds lost ranks; pool threads hand it tasks and wait for the replies.
class Runtime {
 public:
  static Runtime& get() {
    static Runtime runtime;
    return runtime;
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }

  /// Worker ranks: serve tasks until rank 0 says stop, then finalize and exit.
  [[noreturn]] void serve() {
    if (serving_)  // a task on this worker rank made an MpiPool
      throw std::logic_error(
          "parlab: MpiPool: only rank 0 makes pools; a task running on a worker rank cannot");
    serving_ = true;
    set_remote_worker_index(static_cast<std::size_t>(rank_ - 1));  // the pool thread that drives this rank
    finalized_ = true;  // WorkerRank finalizes
    WorkerRank{rank_, parent_ == MPI_COMM_NULL ? MPI_COMM_WORLD : parent_, rank0_pid_}.serve();
  }

  /// Rank 0: queues `task` (its first task_prefix bytes are overwritten with the request id and
  /// `timeout`) for `rank`; wait() takes the reply. Tasks to one rank run in the order they were
  /// submitted.
  std::uint64_t submit(int rank, std::string task, std::chrono::milliseconds timeout) {
    if (task.size() > INT_MAX)
      throw std::length_error("parlab: MpiPool: a task of " + std::to_string(task.size()) +
                              " bytes is over MPI's 2 GiB message limit");
    std::uint64_t request = 0;
    const auto timeout_ms = static_cast<std::uint64_t>(timeout.count());
    {
      std::lock_guard lock{mutex_};
      request = ++last_request_;
      std::memcpy(task.data(), &request, sizeof request);
      std::memcpy(task.data() + sizeof request, &timeout_ms, sizeof timeout_ms);
      auto& pending = pending_[request];
      pending.rank = rank;
      if (peers_[static_cast<std::size_t>(rank)].lost) {
        pending.reply = Reply{Reply::Status::lost_unstarted, {}, {}, peers_[static_cast<std::size_t>(rank)].pid};
        return request;
      }
      outbox_.push_back({rank, std::move(task)});
      ++unanswered_;
    }
    wake_.notify_one();
    return request;
  }

  /// Rank 0: the reply to a submitted request, once it has come or its rank is lost. A rank not
  /// heard from for `silence` (0: no limit) is lost.
  Reply wait(std::uint64_t request, std::chrono::milliseconds silence) {
    std::unique_lock lock{mutex_};
    const auto it = pending_.find(request);
    const auto rank = static_cast<std::size_t>(it->second.rank);
    while (!it->second.reply) {
      const std::int64_t quiet = now_ms() - peers_[rank].heard_ms;
      if (silence.count() > 0 && quiet > silence.count()) {
        lose(lock, it->second.rank, "silent for " + std::to_string(quiet) + " ms", {});
        continue;
      }
      replied_.wait_for(lock, beat_interval);
    }
    Reply reply = std::move(*it->second.reply);
    pending_.erase(it);
    return reply;
  }

  /// Rank 0: `rank` if it is not lost, else the next worker rank after it that is not; 0 if
  /// every worker rank is lost.
  [[nodiscard]] int live_rank(int rank) {
    std::unique_lock lock{mutex_};
    while (true) {
      for (int k = 0; k < size_ - 1; ++k) {
        const int r = 1 + (rank - 1 + k) % (size_ - 1);
        if (!peers_[static_cast<std::size_t>(r)].lost) return r;
      }
      if (to_replace_.empty()) return 0;
      replied_.wait(lock);  // a replacement is on its way
    }
  }

  /// How many times `rank` was replaced.
  [[nodiscard]] std::uint64_t generation(int rank) {
    std::lock_guard lock{mutex_};
    return peers_[static_cast<std::size_t>(rank)].generation;
  }

  /// Rank 0: `items` that `rank` was lost with (its latest loss) go to other ranks again.
  void count_rerun(int rank, std::size_t items) {
    std::lock_guard lock{mutex_};
    for (auto l = lost_.rbegin(); l != lost_.rend(); ++l)
      if (l->rank == rank) {
        l->items_rerun += items;
        return;
      }
  }

  [[nodiscard]] std::vector<LostRank> lost_ranks() {
    std::lock_guard lock{mutex_};
    return lost_;
  }

  /// Rank 0: a pool's heartbeat_timeout (workers wait for rank 0 at least three times the
  /// longest), and whether it wants lost ranks replaced (then they are, for every pool).
  void announce(std::chrono::milliseconds silence, bool respawn) {
    std::lock_guard lock{mutex_};
    patience_ms_ = std::max<std::uint64_t>(patience_ms_, 3 * static_cast<std::uint64_t>(silence.count()));
    if (respawn && !respawn_) {
      respawn_ = true;
      for (int r = 1; r < size_; ++r)
        if (peers_[static_cast<std::size_t>(r)].lost) to_replace_.push_back(r);
    }
  }

  [[nodiscard]] static bool recovery_enabled() {
    const char* value = std::getenv("OMPI_MCA_orte_enable_recovery");
    return value != nullptr && (std::strcmp(value, "1") == 0 || std::strcmp(value, "true") == 0);
  }

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

 private:
  struct Outgoing {
    int rank;
    std::string bytes;
  };
  /// A message on its way, in a list node so that its bytes stay where MPI reads them. Both
  /// kinds are the communication thread's.
  struct Sending {
    int rank;
    std::uint64_t generation;  // of the peer it went to (a replaced rank's is older)
    std::string bytes;
    MPI_Request request;
    bool beat;
  };
  struct Receiving {
    int rank;
    std::uint64_t generation;  // of the peer it comes from
    int tag;
    std::string bytes;
    MPI_Request request;
  };
  struct Pending {
    int rank = 0;
    std::optional<Reply> reply;
  };
  struct Peer {
    MPI_Comm comm = MPI_COMM_WORLD;  // a replacement: the communicator its spawn made
    int target = 0;                  // its rank in comm
    std::uint64_t generation = 0;    // how many times it was replaced
    long pid = 0;
    bool local = false;        // on this machine: its death shows by its pid
    bool lost = false;
    std::int64_t heard_ms = 0;  // when a message from it last came
    bool beat_sent = false;     // a heartbeat to it is on its way
  };

  Runtime() {
    if (!launched_by_mpirun()) return;  // a job of one rank: no MPI to start
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized != 0)
      fatal("MPI was initialized before parlab's; call parlab::MpiPool::start() instead of MPI_Init");
    // Open MPI: an idle rank yields the CPU rather than spinning at full speed, unless the user
    // says otherwise (ranks often share cores with the work).
    ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    // Under recovery MPI_Finalize would wait for ranks that are gone.
    if (recovery_enabled()) ::setenv("OMPI_MCA_async_mpi_finalize", "1", 0);
#if defined(__SANITIZE_ADDRESS__)
    // Open MPI keeps allocations until exit and unloads its plugins first, so LeakSanitizer's
    // end-of-process check would report them with frames no suppression can name. Check this
    // program's leaks now, before MPI starts; there is no end-of-process check after this.
    __lsan_do_leak_check();
#endif
    initialized_ = true;
    int provided = 0;
    require_mpi_success(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided),
                        "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED)
      fatal("this MPI does not allow calls from a thread other than main");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // A failed call toward one rank is that rank's loss, not the job's.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    MPI_Comm_get_parent(&parent_);
    if (parent_ != MPI_COMM_NULL) {  // a replacement rank: rank 0 says which rank it stands for
      MPI_Comm_set_errhandler(parent_, MPI_ERRORS_RETURN);
      MPI_Status status{};
      const std::int64_t deadline = now_ms() + least_patience.count();
      for (int ready = 0; ready == 0;) {
        require_mpi_success(MPI_Iprobe(0, tag_hello, parent_, &ready, &status), "MPI_Iprobe");
        if (ready == 0 && now_ms() > deadline) fatal("a replacement rank heard nothing from rank 0");
        if (ready == 0) std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
      int bytes = 0;
      MPI_Get_count(&status, MPI_BYTE, &bytes);
      std::string message(static_cast<std::size_t>(bytes), '\0');
      require_mpi_success(MPI_Recv(message.data(), bytes, MPI_BYTE, 0, tag_hello, parent_, MPI_STATUS_IGNORE),
                          "MPI_Recv");
      const Hello hello = read_hello(message);
      rank_ = hello.slot;
      rank0_pid_ = hello.local_pid;
      return;
    }
    if (rank_ != 0 || size_ < 2) return;
    read_command_line();
    peers_.resize(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      peers_[static_cast<std::size_t>(r)].target = r;
      peers_[static_cast<std::size_t>(r)].heard_ms = now_ms();
    }
    comm_ = std::thread([this] { communicate(); });
  }

  ~Runtime() {
    if (!initialized_ || finalized_) return;
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
    }
    wake_.notify_one();
    if (comm_.joinable()) comm_.join();
    if (rank_ == 0) {
      stop_workers();
      report_losses();
    }
    MPI_Finalize();
  }

  /// This program and its arguments, as a replacement rank is started with (/proc/self).
  void read_command_line() {
    std::error_code error;
    program_ = std::filesystem::read_symlink("/proc/self/exe", error).string();
    std::ifstream in{"/proc/self/cmdline", std::ios::binary};
    const std::string line{std::istreambuf_iterator<char>(in), {}};
    if (error || line.empty()) return;  // no replacements: MPI_Comm_spawn is not tried
    for (std::size_t start = line.find('\0') + 1; start < line.size();) {  // argv[1...]
      const std::size_t end = line.find('\0', start);
      arguments_.push_back(line.substr(start, end - start));
      start = end == std::string::npos ? line.size() : end + 1;
    }
    for (auto& argument : arguments_)
      spawn_argv_.push_back(argument.data());
    spawn_argv_.push_back(nullptr);
  }

  /// Tells every worker rank not lost to stop, waiting at most two seconds for the messages to go.
  void stop_workers() {
    std::vector<MPI_Request> stops;
    for (int r = 1; r < size_; ++r)
      if (const auto& peer = peers_[static_cast<std::size_t>(r)]; !peer.lost)
        MPI_Isend(nullptr, 0, MPI_BYTE, peer.target, tag_stop, peer.comm, &stops.emplace_back(MPI_REQUEST_NULL));
    const std::int64_t deadline = now_ms() + 2000;
    for (int done = 0; done == 0 && now_ms() < deadline;) {
      MPI_Testall(static_cast<int>(stops.size()), stops.data(), &done, MPI_STATUSES_IGNORE);
      if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }

  /// Rank 0's last word on the job: every rank it lost, and what ran again elsewhere.
  void report_losses() const {
    for (const auto& l : lost_) {
      const std::string replaced =
          l.replaced_by != 0 ? "; process " + std::to_string(l.replaced_by) + " took its place" : "";
      std::fprintf(stderr,
                   "parlab: MpiPool: rank %d (pid %ld) was lost (%s); %zu item(s) it had not answered "
                   "were sent to other ranks%s\n",
                   l.rank, l.pid, l.reason.c_str(), l.items_rerun, replaced.c_str());
    }
    std::fflush(stderr);
  }

  /// Marks `rank` lost (under `lock`): its unanswered requests are answered "lost" — the oldest
  /// as the one it ran, unless `timed_out` names the request and item it reported — and its
  /// process, if it shares this machine, is killed (it may be hung or cut off).
  void lose(std::unique_lock<std::mutex>& lock, int rank, std::string reason,
            std::optional<std::pair<std::uint64_t, std::uint64_t>> timed_out) {
    auto& peer = peers_[static_cast<std::size_t>(rank)];
    if (peer.lost) return;
    peer.lost = true;
    lost_.push_back({rank, peer.pid, std::move(reason), 0, 0});
    if (respawn_) to_replace_.push_back(rank);
    bool running_found = false;
    for (auto& [request, pending] : pending_) {  // in request order: the order the rank runs them
      if (pending.rank != rank || pending.reply) continue;
      Reply reply{Reply::Status::lost_unstarted, {}, {}, peer.pid};
      if (timed_out ? request == timed_out->first : !running_found) {
        reply.status = Reply::Status::lost_running;
        if (timed_out) reply.timed_out = timed_out->second;
        running_found = true;
      }
      pending.reply = std::move(reply);
      --unanswered_;
    }
    if (peer.local && peer.pid > 0 && !process_ended(peer.pid, true)) ::kill(static_cast<pid_t>(peer.pid), SIGKILL);
    lock.unlock();
    replied_.notify_all();
    lock.lock();
  }

  /// The communication thread: sends queued tasks, takes replies, hands them to their waiters,
  /// exchanges heartbeats and looks for ranks that ended.
  void communicate() {
    for (int r = 1; r < size_; ++r)
      send(r, tag_hello, write_hello(r));
    Backoff backoff{std::chrono::microseconds{200}};
    std::deque<Outgoing> batch;
    std::int64_t next_beat = 0, next_look = 0;
    while (true) {
      {
        std::unique_lock lock{mutex_};
        if (outbox_.empty() && unanswered_ == 0 && sending_.empty() && receiving_.empty()) {
          if (stopping_) return;
          wake_.wait_for(lock, beat_interval, [&] { return stopping_ || !outbox_.empty(); });
        }
        batch.swap(outbox_);
      }
      bool active = !batch.empty();
      for (auto& out : batch)
        send(out.rank, tag_task, std::move(out.bytes));
      batch.clear();
      for (auto it = sending_.begin(); it != sending_.end();) {
        const auto next = std::next(it);
        int sent = 0;
        if (const int code = MPI_Test(&it->request, &sent, MPI_STATUS_IGNORE); code != MPI_SUCCESS) {
          lose(it->rank, it->generation, "MPI_Test failed: " + mpi_error_text(code));
          sent = 1;  // MPI is done with it
        }
        if (sent != 0) {
          if (it->beat) beat_arrived(it->rank, it->generation);
          sending_.erase(it);
        } else if (!current(it->rank, it->generation)) {
          // To a rank given up: it may never complete, and MPI may still read the bytes.
          MPI_Request_free(&it->request);
          abandoned_sends_.splice(abandoned_sends_.end(), sending_, it);
        }
        it = next;
      }
      while (receive())
        active = true;
      finish_receives();
      if (!receiving_.empty()) active = true;  // a large message moves only while MPI is called
      replace_lost_ranks();
      const std::int64_t now = now_ms();
      if (now >= next_look) {
        look_for_ended_ranks(now >= next_beat);
        next_look = now + 5;
      }
      if (now >= next_beat) {
        beat();
        next_beat = now + beat_interval.count();
      }
      if (active) {
        backoff.reset();
      } else {
        backoff.wait();
      }
    }
  }

  /// Sends `bytes` to `rank` (unless it is lost); sending_ keeps them until MPI is done with them
  /// (for a lost rank, for ever: MPI may still read them).
  void send(int rank, int tag, std::string bytes, bool is_beat = false) {
    MPI_Comm comm = MPI_COMM_NULL;
    int target = 0;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock{mutex_};
      const auto& peer = peers_[static_cast<std::size_t>(rank)];
      if (peer.lost) return;
      comm = peer.comm;
      target = peer.target;
      generation = peer.generation;
    }
    auto& s = sending_.emplace_back(Sending{rank, generation, std::move(bytes), MPI_REQUEST_NULL, is_beat});
    if (const int code =
            MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, target, tag, comm, &s.request);
        code != MPI_SUCCESS)
      lose(rank, generation, "MPI_Isend failed: " + mpi_error_text(code));
  }

  /// Whether `rank` is not lost and has not been replaced since `generation`.
  [[nodiscard]] bool current(int rank, std::uint64_t generation) {
    std::lock_guard lock{mutex_};
    const auto& peer = peers_[static_cast<std::size_t>(rank)];
    return !peer.lost && peer.generation == generation;
  }

  /// A heartbeat to `rank` (as it was at `generation`) has gone: the next may follow.
  void beat_arrived(int rank, std::uint64_t generation) {
    std::lock_guard lock{mutex_};
    if (auto& peer = peers_[static_cast<std::size_t>(rank)]; peer.generation == generation) peer.beat_sent = false;
  }

  /// Loses `rank` unless it was replaced since `generation`.
  void lose(int rank, std::uint64_t generation, std::string reason) {
    std::unique_lock lock{mutex_};
    if (peers_[static_cast<std::size_t>(rank)].generation == generation) lose(lock, rank, std::move(reason), {});
  }

  /// Starts a process in the place of each rank lost since the last look (MpiOptions::respawn):
  /// the program again, with its arguments, through MPI_Comm_spawn.
  void replace_lost_ranks() {
    while (true) {
      int rank = 0;
      {
        std::lock_guard lock{mutex_};
        if (to_replace_.empty()) return;
        rank = to_replace_.front();
      }
      MPI_Comm child = MPI_COMM_NULL;
      int error = MPI_SUCCESS;
      int code = spawn_argv_.empty() ? MPI_ERR_OTHER
                                     : MPI_Comm_spawn(program_.c_str(), spawn_argv_.data(), 1, MPI_INFO_NULL, 0,
                                                      MPI_COMM_SELF, &child, &error);
      if (code == MPI_SUCCESS) code = error;
      std::unique_lock lock{mutex_};
      to_replace_.pop_front();
      if (code != MPI_SUCCESS) {
        std::fprintf(stderr, "parlab: MpiPool: rank %d was not replaced (MPI_Comm_spawn: %s); the pools go on without it\n",
                     rank, mpi_error_text(code).c_str());
        lock.unlock();
        replied_.notify_all();
        continue;
      }
      MPI_Comm_set_errhandler(child, MPI_ERRORS_RETURN);
      auto& peer = peers_[static_cast<std::size_t>(rank)];
      peer.comm = child;
      peer.target = 0;
      ++peer.generation;
      peer.pid = 0;
      peer.local = false;
      peer.lost = false;
      peer.beat_sent = false;
      peer.heard_ms = now_ms();
      lock.unlock();
      send(rank, tag_hello, write_hello(rank));
      replied_.notify_all();  // live_rank() may wait for it
    }
  }

  /// Takes one message from a worker rank, if one has come: from the job's ranks, or from a
  /// rank started in a lost one's place.
  bool receive() {
    if (receive(MPI_COMM_WORLD, MPI_ANY_SOURCE)) return true;
    for (int r = 1; r < size_; ++r)  // peers_[r].comm is written by this thread alone
      if (const MPI_Comm comm = peers_[static_cast<std::size_t>(r)].comm; comm != MPI_COMM_WORLD && receive(comm, r))
        return true;
    return false;
  }

  /// Starts taking one message from `comm`, if one has come: from any rank of the job
  /// (MPI_COMM_WORLD, `rank` MPI_ANY_SOURCE), or from the replacement of `rank`. The receive
  /// does not block: a rank that dies halfway through a large message must not stop this thread.
  bool receive(MPI_Comm comm, int rank) {
    int ready = 0;
    MPI_Message matched = MPI_MESSAGE_NULL;
    MPI_Status status{};
    require_mpi_success(
        MPI_Improbe(comm == MPI_COMM_WORLD ? MPI_ANY_SOURCE : 0, MPI_ANY_TAG, comm, &ready, &matched, &status),
        "MPI_Improbe");
    if (ready == 0) return false;
    int bytes = 0;
    MPI_Get_count(&status, MPI_BYTE, &bytes);
    const int source = comm == MPI_COMM_WORLD ? status.MPI_SOURCE : rank;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock{mutex_};
      const auto& peer = peers_[static_cast<std::size_t>(source)];
      generation = peer.comm == comm ? peer.generation : ~std::uint64_t{0};  // ~0: from a rank since replaced
    }
    auto& r = receiving_.emplace_back(
        Receiving{source, generation, status.MPI_TAG, std::string(static_cast<std::size_t>(bytes), '\0'), MPI_REQUEST_NULL});
    require_mpi_success(MPI_Imrecv(r.bytes.data(), bytes, MPI_BYTE, &matched, &r.request), "MPI_Imrecv");
    return true;
  }

  /// Hands on the messages that have come in full; gives up those from ranks lost meanwhile.
  void finish_receives() {
    for (auto it = receiving_.begin(); it != receiving_.end();) {
      const auto next = std::next(it);
      int done = 0;
      const int code = MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
      if (code == MPI_SUCCESS && done != 0) {
        if (current(it->rank, it->generation)) take(it->rank, it->tag, std::move(it->bytes));
        receiving_.erase(it);
      } else if (code != MPI_SUCCESS || !current(it->rank, it->generation)) {
        lose(it->rank, it->generation, "a message from it broke off: " + mpi_error_text(code));
        if (code == MPI_SUCCESS) MPI_Cancel(&it->request);
        MPI_Request_free(&it->request);
        abandoned_receives_.splice(abandoned_receives_.end(), receiving_, it);  // MPI may still write
      }
      it = next;
    }
  }

  /// A whole message from `source`, which is not lost.
  void take(int source, int tag, std::string message) {
    std::unique_lock lock{mutex_};
    auto& peer = peers_[static_cast<std::size_t>(source)];
    peer.heard_ms = now_ms();
    if (tag == tag_hello) {
      const Hello hello = read_hello(message);
      peer.pid = hello.pid;
      peer.local = hello.local_pid != 0;
      if (peer.generation > 0)
        for (auto l = lost_.rbegin(); l != lost_.rend(); ++l)
          if (l->rank == source) {
            l->replaced_by = hello.pid;
            break;
          }
    } else if (tag == tag_timed_out) {
      std::uint64_t request = 0, index = 0;
      codec::Reader{message}(request, index);
      lose(lock, source, "task " + std::to_string(index) + " ran past task_timeout", std::pair{request, index});
    } else if (tag == tag_result) {
      std::uint64_t request = 0;
      if (message.size() < sizeof request)
        fatal("a reply without a request id from rank " + std::to_string(source));
      std::memcpy(&request, message.data(), sizeof request);
      const auto it = pending_.find(request);
      if (it == pending_.end() || it->second.reply)
        fatal("a reply to an unknown request from rank " + std::to_string(source));
      it->second.reply = Reply{Reply::Status::answered, std::move(message), {}};
      --unanswered_;
      lock.unlock();
      replied_.notify_all();
    }
  }

  /// Loses the worker ranks on this machine whose process has ended (zombies too when `thorough`).
  void look_for_ended_ranks(bool thorough) {
    std::unique_lock lock{mutex_};
    for (int r = 1; r < size_; ++r) {
      const auto& peer = peers_[static_cast<std::size_t>(r)];
      if (peer.local && !peer.lost && peer.pid > 0 && process_ended(peer.pid, thorough))
        lose(lock, r, "its process (pid " + std::to_string(peer.pid) + ") ended", {});
    }
  }

  /// Sends each worker rank not lost a heartbeat, unless its previous one is still on its way.
  void beat() {
    std::uint64_t patience = 0;
    {
      std::lock_guard lock{mutex_};
      patience = patience_ms_;
    }
    std::string bytes;
    codec::Writer{bytes}(patience);
    for (int r = 1; r < size_; ++r) {
      {
        std::lock_guard lock{mutex_};
        auto& peer = peers_[static_cast<std::size_t>(r)];
        if (peer.lost || peer.beat_sent) continue;
        peer.beat_sent = true;
      }
      send(r, tag_beat, bytes, true);
    }
  }

  /// Whether an MPI launcher started this process (Open MPI, MPICH's Hydra, Slurm and other PMI
  /// launchers set these); a program run by itself is a job of one rank, and starting MPI there
  /// would only spawn Open MPI's singleton runtime to learn that.
  static bool launched_by_mpirun() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
      if (std::getenv(name) != nullptr) return true;
    return false;
  }

  int rank_ = 0;
  int size_ = 1;
  MPI_Comm parent_ = MPI_COMM_NULL;  ///< a replacement rank's link to rank 0
  long rank0_pid_ = 0;               ///< a replacement rank's: rank 0's pid, if on this machine
  bool initialized_ = false;
  bool serving_ = false;
  bool finalized_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t last_request_ = 0;
  std::deque<Outgoing> outbox_;
  std::condition_variable replied_;
  std::size_t unanswered_ = 0;                 ///< submitted tasks whose reply has not come
  std::map<std::uint64_t, Pending> pending_;   ///< by request id: the order each rank runs them
  std::vector<Peer> peers_;                    ///< by rank (rank 0's unused)
  std::vector<LostRank> lost_;
  std::uint64_t patience_ms_ = least_patience.count();
  bool respawn_ = false;           ///< lost ranks are replaced (MpiOptions::respawn)
  std::deque<int> to_replace_;     ///< lost ranks waiting for their replacement
  std::string program_;            ///< this program, and its arguments, for MPI_Comm_spawn
  std::vector<std::string> arguments_;
  std::vector<char*> spawn_argv_;  ///< arguments_ as MPI_Comm_spawn takes them (empty: unknown)
  std::list<Sending> sending_;             ///< the communication thread's, as are:
  std::list<Receiving> receiving_;
  std::list<Sending> abandoned_sends_;     ///< to lost ranks: MPI may still read them
  std::list<Receiving> abandoned_receives_;  ///< from lost ranks: MPI may still write them
  std::thread comm_;
};

/// Items of a chunk go to their rank in messages of about this size, at most two at a time: the
/// next is encoded while the rank runs the current one, and results are decoded as they come.
constexpr std::size_t batch_bytes = 256 * 1024;
constexpr std::size_t batches_in_flight = 2;

/// Delivers the outcomes of items [from, to) in `reply`; a reply that does not decode fails the
/// items it did not deliver, with why.
void deliver(const std::string& reply, std::size_t from, std::size_t to, ChunkCodec& codec) {
  codec::Reader in{reply};
  std::size_t index = from;
  try {
    std::uint64_t request = 0;
    in(request);
    for (; index < to; ++index)
      read_outcome(in, index, codec);
  } catch (...) {
    for (; index < to; ++index)
      codec.error(index, std::current_exception());
  }
}

}  // namespace

bool register_mpi_function(const char* name, std::uintptr_t address) {
  auto& r = registry();
  std::lock_guard lock{r.mutex};
  const std::uint64_t id = name_id(name);
  const auto [it, added] = r.functions.try_emplace(id, name, address);
  if (!added && it->second.second != address)
    fatal(std::string("PARLAB_MPI_TASK(") + name + ") names two different functions (or two names collide: " +
          it->second.first + "); register each function once, under a unique name");
  r.function_ids.try_emplace(address, id);
  return true;
}

std::uint64_t mpi_function_id(std::uintptr_t address) {
  {
    auto& r = registry();
    std::lock_guard lock{r.mutex};
    if (const auto it = r.function_ids.find(address); it != r.function_ids.end()) return it->second;
  }
  const std::string name = symbol_name(address);
  throw std::invalid_argument(
      "parlab: MpiPool: the function" + (name.empty() ? std::string{} : " " + name) +
      " is not registered, so the other ranks cannot find it: add PARLAB_MPI_TASK(" +
      (name.empty() ? std::string("your_function") : name) +
      ") at namespace scope in the program (a captureless lambda needs no registration)");
}

std::size_t mpi_pool_workers(std::size_t workers) {
  MpiPool::start();
  auto& runtime = Runtime::get();
  if (runtime.size() < 2)
    throw std::runtime_error(
        "parlab: MpiPool needs at least 2 ranks (rank 0 drives, the others work): run the program with "
        "mpirun -np N, N >= 2");
  static std::once_flag warned;
  std::call_once(warned, [] {
    if (!Runtime::recovery_enabled())
      std::fprintf(stderr,
                   "parlab: MpiPool: warning: mpirun was started without --enable-recovery, so a worker rank "
                   "that dies ends the whole job; add --enable-recovery to mpirun's arguments for the pool to "
                   "run a lost rank's work on the others\n");
  });
  const auto available = static_cast<std::size_t>(runtime.size() - 1);
  return workers == 0 ? available : std::min(workers, available);
}

MpiBackend::MpiBackend(std::size_t /*workers*/, MpiOptions options)
    : chunksize_(options.chunksize),
      retries_(options.retries),
      task_timeout_(options.task_timeout),
      heartbeat_timeout_(options.heartbeat_timeout),
      initializer_(std::move(options.initializer)),
      initializer_fn_(initializer_ && initializer_.by_address() ? mpi_function_id(initializer_.fn()) : 0),
      init_running_(static_cast<std::size_t>(Runtime::get().size()), 0),
      init_done_(static_cast<std::size_t>(Runtime::get().size()), 0) {
  Runtime::get().announce(heartbeat_timeout_, options.respawn);
}

/// Runs the pool's initializer on `rank` unless it already succeeded there (in the process that
/// is `rank` now); a failure is left in `failure`.
MpiBackend::Ready MpiBackend::initialize_rank(int rank, std::exception_ptr& failure) {
  auto& runtime = Runtime::get();
  const std::uint64_t generation = runtime.generation(rank) + 1;
  char& running = init_running_[static_cast<std::size_t>(rank)];
  std::uint64_t& done = init_done_[static_cast<std::size_t>(rank)];
  {
    std::unique_lock lock{init_mutex_};
    init_ran_.wait(lock, [&] { return running == 0; });
    if (done == generation) return Ready::yes;
    running = 1;
  }
  // A chunk of one task whose item is the argument tuple: [request][timeout] [entry][fn][base][count] [args].
  std::string task(task_prefix, '\0');
  codec::Writer{task}(initializer_.entry_id(), initializer_fn_, std::uint64_t{0}, std::uint64_t{1});
  task += initializer_.args();
  struct Outcome final : ChunkCodec {
    std::exception_ptr failure;
    void encode(std::size_t /*begin*/, std::size_t /*end*/, codec::Writer& /*out*/) override {}
    void value(std::size_t /*index*/, codec::Reader& /*in*/) override {}
    void error(std::size_t /*index*/, std::exception_ptr e) override { failure = std::move(e); }
    void cancelled(std::size_t /*index*/) override {}
    [[nodiscard]] std::stop_token stop_token() const override { return {}; }  // set-up is not cancelled
  } outcome;
  const Reply reply = runtime.wait(runtime.submit(rank, std::move(task), task_timeout_), heartbeat_timeout_);
  Ready ready = Ready::lost;
  if (reply.status == Reply::Status::answered) {
    deliver(reply.bytes, 0, 1, outcome);
    ready = outcome.failure ? Ready::failed : Ready::yes;
  }
  if (ready == Ready::failed) {
    auto [type, message] = exception_parts(outcome.failure);
    failure = std::make_exception_ptr(RemoteError(type, "initializer failed: " + message));
  }
  {
    std::lock_guard lock{init_mutex_};
    running = 0;
    if (ready == Ready::yes) done = generation;
  }
  init_ran_.notify_all();
  return ready;
}

void MpiBackend::run_chunk(std::uint64_t entry, std::uint64_t fn, std::size_t begin, std::size_t end,
                           ChunkCodec& codec) {
  auto& runtime = Runtime::get();
  const int own = 1 + static_cast<int>(current_worker_index() % static_cast<std::size_t>(runtime.size() - 1));
  /// Items still to send; `alone`: one item per message (they were on a rank lost mid-message).
  struct Range {
    std::size_t from, to;
    bool alone;
  };
  std::deque<Range> todo{{begin, end, false}};
  struct Batch {
    std::uint64_t request;
    std::size_t from, to;
    int rank;
    bool alone;
  };
  std::deque<Batch> in_flight;
  std::map<std::size_t, unsigned> crashes;  // item → ranks lost while it ran, or may have
  const auto fail_todo = [&](const std::exception_ptr& error) {
    for (const Range& r : todo)
      for (std::size_t i = r.from; i < r.to; ++i)
        codec.error(i, error);
    todo.clear();
  };
  while (!todo.empty() || !in_flight.empty()) {
    if (!todo.empty() && in_flight.size() < batches_in_flight) {
      if (codec.stop_token().stop_requested()) {
        // The job was stopped: batches not sent are dropped (those sent finish on their rank).
        for (const Range& r : todo)
          for (std::size_t i = r.from; i < r.to; ++i)
            codec.cancelled(i);
        todo.clear();
        continue;
      }
      // The pool thread's own rank, or the next one not lost (its own again once replaced).
      const int rank = runtime.live_rank(own);
      if (rank == 0) {
        fail_todo(std::make_exception_ptr(std::runtime_error(
            "parlab: MpiPool: no worker rank is left: every one was lost (MpiPool::lost_ranks() says why)")));
        continue;
      }
      if (initializer_) {
        std::exception_ptr failure;
        const Ready ready = initialize_rank(rank, failure);
        if (ready == Ready::lost) continue;  // the next round picks another rank
        if (ready == Ready::failed) {
          fail_todo(failure);
          continue;
        }
      }
      Range& range = todo.front();
      const std::size_t from = range.from;
      const bool alone = range.alone;
      // [request][timeout] (written by submit) then what encode_batch writes.
      std::string task;
      const EncodedBatch batch = encode_batch(task, task_prefix, entry, fn, codec, from,
                                              alone ? from + 1 : range.to, batch_bytes);
      range.from = batch.failed ? batch.end + 1 : batch.end;
      if (range.from >= range.to) todo.pop_front();
      if (batch.end == from) continue;  // its first item failed to encode: nothing to send
      try {
        in_flight.push_back({runtime.submit(rank, std::move(task), task_timeout_), from, batch.end, rank, alone});
      } catch (...) {  // an item over MPI's 2 GiB message limit
        for (std::size_t i = from; i < batch.end; ++i)
          codec.error(i, std::current_exception());
        continue;
      }
      if (!todo.empty() && in_flight.size() < batches_in_flight) continue;
    }
    const Batch done = in_flight.front();
    in_flight.pop_front();
    const Reply reply = runtime.wait(done.request, heartbeat_timeout_);
    if (reply.status == Reply::Status::answered) {
      deliver(reply.bytes, done.from, done.to, codec);
      continue;
    }
    // Its rank was lost: what it had not started goes again as it was; of the message it ran, the
    // item past task_timeout fails and the rest go again, a lone item is blamed, and the items of
    // a larger message go again one per message.
    std::vector<Range> again;
    if (reply.status == Reply::Status::lost_unstarted) {
      again.push_back({done.from, done.to, done.alone});
    } else if (reply.timed_out && *reply.timed_out >= done.from && *reply.timed_out < done.to) {
      const auto late = static_cast<std::size_t>(*reply.timed_out);
      codec.error(late, std::make_exception_ptr(TimeoutError(
                            "task " + std::to_string(late) + " ran longer than task_timeout (" +
                            std::to_string(task_timeout_.count()) + " ms); its rank " +
                            std::to_string(done.rank) + " exited")));
      if (done.from < late) again.push_back({done.from, late, done.alone});
      if (late + 1 < done.to) again.push_back({late + 1, done.to, done.alone});
    } else if (done.to - done.from == 1) {
      if (++crashes[done.from] > retries_) {
        codec.error(done.from, std::make_exception_ptr(WorkerCrashed(done.from, reply.pid, -1)));
      } else {
        again.push_back({done.from, done.to, true});
      }
    } else {
      for (std::size_t i = done.from; i < done.to; ++i)
        ++crashes[i];  // counted against the one that fails alone later
      again.push_back({done.from, done.to, true});
    }
    std::size_t items = 0;
    for (const Range& r : again)
      items += r.to - r.from;
    runtime.count_rerun(done.rank, items);
    todo.insert(todo.begin(), again.begin(), again.end());
  }
}

}  // namespace parlab::detail

void parlab::MpiPool::start() {
  auto& runtime = detail::Runtime::get();
  if (runtime.rank() != 0) runtime.serve();
}

int parlab::MpiPool::rank() { return detail::Runtime::get().rank(); }

int parlab::MpiPool::ranks() { return detail::Runtime::get().size(); }

std::vector<parlab::LostRank> parlab::MpiPool::lost_ranks() { return detail::Runtime::get().lost_ranks(); }

bool parlab::MpiPool::recovery_enabled() { return detail::Runtime::recovery_enabled(); }
