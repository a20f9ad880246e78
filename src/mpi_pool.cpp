#include "parlab/mpi_pool.hpp"

#include "parlab/errors.hpp"
#include "parlab/worker.hpp"

#include "demangle.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <dlfcn.h>
#include <mpi.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
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
// task   (rank 0 -> worker): [request u64][entry u64][function u64][base u64][count u64][items...]
// result (worker -> rank 0): [request u64] then per item [0][value] or [1][type][message]
// stop   (rank 0 -> worker): empty; the worker finalizes MPI and exits.
constexpr int tag_task = 1;
constexpr int tag_result = 2;
constexpr int tag_stop = 3;

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

/// Writes a worker's outcomes into the reply.
class ReplyWriter final : public ResultWriter {
 public:
  explicit ReplyWriter(codec::Writer& out) : out_(out) {}
  void begin(std::uint64_t /*index*/) override {}
  codec::Writer& ok() override { return write_ok(out_); }
  void fail(const std::exception_ptr& error) override { write_error(out_, error); }
  void end() override { ++done_; }
  [[nodiscard]] std::uint64_t done() const { return done_; }

 private:
  codec::Writer& out_;
  std::uint64_t done_ = 0;
};

/// Runs one task message on a worker rank, writing the outcomes into `reply`.
void serve_task(const std::string& task, int rank, std::string& reply) {
  reply.clear();
  codec::Writer out{reply};
  codec::Reader in{task};
  std::uint64_t request = 0, entry_id = 0, fn_id = 0, base = 0, count = 0;
  in(request, entry_id, fn_id, base, count);
  out(request);
  ReplyWriter writer{out};
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
}

/// Aborts the job unless an MPI call succeeded (`code`), saying which call (`what`) failed.
void require_mpi_success(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fatal(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

/// MPI for this process: initialized once, finalized at exit. On rank 0 a communication thread
/// makes every MPI call while pools run; pool threads hand it tasks and wait for the replies.
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
    Backoff backoff{std::chrono::milliseconds{1}};
    std::string task, reply;
    while (true) {
      int ready = 0;
      MPI_Status status{};
      require_mpi_success(MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status), "MPI_Iprobe");
      if (ready == 0) {
        backoff.wait();
        continue;
      }
      backoff.reset();
      int bytes = 0;
      MPI_Get_count(&status, MPI_BYTE, &bytes);
      task.resize(static_cast<std::size_t>(bytes));
      require_mpi_success(
          MPI_Recv(task.data(), bytes, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
      if (status.MPI_TAG == tag_stop) break;
      serve_task(task, rank_, reply);
      if (reply.size() > INT_MAX)
        fatal("a chunk's results are over MPI's 2 GiB message limit; use a smaller chunksize");
      require_mpi_success(
          MPI_Send(reply.data(), static_cast<int>(reply.size()), MPI_BYTE, 0, tag_result, MPI_COMM_WORLD),
          "MPI_Send");
    }
    finalized_ = true;
    MPI_Finalize();
    std::exit(0);
  }

  /// Rank 0: queues `task` (its first 8 bytes are overwritten with the request id) for `rank`;
  /// wait() takes the reply. Tasks to one rank run in the order they were submitted.
  std::uint64_t submit(int rank, std::string task) {
    if (task.size() > INT_MAX)
      throw std::length_error("parlab: MpiPool: a task of " + std::to_string(task.size()) +
                              " bytes is over MPI's 2 GiB message limit");
    std::uint64_t request = 0;
    {
      std::lock_guard lock{mutex_};
      request = ++last_request_;
      std::memcpy(task.data(), &request, sizeof request);
      replies_.emplace(request, std::nullopt);
      outbox_.push_back({rank, std::move(task)});
      ++unanswered_;
      if (!comm_.joinable()) comm_ = std::thread([this] { communicate(); });
    }
    wake_.notify_one();
    return request;
  }

  /// Rank 0: the reply to a submitted request, once it has come.
  std::string wait(std::uint64_t request) {
    std::unique_lock lock{mutex_};
    const auto it = replies_.find(request);
    replied_.wait(lock, [&] { return it->second.has_value(); });
    std::string reply = std::move(*it->second);
    replies_.erase(it);
    return reply;
  }

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

 private:
  struct Outgoing {
    int rank;
    std::string bytes;
  };
  struct Sending {
    std::string bytes;
    MPI_Request request;
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
  }

  ~Runtime() {
    if (!initialized_ || finalized_) return;
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
    }
    wake_.notify_one();
    if (comm_.joinable()) comm_.join();
    if (rank_ == 0)
      for (int r = 1; r < size_; ++r)
        MPI_Send(nullptr, 0, MPI_BYTE, r, tag_stop, MPI_COMM_WORLD);
    MPI_Finalize();
  }

  /// The communication thread: sends queued tasks, takes replies, hands them to their waiters.
  void communicate() {
    Backoff backoff{std::chrono::microseconds{200}};
    std::list<Sending> sending;
    std::deque<Outgoing> batch;
    while (true) {
      {
        std::unique_lock lock{mutex_};
        if (outbox_.empty() && unanswered_ == 0 && sending.empty()) {
          if (stopping_) return;
          wake_.wait(lock, [&] { return stopping_ || !outbox_.empty(); });
          continue;
        }
        batch.swap(outbox_);
      }
      bool active = !batch.empty();
      for (auto& out : batch) {
        auto& s = sending.emplace_back(Sending{std::move(out.bytes), MPI_REQUEST_NULL});
        require_mpi_success(MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, out.rank,
                                      tag_task, MPI_COMM_WORLD, &s.request),
                            "MPI_Isend");
      }
      batch.clear();
      for (auto it = sending.begin(); it != sending.end();) {
        int sent = 0;
        require_mpi_success(MPI_Test(&it->request, &sent, MPI_STATUS_IGNORE), "MPI_Test");
        it = sent != 0 ? sending.erase(it) : std::next(it);
      }
      int ready = 0;
      MPI_Status status{};
      require_mpi_success(MPI_Iprobe(MPI_ANY_SOURCE, tag_result, MPI_COMM_WORLD, &ready, &status),
                          "MPI_Iprobe");
      if (ready != 0) {
        active = true;
        int bytes = 0;
        MPI_Get_count(&status, MPI_BYTE, &bytes);
        std::string reply(static_cast<std::size_t>(bytes), '\0');
        require_mpi_success(MPI_Recv(reply.data(), bytes, MPI_BYTE, status.MPI_SOURCE, tag_result,
                                     MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                            "MPI_Recv");
        std::uint64_t request = 0;
        if (reply.size() < sizeof request)
          fatal("a reply without a request id from rank " + std::to_string(status.MPI_SOURCE));
        std::memcpy(&request, reply.data(), sizeof request);
        {
          std::lock_guard lock{mutex_};
          const auto it = replies_.find(request);
          if (it == replies_.end() || it->second)
            fatal("a reply to an unknown request from rank " + std::to_string(status.MPI_SOURCE));
          it->second = std::move(reply);
          --unanswered_;
        }
        replied_.notify_all();
      }
      if (active) {
        backoff.reset();
      } else {
        backoff.wait();
      }
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
  bool initialized_ = false;
  bool serving_ = false;
  bool finalized_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t last_request_ = 0;
  std::deque<Outgoing> outbox_;
  std::condition_variable replied_;
  std::size_t unanswered_ = 0;  ///< submitted tasks whose reply has not come
  std::unordered_map<std::uint64_t, std::optional<std::string>> replies_;
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
  const auto available = static_cast<std::size_t>(runtime.size() - 1);
  return workers == 0 ? available : std::min(workers, available);
}

MpiBackend::MpiBackend(std::size_t workers, MpiOptions options)
    : chunksize_(options.chunksize),
      initializer_(std::move(options.initializer)),
      initializer_fn_(initializer_ && initializer_.by_address() ? mpi_function_id(initializer_.fn()) : 0),
      initialized_(workers, 0) {}

/// Runs the pool's initializer on `rank` unless it already succeeded there (each pool thread
/// drives one rank); when it fails, items [begin, end) fail with its error.
bool MpiBackend::initialize_rank(int rank, std::size_t begin, std::size_t end, ChunkCodec& codec) {
  char& done = initialized_[current_worker_index()];
  if (done != 0) return true;
  // A chunk of one task whose item is the argument tuple: [request] [entry][fn][base][count] [args].
  std::string task(sizeof(std::uint64_t), '\0');
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
  auto& runtime = Runtime::get();
  deliver(runtime.wait(runtime.submit(rank, std::move(task))), 0, 1, outcome);
  if (!outcome.failure) {
    done = 1;
    return true;
  }
  auto [type, message] = exception_parts(outcome.failure);
  const auto error = std::make_exception_ptr(RemoteError(type, "initializer failed: " + message));
  for (std::size_t i = begin; i < end; ++i)
    codec.error(i, error);
  return false;
}

void MpiBackend::run_chunk(std::uint64_t entry, std::uint64_t fn, std::size_t begin, std::size_t end,
                           ChunkCodec& codec) {
  auto& runtime = Runtime::get();
  const int rank =
      1 + static_cast<int>(current_worker_index() % static_cast<std::size_t>(runtime.size() - 1));
  if (initializer_ && !initialize_rank(rank, begin, end, codec)) return;
  struct Batch {
    std::uint64_t request;
    std::size_t from, to;
  };
  std::deque<Batch> in_flight;
  std::size_t next = begin;
  while (next < end || !in_flight.empty()) {
    if (next < end && in_flight.size() < batches_in_flight && codec.stop_token().stop_requested()) {
      // The job was stopped: batches not sent are dropped (those sent finish on their rank).
      for (; next < end; ++next)
        codec.cancelled(next);
      continue;
    }
    if (next < end && in_flight.size() < batches_in_flight) {
      // [request] (written by submit) then what encode_batch writes.
      std::string task;
      const std::size_t from = next;
      const EncodedBatch batch =
          encode_batch(task, sizeof(std::uint64_t), entry, fn, codec, from, end, batch_bytes);
      next = batch.failed ? batch.end + 1 : batch.end;
      if (batch.end == from) continue;  // its first item failed to encode: nothing to send
      try {
        in_flight.push_back({runtime.submit(rank, std::move(task)), from, batch.end});
      } catch (...) {  // an item over MPI's 2 GiB message limit
        for (std::size_t i = from; i < batch.end; ++i)
          codec.error(i, std::current_exception());
        continue;
      }
      if (next < end && in_flight.size() < batches_in_flight) continue;
    }
    const Batch done = in_flight.front();
    in_flight.pop_front();
    deliver(runtime.wait(done.request), done.from, done.to, codec);
  }
}

}  // namespace parlab::detail

void parlab::MpiPool::start() {
  auto& runtime = detail::Runtime::get();
  if (runtime.rank() != 0) runtime.serve();
}

int parlab::MpiPool::rank() { return detail::Runtime::get().rank(); }

int parlab::MpiPool::ranks() { return detail::Runtime::get().size(); }
