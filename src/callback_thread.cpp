#include "parlab/detail/callback_thread.hpp"

#include <stdexcept>
#include <utility>

namespace parlab::detail {
namespace {
thread_local const CallbackThread* this_thread_callbacks = nullptr;
}

CallbackThread::~CallbackThread() { stop(); }

bool CallbackThread::on_this_thread() const noexcept { return this_thread_callbacks == this; }

void CallbackThread::post(std::function<void()> callback) {
  {
    std::unique_lock lock{mu_};
    if (!stopped_) {
      if (!thread_.joinable()) thread_ = std::thread{[this] { loop(); }};
      queue_.push_back(std::move(callback));
      lock.unlock();
      cv_.notify_one();
      return;
    }
  }
  callback();
}

void CallbackThread::stop() {
  if (on_this_thread()) throw std::logic_error("parlab: a result callback cannot join its own pool");
  {
    std::lock_guard lock{mu_};
    stopped_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CallbackThread::loop() {
  this_thread_callbacks = this;
  std::unique_lock lock{mu_};
  for (;;) {
    cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopped, and everything posted before stop() has run
    std::function<void()> callback = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace parlab::detail
