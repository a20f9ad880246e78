#include "parlab/detail/scheduler.hpp"

#include "parlab/async_result.hpp"
#include "parlab/errors.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace parlab::detail {
namespace {
thread_local const Scheduler* this_thread_scheduler = nullptr;
thread_local std::size_t this_thread_index = 0;
}  // namespace

const Scheduler* current_scheduler() noexcept { return this_thread_scheduler; }
std::size_t current_worker_index() noexcept { return this_thread_index; }

Scheduler::Scheduler(std::size_t workers) : workers_(workers) {
  if (workers == 0) throw std::invalid_argument("parlab: a pool needs at least one worker");
  threads_.reserve(workers);
  try {
    for (std::size_t i = 0; i < workers; ++i)
      threads_.emplace_back([this, i] { worker_loop(i); });
  } catch (...) {
    terminate();
    join();
    throw;
  }
}

Scheduler::~Scheduler() {
  close();
  join();
}

bool Scheduler::on_worker_thread() const noexcept { return this_thread_scheduler == this; }

void Scheduler::check_accepting() {
  std::lock_guard lock{mu_};
  check_accepting_locked();
}

void Scheduler::check_accepting_locked() const {
  if (state_ == State::terminated || (state_ == State::closed && !on_worker_thread()))
    throw PoolNotRunning("parlab: Pool not running (closed or terminated)");
}

void Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock{mu_};
    check_accepting_locked();
    enqueue_locked(std::move(job));
  }
  if (helpers_waiting_.load() > 0) help_cv_.notify_all();
}

void Scheduler::submit_stream(const std::shared_ptr<Job>& job) {
  submit(job);
  std::lock_guard lock{mu_};
  std::erase_if(streams_, [](const std::weak_ptr<Job>& w) { return w.expired(); });
  streams_.push_back(job);
}

void Scheduler::enqueue_locked(std::shared_ptr<Job> job) {
  job->queued_ = true;
  const bool parallel = job->parallel();
  queue_.push_back(std::move(job));
  queued_jobs_.store(queue_.size(), std::memory_order_release);
  if (sleepers_ == 0) return;
  // A job several workers can share wakes them all at once (a chain of single wake-ups would
  // add one wake-up latency per worker); a single call wakes one.
  if (parallel) {
    work_cv_.notify_all();
  } else {
    work_cv_.notify_one();
  }
}

bool Scheduler::requeue(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard lock{mu_};
    if (state_ == State::terminated || (state_ == State::closed && exited_ == workers_)) return false;
    if (job->queued_ || !job->claimable()) return true;
    enqueue_locked(job);
  }
  if (helpers_waiting_.load() > 0) help_cv_.notify_all();
  return true;
}

std::shared_ptr<Job> Scheduler::take_locked() {
  while (!queue_.empty()) {
    auto& front = queue_.front();
    if (front->claimable()) return front;
    front->queued_ = false;
    queue_.pop_front();
  }
  queued_jobs_.store(0, std::memory_order_release);
  return nullptr;
}

void Scheduler::worker_loop(std::size_t index) {
  this_thread_scheduler = this;
  this_thread_index = index;
  std::unique_lock lock{mu_};
  for (;;) {
    auto job = take_locked();
    if (!job) {
      if (state_ != State::running && active_ == 0) break;
      // Spin a little before sleeping: back-to-back small submissions then cost no wake-up.
      lock.unlock();
      spin_until([this] { return queued_jobs_.load(std::memory_order_acquire) > 0; });
      lock.lock();
      job = take_locked();
      if (!job) {
        if (state_ != State::running && active_ == 0) break;
        ++sleepers_;
        work_cv_.wait(lock, [this] { return !queue_.empty() || (state_ != State::running && active_ == 0); });
        --sleepers_;
        continue;
      }
    }
    ++active_;
    lock.unlock();
    while (job->run_chunk()) {
    }
    job.reset();
    lock.lock();
    if (--active_ == 0 && state_ != State::running) work_cv_.notify_all();
  }
  ++exited_;
  work_cv_.notify_all();
}

bool Scheduler::run_one() {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock{mu_};
    job = take_locked();
  }
  return job && job->run_chunk();
}

void Scheduler::wait_until(const std::function<bool()>& done) {
  if (done()) return;
  if (!on_worker_thread()) {
    throw std::logic_error("parlab: Scheduler::wait_until is for worker threads");
  }
  while (!done()) {
    if (run_one()) continue;
    std::unique_lock lock{mu_};
    helpers_waiting_.fetch_add(1);
    // The timeout is a safety net only: every completion calls notify_helpers().
    help_cv_.wait_for(lock, std::chrono::milliseconds{5},
                      [&] { return done() || (!queue_.empty() && queue_.front()->claimable()); });
    helpers_waiting_.fetch_sub(1);
  }
}

void Scheduler::notify_helpers() {
  if (helpers_waiting_.load() == 0) return;
  std::lock_guard lock{mu_};
  help_cv_.notify_all();
}

void Scheduler::limit_pending(std::size_t max_pending, std::chrono::milliseconds submit_timeout) {
  if (submit_timeout.count() < 0) throw std::invalid_argument("parlab: submit_timeout must not be negative");
  max_pending_ = max_pending;
  submit_timeout_ = submit_timeout;
}

bool Scheduler::acquire_pending() {
  if (max_pending_ == 0) return false;  // no lock on the common path: set before any submission
  std::unique_lock lock{mu_};
  if (!on_worker_thread() && !callbacks_.on_this_thread()) {
    const auto admitted = [this] { return state_ != State::running || pending_ < max_pending_; };
    if (submit_timeout_.count() == 0) {
      pending_cv_.wait(lock, admitted);
    } else if (!pending_cv_.wait_for(lock, submit_timeout_, admitted)) {
      throw TimeoutError("parlab: submission timed out after " + std::to_string(submit_timeout_.count()) +
                         " ms: max_pending (" + std::to_string(max_pending_) + ") calls still unfinished");
    }
    check_accepting_locked();
  }
  ++pending_;
  return true;
}

void Scheduler::release_pending() {
  {
    std::lock_guard lock{mu_};
    --pending_;
  }
  pending_cv_.notify_one();
}

void Scheduler::close() {
  {
    std::lock_guard lock{mu_};
    if (state_ != State::running) return;
    state_ = State::closed;
    closing_.store(true, std::memory_order_release);
    // Streams waiting for their consumer become claimable again (they ignore their window once
    // the pool closes): their input drains, as Python's imap reads all input up front.
    for (auto& weak : streams_) {
      auto job = weak.lock();
      if (job && !job->queued_ && job->claimable()) enqueue_locked(std::move(job));
    }
    streams_.clear();
  }
  work_cv_.notify_all();
  help_cv_.notify_all();
  pending_cv_.notify_all();
}

void Scheduler::terminate() {
  std::deque<std::shared_ptr<Job>> dropped;
  {
    std::lock_guard lock{mu_};
    state_ = State::terminated;
    closing_.store(true, std::memory_order_release);
    streams_.clear();
    dropped.swap(queue_);
    for (auto& job : dropped)
      job->queued_ = false;
    queued_jobs_.store(0);
    work_cv_.notify_all();
  }
  for (auto& job : dropped)
    job->cancel();
  help_cv_.notify_all();
  pending_cv_.notify_all();
}

void Scheduler::join() {
  if (on_worker_thread()) throw std::logic_error("parlab: join() called from one of the pool's own workers");
  if (callbacks_.on_this_thread())
    throw std::logic_error("parlab: join() called from a result callback of the pool");
  {
    std::lock_guard lock{mu_};
    if (state_ == State::running) throw std::logic_error("parlab: join() before close() or terminate()");
  }
  std::lock_guard lock{join_mu_};
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  callbacks_.stop();  // the callbacks of everything the workers completed
}

}  // namespace parlab::detail
