#pragma once
/// \file
/// How running work is stopped (AsyncResult::cancel(), fail-fast maps): the job's stop token,
/// the target a result's cancel() reaches, and StopAware, which hands a pool task that takes a
/// std::stop_token as its first parameter the token of the job it runs for.

#include "parlab/detail/unpack.hpp"

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace parlab::detail {

/// Work that AsyncResult::cancel() stops: a map or apply job.
class StopTarget {
 public:
  /// Asks the running items to stop and drops (as cancelled) those not started.
  virtual void request_stop() = 0;

 protected:
  ~StopTarget() = default;
};

/// The stop token of the job whose item runs on this thread (set by invoke_each around each
/// call; empty elsewhere).
inline std::stop_token& current_stop_token() noexcept {
  thread_local std::stop_token token;
  return token;
}

/// Makes `token` the current stop token for the scope, then restores the previous one (a task
/// that runs a nested map's items while it waits gets them back).
class CurrentStopToken {
 public:
  explicit CurrentStopToken(std::stop_token token)
      : saved_(std::exchange(current_stop_token(), std::move(token))) {}
  CurrentStopToken(const CurrentStopToken&) = delete;
  CurrentStopToken& operator=(const CurrentStopToken&) = delete;
  ~CurrentStopToken() { current_stop_token() = std::move(saved_); }

 private:
  std::stop_token saved_;
};

/// A function that takes a std::stop_token first (std::jthread's convention), called with the
/// current job's token before its other arguments.
template <class F>
struct StopAware {
  F f;
  template <class... A>
  requires std::invocable<F&, std::stop_token, A...>
  decltype(auto) operator()(A&&... args) {
    return std::invoke(f, current_stop_token(), std::forward<A>(args)...);
  }
};

/// Whether Fn hands the job's stop token to the task (StopAware, itself or under starmap's and
/// apply's Unpack): an item that returns after a stop was requested was stopped.
template <class Fn>
inline constexpr bool stop_aware_v = false;
template <class F>
inline constexpr bool stop_aware_v<StopAware<F>> = true;
template <class F>
inline constexpr bool stop_aware_v<Unpack<F>> = stop_aware_v<std::remove_cvref_t<F>>;

/// True when F is called with a stop token before Args (and not without one).
template <class F, class... Args>
inline constexpr bool takes_stop_token_v =
    !std::invocable<F&, Args...> && std::invocable<F&, std::stop_token, Args...>;

/// True when F takes a stop token before the elements of the tuple-like Tuple (starmap).
template <class F, class Tuple>
inline constexpr bool takes_stop_token_applied_v = []<std::size_t... I>(std::index_sequence<I...>) {
  return takes_stop_token_v<F, decltype(std::get<I>(std::declval<Tuple>()))...>;
}
(std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<Tuple>>>{});

/// f wrapped in StopAware when it wants a token before Args, else f itself.
template <class... Args, class F>
auto accept_stop_token(F f) {
  if constexpr (takes_stop_token_v<F, Args...>) {
    return StopAware<F>{std::move(f)};
  } else {
    return f;
  }
}

/// As accept_stop_token, for a function applied to the elements of a tuple-like (starmap).
template <class Tuple, class F>
auto accept_stop_token_applied(F f) {
  if constexpr (takes_stop_token_applied_v<F, Tuple>) {
    return StopAware<F>{std::move(f)};
  } else {
    return f;
  }
}

/// The function a map of F over Range calls: F, or F wrapped in StopAware.
template <class F, class Range>
using map_fn_t = decltype(accept_stop_token<std::ranges::range_reference_t<Range>>(std::declval<F>()));
/// The function a starmap of F over Range calls: F (or F in StopAware) applied to each tuple.
template <class F, class Range>
using starmap_fn_t =
    Unpack<decltype(accept_stop_token_applied<std::ranges::range_reference_t<Range>>(std::declval<F>()))>;

/// What a call that stores its function and arguments runs: f itself, or f wrapped in StopAware
/// when it wants a stop token before the (decay-copied) arguments.
template <class F, class... Args>
using stored_call_t = decltype(accept_stop_token<std::decay_t<Args>...>(std::declval<std::decay_t<F>>()));

/// apply_async's requirement: f(args...) on decay-copies, with or without a leading stop token.
template <class F, class... Args>
concept InvocableOnCopiesWithStop = std::invocable < std::decay_t<F>
&, std::decay_t<Args>... > || takes_stop_token_v<std::decay_t<F>, std::decay_t<Args>...>;

}  // namespace parlab::detail
