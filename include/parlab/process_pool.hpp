#pragma once
/// \file
/// parlab::ProcessPool — the Pool API over worker processes that survive crashes.
///
/// Each worker thread of the pool drives one worker process: it sends a chunk of arguments
/// (cereal, codec.hpp), the process runs the calls and streams the results back. A worker that
/// dies fails only the task it was running (WorkerCrashed) and is replaced; a task that runs past
/// `task_timeout` has its worker killed (TimeoutError). Workers are forked from a fork server, a
/// single-threaded process started the first time a ProcessPool is made (or earlier, by
/// start_fork_server()), so starting one is safe when the parent already runs threads.

#include "parlab/codec.hpp"
#include "parlab/cpu.hpp"
#include "parlab/pool.hpp"

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
  /// Runs once in each worker process before its first task (a plain function or captureless
  /// lambda). If it throws, the tasks sent to that worker fail with its error.
  void (*initializer)() = nullptr;
  /// Items per chunk for map-likes that give none (0: Python's rule, ceil(n / (4 * workers))).
  std::size_t chunksize = 0;
};

namespace detail {

/// How a callable reaches a worker process. Workers are forks of this program, so a function's
/// address is valid there; a captureless lambda is rebuilt from its type. Anything with state
/// (a capturing lambda, a std::function) cannot be sent.
template <class T, class = void>
struct RemoteFnImpl {
  static constexpr bool sendable = false;
  using type = T;
};
template <class R, class... A>
struct RemoteFnImpl<R (*)(A...)> {
  static constexpr bool sendable = true;
  using type = R (*)(A...);
  static std::uintptr_t encode(type f) { return reinterpret_cast<std::uintptr_t>(f); }
  static type decode(std::uintptr_t bits) { return reinterpret_cast<type>(bits); }
};
template <class R, class... A>
struct RemoteFnImpl<R (*)(A...) noexcept> {
  static constexpr bool sendable = true;
  using type = R (*)(A...) noexcept;
  static std::uintptr_t encode(type f) { return reinterpret_cast<std::uintptr_t>(f); }
  static type decode(std::uintptr_t bits) { return reinterpret_cast<type>(bits); }
};
template <class T>
struct RemoteFnImpl<T, std::enable_if_t<std::is_class_v<T> && std::is_empty_v<T> &&
                                        std::is_default_constructible_v<T>>> {
  static constexpr bool sendable = true;
  using type = T;
  static std::uintptr_t encode(const T& /*f*/) { return 0; }
  static type decode(std::uintptr_t /*bits*/) { return T{}; }
};
template <class T>
using RemoteFn = RemoteFnImpl<std::decay_t<T>>;
template <class G>
struct RemoteFnImpl<Unpack<G>> {
  using Inner = RemoteFn<G>;
  static constexpr bool sendable = Inner::sendable;
  using type = Unpack<typename Inner::type>;
  static std::uintptr_t encode(const Unpack<G>& u) { return Inner::encode(u.f); }
  static type decode(std::uintptr_t bits) { return type{Inner::decode(bits)}; }
};

/// Worker side: collects the outcomes of a chunk and streams them to the parent.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  /// Item `index` starts (recorded where the parent can see it if this process dies).
  virtual void begin(std::uint64_t index) = 0;
  /// The item succeeded; its value (if any) is written to the returned writer next.
  virtual codec::Writer& ok() = 0;
  /// The item threw.
  virtual void fail(const std::exception_ptr& error) = 0;
  /// The item is done (results are sent in batches, at least every few milliseconds).
  virtual void end() = 0;
};

/// The function a worker runs for a chunk: decodes `count` items, calls the task on each.
using ChunkEntry = void (*)(std::uintptr_t fn, std::uint64_t base, std::uint64_t count, codec::Reader& in,
                            ResultWriter& out);

/// Types whose loading overwrites all of their value, so one object can be loaded into again
/// and keep its memory (a row of numbers loads without an allocation).
template <class T>
inline constexpr bool reloadable = std::is_arithmetic_v<T>;
template <class T>
inline constexpr bool reloadable<std::vector<T>> = reloadable<T>;
template <>
inline constexpr bool reloadable<std::string> = true;
template <class... T>
inline constexpr bool reloadable<std::tuple<T...>> = (reloadable<T> && ...);
template <class A, class B>
inline constexpr bool reloadable<std::pair<A, B>> = reloadable<A> && reloadable<B>;

template <class Fn, class Item, class R>
void serve_chunk(std::uintptr_t fn_bits, std::uint64_t base, std::uint64_t count, codec::Reader& in,
                 ResultWriter& out) {
  auto fn = RemoteFn<Fn>::decode(fn_bits);
  Item reused{};
  for (std::uint64_t k = 0; k < count; ++k) {
    Item fresh{};
    Item& item = reloadable<Item> ? reused : fresh;
    in(item);
    out.begin(base + k);
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn, item);
        out.ok();
      } else {
        R result = std::invoke(fn, item);
        out.ok()(result);
      }
    } catch (...) {
      out.fail(std::current_exception());
    }
    out.end();
  }
}

/// Parent side of one chunk: encodes its items and takes its outcomes.
class ChunkCodec {
 public:
  virtual ~ChunkCodec() = default;
  virtual void encode(std::size_t begin, std::size_t end, codec::Writer& out) = 0;
  /// Item `index` succeeded: its value is next in `in`.
  virtual void value(std::size_t index, codec::Reader& in) = 0;
  virtual void error(std::size_t index, std::exception_ptr error) = 0;
};

class ProcessEngine;

/// The process backend: chunks go to the worker process of the pool thread that claimed them.
class ProcessBackend {
 public:
  ProcessBackend(std::size_t workers, ProcessOptions options);
  ProcessBackend(const ProcessBackend&) = delete;
  ProcessBackend& operator=(const ProcessBackend&) = delete;
  ~ProcessBackend();

  [[nodiscard]] std::size_t default_chunksize(std::size_t items, std::size_t workers) const {
    return chunksize_ != 0 ? chunksize_ : ThreadBackend::default_chunksize(items, workers);
  }

  template <class Fn, class At, class Sink>
  void run(Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
    using Remote = RemoteFn<Fn>;
    static_assert(Remote::sendable,
                  "parlab::ProcessPool runs the function in another process: pass a plain function or a "
                  "captureless lambda, and pass data as arguments (a capturing lambda or std::function "
                  "cannot be sent)");
    using Item = codec::wire_t<decltype(at(begin))>;
    static_assert(codec::Serializable<Item>,
                  "parlab::ProcessPool cannot send this argument type to a worker process: give it a cereal "
                  "serialize() function and a default constructor (see parlab/codec.hpp)");
    using Call = typename Remote::type;
    using R = std::decay_t<std::invoke_result_t<Call&, Item&>>;
    static_assert(std::is_void_v<R> || codec::Serializable<R>,
                  "parlab::ProcessPool cannot send this result type back from a worker process: give it a "
                  "cereal serialize() function and a default constructor (see parlab/codec.hpp)");

    // Only the messages above, not a cascade from inside cereal, when a check fails.
    if constexpr (Remote::sendable && codec::Serializable<Item> && (std::is_void_v<R> || codec::Serializable<R>)) {
      struct Codec final : ChunkCodec {
        At& at;
        Sink& sink;
        Codec(At& a, Sink& s) : at(a), sink(s) {}
        void encode(std::size_t from, std::size_t to, codec::Writer& out) override {
          for (std::size_t i = from; i < to; ++i)
            codec::save_as_wire(out, at(i));
        }
        void value(std::size_t index, codec::Reader& in) override {
          if constexpr (std::is_void_v<R>) {
            sink.value(index);
          } else {
            R result{};
            in(result);
            sink.value(index, std::move(result));
          }
        }
        void error(std::size_t index, std::exception_ptr error) override { sink.error(index, std::move(error)); }
      } codec{at, sink};
      run_chunk(&serve_chunk<Call, Item, R>, Remote::encode(fn), begin, end, codec);
    }
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
      : BasicPool(workers, options) {}

  /// Process ids of the worker processes, one per worker (0 while one is being replaced).
  [[nodiscard]] std::vector<long> pids() const { return backend().pids(); }

  /// Starts the fork server now, while the program has a single thread, and keeps it for the
  /// rest of the program. Optional: the first ProcessPool starts it otherwise; calling this at
  /// the top of main() means no worker ever starts from a snapshot taken while other threads
  /// held locks.
  static void start_fork_server();
};

}  // namespace parlab
