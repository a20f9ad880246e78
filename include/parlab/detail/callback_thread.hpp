#pragma once
/// \file
/// CallbackThread: the one thread of a pool that runs its result callbacks, one at a time, in the
/// order the results completed (Python's result-handler thread).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace parlab::detail {

/// Runs the callbacks posted to it one after another on a thread of its own, started at the first
/// post. Callbacks that write shared state therefore need no lock among themselves.
class CallbackThread {
 public:
  CallbackThread() = default;
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;
  /// stop().
  ~CallbackThread();

  /// Queues `callback` behind every callback posted before it. After stop(), runs it at once on
  /// the calling thread (nothing else can be running then).
  void post(std::function<void()> callback);
  /// Runs what is queued, then ends the thread. Must not be called from a callback.
  void stop();
  /// True on this callback thread (inside a callback).
  [[nodiscard]] bool on_this_thread() const noexcept;

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace parlab::detail
