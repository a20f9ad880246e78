#include "parlab/aio.hpp"

#include "parlab/cpu.hpp"
#include "parlab/errors.hpp"
#include "parlab/detail/aio_task_core.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

namespace parlab::aio {

namespace {

/// Whether this thread is inside run().
thread_local bool loop_running = false;

/// Whether SIGINT still does what it does by default (ends the process): nobody handles it yet.
bool sigint_has_default_action() {
  struct sigaction current {};
  return ::sigaction(SIGINT, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
         current.sa_handler == SIG_DFL;
}

/// asyncio.run's Ctrl-C: the first SIGINT cancels the main task, a second one stops the loop at
/// once. SIGINT gets its default action back when the watch ends.
class SigintWatch {
 public:
  SigintWatch(boost::asio::io_context& loop, boost::asio::cancellation_signal& cancel_main)
      : loop_(loop), cancel_main_(cancel_main), signals_(loop, SIGINT) {
    wait();
  }
  [[nodiscard]] int interrupts() const noexcept { return interrupts_; }

 private:
  void wait() {
    signals_.async_wait([this](const boost::system::error_code& error, int /*signal*/) {
      if (error) return;  // the loop ended
      if (++interrupts_ == 1) {
        cancel_main_.emit(boost::asio::cancellation_type::terminal);
        wait();
      } else {
        loop_.stop();
      }
    });
  }

  boost::asio::io_context& loop_;
  boost::asio::cancellation_signal& cancel_main_;
  boost::asio::signal_set signals_;
  int interrupts_ = 0;
};

/// Whether `error` is a task's cancellation (operation_aborted, or CancelledError from a handle).
bool is_cancellation(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::terminate_handler previous_terminate = nullptr;

/// The terminate handler once a KeyboardInterrupt was thrown: an uncaught one ends the program by
/// SIGINT, as an uncaught KeyboardInterrupt ends Python; anything else goes to the previous handler.
[[noreturn]] void end_by_sigint() {
  if (auto error = std::current_exception()) {
    try {
      std::rethrow_exception(error);
    } catch (const KeyboardInterrupt&) {
      static constexpr char message[] = "KeyboardInterrupt\n";
      (void)!::write(STDERR_FILENO, message, sizeof message - 1);
      ::signal(SIGINT, SIG_DFL);
      sigset_t sigint;
      ::sigemptyset(&sigint);
      ::sigaddset(&sigint, SIGINT);
      ::pthread_sigmask(SIG_UNBLOCK, &sigint, nullptr);
      ::raise(SIGINT);
    } catch (...) {
    }
  }
  if (previous_terminate) previous_terminate();
  std::abort();
}

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

bool run_loop(Task<void> main, LoopOptions options) {
  if (loop_running) throw std::logic_error("parlab: aio::run() cannot be called from a running event loop");
  loop_running = true;
  struct Reset {
    Reset() = default;
    Reset(const Reset&) = delete;
    Reset& operator=(const Reset&) = delete;
    ~Reset() { loop_running = false; }
  } reset;

  // Declared before the loop: a main task that a second Ctrl-C left pending is destroyed with the
  // loop, and its frame still holds this signal's slot.
  boost::asio::cancellation_signal cancel_main;
  boost::asio::io_context loop;
  if (options.executor_threads != 0)
    boost::asio::use_service<ThreadExecutor>(loop).set_threads(options.executor_threads);
  // The tasks of create_task (aio_tasks.hpp): cancelled once main is done, as asyncio.run does.
  LoopTasks tasks{loop, std::move(options.exception_handler)};
  // Other pending tasks are destroyed with the loop once main is done.
  boost::asio::co_spawn(loop, std::move(main),
                        boost::asio::bind_cancellation_slot(
                            cancel_main.slot(), [&loop](const std::exception_ptr& /*captured*/) { loop.stop(); }));
  std::optional<SigintWatch> sigint;
  if (options.handle_sigint && sigint_has_default_action()) sigint.emplace(loop, cancel_main);
  loop.run();
  tasks.finish();
  return sigint && sigint->interrupts() > 0;
}

void end_interrupted(const std::exception_ptr& error, bool finished) {
  if (finished && (!error || !is_cancellation(error))) return;
  static std::once_flag hook_terminate;
  std::call_once(hook_terminate, [] { previous_terminate = std::set_terminate(end_by_sigint); });
  throw KeyboardInterrupt{};
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

Semaphore::~Semaphore() = default;  // the line resumes its waiters with operation_aborted

Task<void> Semaphore::acquire() {
  if (!locked()) {
    --value_;
    co_return;
  }
  auto wait = waiters_.wait();
  co_await std::move(wait);
}

void Semaphore::release() {
  if (!waiters_.wake_one()) ++value_;  // else the permit passes straight to the first waiter
}

Task<Semaphore::Guard> Semaphore::hold() {
  co_await acquire();
  co_return Guard{this};
}

}  // namespace parlab::aio
