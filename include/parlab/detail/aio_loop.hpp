#pragma once
/// \file
/// The event loop behind aio::run and aio::sleep (src/aio.cpp): run_loop, sleep_for, and what
/// run accepts as its main (TaskFactory).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <exception>
#include <string>
#include <type_traits>

namespace parlab::aio {

struct LoopOptions;

namespace detail {

/// Whether T is a Task.
template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<boost::asio::awaitable<T>> : std::true_type {};

/// A callable that returns a Task (the main of run).
template <class F>
concept TaskFactory = std::invocable<F&> && is_task<std::invoke_result_t<F&>>::value;

/// Runs `main` on a new io_context on the calling thread until `main` completes; true when Ctrl-C
/// interrupted it (LoopOptions::handle_sigint).
bool run_loop(boost::asio::awaitable<void> main, LoopOptions options);

/// After a Ctrl-C: throws parlab::KeyboardInterrupt unless main finished by itself (returned, or
/// failed with an error other than its cancellation, which run then rethrows).
void end_interrupted(const std::exception_ptr& error, bool finished);

/// The timer behind sleep.
boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration delay);

/// "after 1500 ms", for error messages.
std::string describe_timeout(std::chrono::steady_clock::duration timeout);

}  // namespace detail

}  // namespace parlab::aio
