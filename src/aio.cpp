#include "parlab/aio.hpp"

#include "parlab/cpu.hpp"
#include "parlab/detail/aio_task_core.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <string>

namespace parlab::aio {

namespace {

/// Whether this thread is inside run().
thread_local bool loop_running = false;

}  // namespace

std::size_t default_executor_threads() { return std::min<std::size_t>(32, std::size_t{cpu_count()} + 4); }

namespace detail {

ThreadExecutor::ThreadExecutor(boost::asio::execution_context& context)
    : boost::asio::execution_context::service(context), threads_(default_executor_threads()) {}

ThreadExecutor::~ThreadExecutor() { shutdown(); }

void ThreadExecutor::set_threads(std::size_t threads) {
  if (threads == 0) throw std::invalid_argument("parlab: aio: the default executor needs at least 1 thread");
  std::lock_guard lock{mu_};
  if (pool_) throw std::logic_error("parlab: aio: the default executor is already running");
  threads_ = threads;
}

boost::asio::thread_pool& ThreadExecutor::pool() {
  std::lock_guard lock{mu_};
  if (!pool_) pool_ = std::make_unique<boost::asio::thread_pool>(threads_);
  return *pool_;
}

void ThreadExecutor::shutdown() {
  std::unique_ptr<boost::asio::thread_pool> pool;
  {
    std::lock_guard lock{mu_};
    pool = std::move(pool_);
  }
  // Calls still running finish first; their results are posted to a loop that no longer runs.
  if (pool) pool->join();
}

void run_loop(Task<void> main, LoopOptions options) {
  if (loop_running) throw std::logic_error("parlab: aio::run() cannot be called from a running event loop");
  loop_running = true;
  struct Reset {
    Reset() = default;
    Reset(const Reset&) = delete;
    Reset& operator=(const Reset&) = delete;
    ~Reset() { loop_running = false; }
  } reset;

  boost::asio::io_context loop;
  if (options.executor_threads != 0)
    boost::asio::use_service<ThreadExecutor>(loop).set_threads(options.executor_threads);
  // The tasks of create_task (aio_tasks.hpp): cancelled once main is done, as asyncio.run does.
  LoopTasks tasks{loop, std::move(options.exception_handler)};
  // Other pending tasks are destroyed with the loop once main is done.
  boost::asio::co_spawn(loop, std::move(main),
                        [&loop](const std::exception_ptr& /*captured*/) { loop.stop(); });
  loop.run();
  tasks.finish();
}

Task<void> sleep_for(std::chrono::steady_clock::duration delay) {
  boost::asio::steady_timer timer{co_await boost::asio::this_coro::executor, delay};
  co_await timer.async_wait(boost::asio::use_awaitable);
}

std::string describe_timeout(std::chrono::steady_clock::duration timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  return "after " + std::to_string(ms) + " ms";
}

void rethrow_first(const std::vector<std::size_t>& order, const std::vector<std::exception_ptr>& errors) {
  for (std::size_t index : order)
    if (errors[index]) std::rethrow_exception(errors[index]);
}

}  // namespace detail

Semaphore::~Semaphore() {
  auto waiters = std::move(waiters_);
  for (auto& waiter : waiters)
    waiter->resume(boost::asio::error::operation_aborted);
}

Task<void> Semaphore::acquire() {
  if (!locked()) {
    --value_;
    co_return;
  }
  auto wait =
      boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(boost::system::error_code)>(
          Park{}, boost::asio::use_awaitable, this);
  co_await std::move(wait);
}

void Semaphore::release() {
  while (!waiters_.empty()) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (waiter->resume({})) return;  // the permit passes straight to the waiter
  }
  ++value_;
}

Task<Semaphore::Guard> Semaphore::hold() {
  co_await acquire();
  co_return Guard{this};
}

void Semaphore::enqueue(std::shared_ptr<detail::Parked<boost::system::error_code>> waiter) {
  auto* raw = waiter.get();
  waiters_.push_back(std::move(waiter));
  raw->on_cancel([this, position = std::prev(waiters_.end())] { waiters_.erase(position); });
}

}  // namespace parlab::aio
