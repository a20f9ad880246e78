#pragma once
/// \file
/// What a call needs to run in another process of the same program, shared by ProcessPool and
/// MpiPool: which functions can be sent (RemoteFn), the worker's loop over a chunk
/// (serve_chunk), and the driver's side: a chunk's encoder/decoder (ChunkCodec, run_remote), its
/// messages (encode_batch) and its default size (remote_chunksize).

#include "parlab/codec.hpp"
#include "parlab/detail/stop.hpp"
#include "parlab/detail/thread_backend.hpp"
#include "parlab/detail/unpack.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::detail {

/// How a callable reaches another process of the same program: a plain function by its address
/// (valid in a fork; MpiPool maps it to a registered name), a captureless lambda or empty
/// function object by its type (rebuilt there). Anything with state (a capturing lambda, a
/// std::function) cannot be sent.
/// A function object a worker rebuilds from its type alone: a captureless lambda, an empty functor.
template <class F>
concept Rebuildable = std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F>;

template <class T, class = void>
struct RemoteFnImpl {
  static constexpr bool sendable = false;
  static constexpr bool by_address = false;
  using type = T;
};
template <class R, class... A>
struct RemoteFnImpl<R (*)(A...)> {
  static constexpr bool sendable = true;
  static constexpr bool by_address = true;
  using type = R (*)(A...);
  static std::uintptr_t encode(type f) { return reinterpret_cast<std::uintptr_t>(f); }
  static type decode(std::uintptr_t bits) { return reinterpret_cast<type>(bits); }
};
template <class R, class... A>
struct RemoteFnImpl<R (*)(A...) noexcept> {
  static constexpr bool sendable = true;
  static constexpr bool by_address = true;
  using type = R (*)(A...) noexcept;
  static std::uintptr_t encode(type f) { return reinterpret_cast<std::uintptr_t>(f); }
  static type decode(std::uintptr_t bits) { return reinterpret_cast<type>(bits); }
};
template <class T>
struct RemoteFnImpl<T, std::enable_if_t<Rebuildable<T>>> {
  static constexpr bool sendable = true;
  static constexpr bool by_address = false;
  using type = T;
  static std::uintptr_t encode(const T& /*f*/) { return 0; }
  static type decode(std::uintptr_t /*bits*/) { return T{}; }
};
template <class T>
using RemoteFn = RemoteFnImpl<std::decay_t<T>>;
/// A task wrapped by the pool — starmap's Unpack, StopAware around a task that takes a stop token
/// — travels as the task it wraps. In a worker, StopAware's token is empty: the program stops a
/// worker's task by killing the worker.
template <class T>
inline constexpr bool task_wrapper_v = false;
template <class G>
inline constexpr bool task_wrapper_v<Unpack<G>> = true;
template <class G>
inline constexpr bool task_wrapper_v<StopAware<G>> = true;
template <template <class> class Wrapper, class G>
requires task_wrapper_v<Wrapper<G>>
struct RemoteFnImpl<Wrapper<G>> {
  using Inner = RemoteFn<G>;
  static constexpr bool sendable = Inner::sendable;
  static constexpr bool by_address = Inner::by_address;
  using type = Wrapper<typename Inner::type>;
  static std::uintptr_t encode(const Wrapper<G>& w) { return Inner::encode(w.f); }
  static type decode(std::uintptr_t bits) { return type{Inner::decode(bits)}; }
};

/// Worker side: collects the outcomes of a chunk and sends them to the driver.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  /// Item `index` starts (ProcessPool records it where the parent can see it if the worker dies).
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

/// An id for `name`, the same in every process of the program (FNV-1a; never 0).
[[nodiscard]] std::uint64_t name_id(std::string_view name) noexcept;
/// Registers a worker side (serve_chunk for one function type, item and result, or an
/// initializer's) under its type name, so that a process running the same program at other
/// addresses (an MPI rank) finds it by id; returns the id. Called before main.
std::uint64_t register_entry(const char* type_name, ChunkEntry entry);
/// The worker side registered under `id`, or nullptr.
[[nodiscard]] ChunkEntry find_entry(std::uint64_t id) noexcept;

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
inline constexpr bool reloadable<std::pair<A, B>> = (reloadable<A> && reloadable<B>);

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

/// Driver side of one chunk: encodes its items and takes its outcomes.
class ChunkCodec {
 public:
  virtual ~ChunkCodec() = default;
  virtual void encode(std::size_t begin, std::size_t end, codec::Writer& out) = 0;
  /// Item `index` succeeded: its value is next in `in`.
  virtual void value(std::size_t index, codec::Reader& in) = 0;
  virtual void error(std::size_t index, std::exception_ptr error) = 0;
  /// Item `index` was not run, or was stopped, because the job stopped.
  virtual void cancelled(std::size_t index) = 0;
  /// The job's stop token: the driver stops sending, and kills what runs, once a stop is requested.
  [[nodiscard]] virtual std::stop_token stop_token() const = 0;
};

/// The items of a chunk that encode_batch put in one message.
struct EncodedBatch {
  /// The message holds the items from the first asked for up to (not including) this one.
  std::size_t end;
  /// Item `end` did not encode: it has failed alone (ChunkCodec::error) and is not in the message.
  bool failed;
};

/// Writes a message with the items of a chunk from `first` into `message`: `prefix` zero bytes
/// for the caller to fill in, then [entry u64][fn u64][base u64][count u64] and the items'
/// arguments, up to `last` or until the message holds about `limit` bytes (at least one item is
/// tried). The first item whose argument does not encode is failed alone and ends the message.
EncodedBatch encode_batch(std::string& message, std::size_t prefix, std::uint64_t entry, std::uint64_t fn,
                          ChunkCodec& codec, std::size_t first, std::size_t last, std::size_t limit);

/// A process backend's default_chunksize: the pool's own `chunksize` if it was given one (not 0),
/// else the thread backend's rule.
[[nodiscard]] inline std::size_t remote_chunksize(std::size_t chunksize, std::size_t items,
                                                  std::size_t workers) {
  return chunksize != 0 ? chunksize : ThreadBackend::default_chunksize(items, workers);
}

/// One item's outcome on the wire, as workers write it and drivers read it: [0][value] or
/// [1][exception type name][message].
/// Writes the "succeeded" tag; the value follows in `out`.
inline codec::Writer& write_ok(codec::Writer& out) {
  out(std::uint8_t{0});
  return out;
}
/// Writes a failed item: its exception's type name and message.
void write_error(codec::Writer& out, const std::exception_ptr& error);
/// Reads item `index`'s outcome from `in` and hands it to `codec` (value, or RemoteError).
void read_outcome(codec::Reader& in, std::size_t index, ChunkCodec& codec);

/// A backend's run() for processes: checks at compile time that the call can cross a process
/// boundary, then hands `backend.send_chunk<Remote, Item, R>(fn bits, begin, end, codec)` a codec
/// that encodes items [begin, end) and delivers their outcomes to `sink`.
template <class Backend, class Fn, class At, class Sink>
void run_remote(Backend& backend, Fn& fn, At& at, std::size_t begin, std::size_t end, Sink& sink) {
  using Remote = RemoteFn<Fn>;
  static_assert(
      Remote::sendable,
      "parlab::ProcessPool and MpiPool run the function in another process: pass a plain function or a "
      "captureless lambda, and pass data as arguments (a capturing lambda or std::function "
      "cannot be sent)");
  using Item = codec::wire_t<decltype(at(begin))>;
  static_assert(
      codec::Serializable<Item>,
      "parlab::ProcessPool and MpiPool cannot send this argument type to a worker process: give it a "
      "cereal serialize() function and a default constructor (see parlab/codec.hpp)");
  using Call = typename Remote::type;
  using R = std::decay_t<std::invoke_result_t<Call&, Item&>>;
  static_assert(
      std::is_void_v<R> || codec::Serializable<R>,
      "parlab::ProcessPool and MpiPool cannot send this result type back from a worker process: give it "
      "a cereal serialize() function and a default constructor (see parlab/codec.hpp)");

  // Only the messages above, not a cascade from inside cereal, when a check fails.
  if constexpr (Remote::sendable && codec::Serializable<Item> &&
                (std::is_void_v<R> || codec::Serializable<R>)) {
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
      void error(std::size_t index, std::exception_ptr error) override {
        sink.error(index, std::move(error));
      }
      void cancelled(std::size_t index) override { sink.cancelled(index); }
      [[nodiscard]] std::stop_token stop_token() const override { return sink.stop_token(); }
    } codec{at, sink};
    backend.template send_chunk<Remote, Item, R>(Remote::encode(fn), begin, end, codec);
  }
}

}  // namespace parlab::detail
