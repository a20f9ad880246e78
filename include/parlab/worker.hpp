#pragma once
/// \file
/// Per-worker set-up: parlab::Initializer (Python's initializer + initargs in one value) for
/// parlab::Pool, and parlab::worker_index(), the index of the worker running the current task on
/// every pool. ProcessPool and MpiPool take a RemoteInitializer (remote_initializer.hpp).

#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace parlab {

class Initializer;

namespace detail {
/// What an Initializer is made from: a copyable callable, and copyable arguments it can be called
/// with as lvalues.
template <class F, class... Args>
concept InitializerCall = !std::same_as<std::decay_t<F>, Initializer> && std::copy_constructible<F> &&
                          (std::copy_constructible<Args> && ...) && std::invocable<F&, Args&...>;
}  // namespace detail

/// Python's `initializer` and `initargs` in one value: a function and its arguments, called once
/// on each worker thread of a Pool before its first task. Made from any copyable callable and
/// copyable arguments: `PoolOptions{.initializer = {open_db, std::string{"lab.sqlite"}, 4}}`, or
/// `.initializer = setup` for a function without arguments. Each call gets its own copies of
/// the function and the arguments, so workers never share them. Default-constructed: none.
class Initializer {
 public:
  /// No initializer.
  Initializer() = default;

  /// `f(args...)`, called on copies of `f` and `args` on each worker. Not explicit, for
  /// `.initializer = f` in designated initializers.
  template <class F, class... Args>
  Initializer(F f, Args... args) requires detail::InitializerCall<F, Args...>
      : call_([f = std::move(f), args = std::tuple<Args...>(std::move(args)...)] {
        F fn = f;
        std::tuple<Args...> copies = args;
        std::apply(fn, copies);
      }) {}

  /// Whether there is an initializer.
  explicit operator bool() const noexcept { return static_cast<bool>(call_); }
  /// Runs it (on copies of the function and arguments); its exception propagates.
  void operator()() const { call_(); }

 private:
  std::function<void()> call_;
};

/// The index (0 .. size()-1) of the pool worker running the calling task or initializer: the
/// worker thread of a Pool, the worker process's slot in a ProcessPool (a replacement worker has
/// the index of the one it replaced), the worker rank of an MpiPool (rank - 1: the index of the
/// pool thread on rank 0 that drives it). std::nullopt outside any pool's worker (for instance on
/// a thread that a task started). BS::thread_pool's this_thread::get_index().
[[nodiscard]] std::optional<std::size_t> worker_index() noexcept;

namespace detail {
/// Makes worker_index() return `index` on this thread: the main thread of a ProcessPool worker
/// process or of an MpiPool worker rank.
void set_remote_worker_index(std::size_t index) noexcept;
}  // namespace detail

}  // namespace parlab
