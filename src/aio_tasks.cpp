#include "parlab/aio_tasks.hpp"

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <iterator>

namespace parlab::aio {

namespace {

/// The LoopTasks of the loop running on this thread.
thread_local detail::LoopTasks* current_loop_tasks = nullptr;

/// what() of an exception, or its type when it has no message.
std::string message_of(const std::exception_ptr& error) {
  auto [type, message] = parlab::detail::exception_parts(error);
  return message.empty() ? type : message;
}

void write_unretrieved(const std::exception_ptr& error) noexcept {
  try {
    const std::string line = "parlab: aio: Task exception was never retrieved: " + message_of(error) + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("parlab: aio: Task exception was never retrieved\n", stderr);
  }
}

std::string group_message(const std::string& message, const std::vector<std::exception_ptr>& exceptions) {
  std::string text = message + " (" + std::to_string(exceptions.size()) +
                     (exceptions.size() == 1 ? " sub-exception)" : " sub-exceptions)");
  for (std::size_t i = 0; i < exceptions.size(); ++i)
    text += (i == 0 ? ": " : "; ") + message_of(exceptions[i]);
  return text;
}

}  // namespace

namespace detail {

void Event::set() {
  if (set_) return;
  set_ = true;
  auto waiters = std::move(waiters_);
  for (auto& waiter : waiters)
    waiter->resume({});
}

void Event::park(std::shared_ptr<Parked<boost::system::error_code>> waiter) {
  if (set_) {
    waiter->resume({});
    return;
  }
  auto* raw = waiter.get();
  waiters_.push_back(std::move(waiter));
  raw->on_cancel([this, position = std::prev(waiters_.end())] { waiters_.erase(position); });
}

namespace {

struct ParkOn {
  template <class Handler>
  void operator()(Handler handler, Event* event) const {
    event->park(ParkedHandler<boost::system::error_code, Handler>::park(std::move(handler)));
  }
};

}  // namespace

boost::asio::awaitable<void> until_set(Event* event) {
  if (event->is_set()) co_return;
  auto wait =
      boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(boost::system::error_code)>(
          ParkOn{}, boost::asio::use_awaitable, event);
  co_await std::move(wait);
}

boost::asio::awaitable<bool> wait_or_cancel(Event* event, std::function<void()> cancel) {
  bool cancelled = false;
  try {
    co_await until_set(event);
  } catch (const boost::system::system_error& e) {
    if (e.code() != boost::asio::error::operation_aborted) throw;
    cancelled = true;
  }
  if (!cancelled) co_return false;
  cancel();
  // The caller's cancellation is recorded: every co_await would throw at once. Wait anyway.
  const bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  while (!event->is_set()) {
    try {
      co_await until_set(event);
    } catch (const boost::system::system_error&) {  // cancelled once more: keep waiting
    }
  }
  co_await boost::asio::this_coro::throw_if_cancelled(throwing);
  co_return true;
}

boost::asio::awaitable<void> throw_if_cancelled() {
  auto state = co_await boost::asio::this_coro::cancellation_state;
  if (state.cancelled() != boost::asio::cancellation_type::none)
    throw boost::system::system_error(boost::asio::error::operation_aborted);
}

bool is_operation_aborted(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

TaskCore::TaskCore(LoopTasks& loop) : loop_(&loop) {
  position_ = loop.tasks_.insert(loop.tasks_.end(), this);
  ++loop.running_;
}

TaskCore::~TaskCore() {
  if (loop_ == nullptr) return;
  loop_->tasks_.erase(position_);
  if (!done()) --loop_->running_;  // never launched (its launch threw)
}

bool TaskCore::cancel() {
  if (done()) return false;
  cancel_requested_ = true;
  signal_.emit(boost::asio::cancellation_type::terminal);
  return true;
}

void TaskCore::handles_gone() noexcept {
  handles_gone_ = true;
  if (done()) report_if_unretrieved();
}

void TaskCore::finish(std::exception_ptr error) {
  if (done()) return;
  if (error && cancel_requested_ && is_operation_aborted(error)) {
    cancelled_ = true;
  } else {
    error_ = std::move(error);
  }
  if (loop_ != nullptr) --loop_->running_;
  finished_.set();
  if (on_done_) std::exchange(on_done_, nullptr)(*this);
  if (handles_gone_) report_if_unretrieved();
}

void TaskCore::abandon() {
  if (done()) return;
  cancelled_ = true;
  --loop_->running_;
  finished_.set();  // the waiters' completions are queued on the loop and destroyed with it
  if (on_done_) std::exchange(on_done_, nullptr)(*this);
}

void TaskCore::report_if_unretrieved() noexcept {
  if (!held_ || retrieved_ || !error_ || loop_ == nullptr) return;
  retrieved_ = true;
  loop_->report(error_);
}

LoopTasks::LoopTasks(boost::asio::io_context& loop, std::function<void(std::exception_ptr)> exception_handler)
    : loop_(loop), executor_(loop.get_executor()), exception_handler_(std::move(exception_handler)) {
  current_loop_tasks = this;
}

LoopTasks::~LoopTasks() {
  const std::vector<TaskCore*> tasks(tasks_.begin(), tasks_.end());
  for (auto* task : tasks)
    task->abandon();
  for (auto* task : tasks_)
    task->loop_ = nullptr;
  current_loop_tasks = nullptr;
}

void LoopTasks::finish() {
  closing_ = true;
  const std::vector<TaskCore*> running(tasks_.begin(), tasks_.end());
  for (auto* task : running)
    task->cancel();
  loop_.restart();
  const auto deadline = std::chrono::steady_clock::now() + cancel_grace;
  while (running_ > 0 && loop_.run_one_until(deadline) > 0) {
  }
  const std::vector<TaskCore*> left(tasks_.begin(), tasks_.end());
  for (auto* task : left)
    task->abandon();
  for (auto* task : left)
    task->report_if_unretrieved();  // held by handles still alive
}

LoopTasks& LoopTasks::current(const char* caller) {
  if (current_loop_tasks == nullptr)
    throw std::logic_error(std::string(caller) + " (call it from a task of aio::run)");
  return *current_loop_tasks;
}

void LoopTasks::report(const std::exception_ptr& error) noexcept {
  if (!exception_handler_) {
    write_unretrieved(error);
    return;
  }
  try {
    exception_handler_(error);
  } catch (...) {
    write_unretrieved(error);
  }
}

}  // namespace detail

ExceptionGroup::ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions)
    : what_(std::make_shared<const std::string>(group_message(message, exceptions))),
      exceptions_(std::make_shared<const std::vector<std::exception_ptr>>(std::move(exceptions))) {}

void TaskGroup::check_open() const {
  if (aborting_) throw std::logic_error("parlab: aio::TaskGroup::create_task(): the group is shutting down");
  if (all_done_.is_set())
    throw std::logic_error("parlab: aio::TaskGroup::create_task(): the group is finished");
}

void TaskGroup::child_done(detail::TaskCore& child, std::list<detail::TaskCore*>::iterator position) {
  running_.erase(position);
  if (!child.cancelled()) {
    if (auto error = child.take_error()) {
      errors_.push_back(std::move(error));
      abort();
    }
  }
  if (running_.empty()) all_done_.set();
}

void TaskGroup::abort() {
  if (aborting_) return;
  aborting_ = true;
  const std::vector<detail::TaskCore*> running(running_.begin(), running_.end());
  for (auto* child : running)
    child->cancel();
}

Task<void> TaskGroup::join() {
  std::function<void()> cancel = [this] { abort(); };
  auto wait = detail::wait_or_cancel(&all_done_, std::move(cancel));
  const bool cancelled = co_await std::move(wait);
  if (!errors_.empty()) throw ExceptionGroup("parlab: aio::TaskGroup: unhandled errors", std::move(errors_));
  if (cancelled) throw boost::system::system_error(boost::asio::error::operation_aborted);
}

Timeout::Timeout(const Executor& executor, std::optional<Clock::time_point> deadline)
    : state_(std::make_shared<State>(executor)) {
  state_->deadline = deadline;
}

Timeout::~Timeout() { end(); }

void Timeout::start(std::shared_ptr<detail::TaskCore> body) {
  state_->body = std::move(body);
  arm();
}

void Timeout::reschedule(std::optional<Clock::time_point> deadline) {
  if (state_->expired) throw std::logic_error("parlab: aio::Timeout::reschedule(): the timeout has expired");
  if (state_->ended)
    throw std::logic_error("parlab: aio::Timeout::reschedule(): the timeout scope has ended");
  state_->deadline = deadline;
  if (state_->body) arm();
}

void Timeout::arm() {
  const unsigned generation = ++state_->generation;
  state_->timer.cancel();
  if (!state_->deadline) return;
  state_->timer.expires_at(*state_->deadline);
  state_->timer.async_wait(
      [weak = std::weak_ptr<State>(state_), generation](boost::system::error_code error) {
        auto state = weak.lock();
        if (error || !state || state->generation != generation || state->ended) return;
        if (state->body->cancel()) state->expired = true;
      });
}

void Timeout::end() {
  state_->ended = true;
  state_->timer.cancel();
}

}  // namespace parlab::aio
