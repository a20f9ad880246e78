#pragma once
/// \file
/// to_thread's machinery: the loop's default executor (ThreadExecutor) and the coroutine that
/// runs a call there and resumes on the loop (run_on_thread).

#include "parlab/detail/aio_outcome.hpp"
#include "parlab/detail/aio_parked.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace parlab::aio::detail {

/// The loop's default executor for to_thread: a thread pool per execution context, created at the
/// first to_thread and joined when the context is destroyed (asyncio's default executor).
class ThreadExecutor final : public boost::asio::execution_context::service {
 public:
  /// Service identity for boost::asio::use_service.
  inline static boost::asio::execution_context::id id;

  explicit ThreadExecutor(boost::asio::execution_context& context);
  ~ThreadExecutor() override;

  /// Sets the number of threads; std::logic_error once the pool runs, std::invalid_argument for 0.
  void set_threads(std::size_t threads);
  /// The pool, started at the first call.
  boost::asio::thread_pool& pool();

 private:
  void shutdown() override;

  std::mutex mu_;
  std::size_t threads_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

/// Starts a call on the loop's default executor; its outcome is posted back to the loop.
struct StartOnThread {
  template <class Handler, class Call>
  void operator()(Handler handler, Call call) const {
    using R = std::invoke_result_t<Call&>;
    auto executor = boost::asio::get_associated_executor(handler);
    auto& context = boost::asio::query(executor, boost::asio::execution::context);
    auto& pool = boost::asio::use_service<ThreadExecutor>(context).pool();
    auto parked = ParkedHandler<Outcome<R>, Handler>::park(std::move(handler));
    // Keeps the loop running while the call is away.
    auto back = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
    boost::asio::post(
        pool, [parked = std::move(parked), back = std::move(back), call = std::move(call)]() mutable {
          auto outcome = invoke_captured<R>(call);
          boost::asio::post(
              back, [parked, outcome = std::move(outcome)]() mutable { parked->resume(std::move(outcome)); });
        });
  }
};

/// The coroutine behind to_thread: `call` runs on the default executor.
template <class R, class Call>
boost::asio::awaitable<R> run_on_thread(Call call) {
  auto start = boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Outcome<R>)>(
      StartOnThread{}, boost::asio::use_awaitable, std::move(call));
  Outcome<R> outcome = co_await std::move(start);
  co_return detail::unwrap(std::move(outcome));
}

}  // namespace parlab::aio::detail
