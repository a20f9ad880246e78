#pragma once
/// \file
/// parlab::RemoteInitializer — Python's initializer + initargs for the pools whose workers are
/// other processes (ProcessPool, MpiPool): a function the worker can find and arguments that
/// codec.hpp can send, run once in each worker before its first task.

#include "parlab/codec.hpp"
#include "parlab/detail/remote_call.hpp"
#include "parlab/detail/unpack.hpp"

#include <concepts>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace parlab {

class RemoteInitializer;

namespace detail {
template <class Call, class Args>
struct InitializerKey {};

/// Anything but a RemoteInitializer itself (which is copied, not wrapped).
template <class F>
concept NotRemoteInitializer = !std::same_as<std::decay_t<F>, RemoteInitializer>;

/// The id of the worker side of an initializer calling `Call` with `Args` (a tuple). Initialized
/// before main in every process of the program, since every process has the same instantiations.
template <class Call, class Args>
inline const std::uint64_t initializer_entry_id = register_entry(
    typeid(InitializerKey<Call, Args>).name(), &serve_chunk<Unpack<Call>, Args, void>);
}  // namespace detail

/// The initializer of a ProcessPool or MpiPool (ProcessOptions::initializer,
/// MpiOptions::initializer): a plain function or captureless lambda (for MpiPool a plain function
/// must be registered with PARLAB_MPI_TASK) and arguments that codec.hpp can send, written as for
/// a Pool: `.initializer = {open_db, std::string{"lab.sqlite"}, 4}` or `.initializer = setup`.
/// The arguments are encoded once, here; each worker decodes its own copy. What cannot cross a
/// process boundary is a compile-time error. Default-constructed: none.
class RemoteInitializer {
 public:
  /// No initializer.
  RemoteInitializer() = default;

  /// `f(args...)` in each worker. Not explicit, for `.initializer = f` in designated
  /// initializers.
  template <detail::NotRemoteInitializer F, class... Args>
  RemoteInitializer(F f, Args... args) {
    using Remote = detail::RemoteFn<F>;
    static_assert(Remote::sendable,
                  "parlab::ProcessPool and MpiPool run the initializer in another process: pass a plain "
                  "function or a captureless lambda, and pass data as the initializer's arguments (a "
                  "capturing lambda or std::function cannot be sent)");
    using Tuple = std::tuple<Args...>;
    constexpr bool sendable_args = (codec::Serializable<Args> && ...);  // cereal accepts any tuple
    static_assert(sendable_args,
                  "parlab::ProcessPool and MpiPool cannot send this initializer argument type to a worker "
                  "process: give it a cereal serialize() function and a default constructor (see "
                  "parlab/codec.hpp)");
    if constexpr (Remote::sendable && sendable_args) {
      using Call = typename Remote::type;
      static_assert(std::is_invocable_v<Call&, Args&...>,
                    "parlab: the initializer cannot be called with these arguments");
      entry_ = &detail::serve_chunk<detail::Unpack<Call>, Tuple, void>;
      entry_id_ = detail::initializer_entry_id<Call, Tuple>;
      fn_ = Remote::encode(f);
      by_address_ = Remote::by_address;
      codec::Writer{args_}(Tuple{std::move(args)...});
    }
  }

  /// Whether there is an initializer.
  explicit operator bool() const noexcept { return entry_ != nullptr; }

  /// The worker side: decodes the arguments and calls the function (a chunk of one task whose
  /// item is the argument tuple; valid in a fork of this program).
  [[nodiscard]] detail::ChunkEntry entry() const noexcept { return entry_; }
  /// The id of entry() in every process of the program (detail::initializer_entry).
  [[nodiscard]] std::uint64_t entry_id() const noexcept { return entry_id_; }
  /// The function's RemoteFn bits: its address, or 0 for a lambda rebuilt from its type.
  [[nodiscard]] std::uintptr_t fn() const noexcept { return fn_; }
  /// Whether fn() is an address (a plain function) rather than 0 (a lambda).
  [[nodiscard]] bool by_address() const noexcept { return by_address_; }
  /// The encoded argument tuple.
  [[nodiscard]] const std::string& args() const noexcept { return args_; }

 private:
  detail::ChunkEntry entry_ = nullptr;
  std::uint64_t entry_id_ = 0;
  std::uintptr_t fn_ = 0;
  bool by_address_ = false;
  std::string args_;
};

}  // namespace parlab
