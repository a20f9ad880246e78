#pragma once
/// \file
/// ApplyJob, the job behind apply and apply_async: one call of fn on an argument tuple.

#include "parlab/async_result.hpp"
#include "parlab/detail/job_errors.hpp"
#include "parlab/detail/scheduler.hpp"
#include "parlab/detail/stop.hpp"

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <stop_token>
#include <utility>

namespace parlab::detail {

/// One call (apply / apply_async): fn applied to the argument tuple. AsyncResult::cancel() drops
/// it if it has not started, else asks it to stop (request_stop); either way its result is a
/// CancelledError.
template <class Backend, class Fn, class Args, class R>
class ApplyJob final : public Job, public StopTarget {
 public:
  /// A `stoppable` call (apply_async) can be stopped; apply's cannot (its stop token is empty).
  ApplyJob(Backend* backend, Fn fn, Args args, std::shared_ptr<ResultState<R>> state, bool stoppable)
      : backend_(backend),
        fn_(std::move(fn)),
        args_(std::move(args)),
        state_(std::move(state)),
        stop_(stoppable ? std::stop_source{} : std::stop_source{std::nostopstate}) {}

  bool claimable() const override { return !claimed_.load(std::memory_order_relaxed); }
  bool parallel() const override { return false; }
  bool run_chunk() override {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
    // Claimed once: the arguments are moved into the call.
    auto at = [this](std::size_t) -> Args&& { return std::move(args_); };
    backend_->run(fn_, at, 0, 1, *this);
    return true;
  }

  /// Sink for the backend.
  template <class... V>
  void value(std::size_t /*i*/, V&&... value) {
    if (state_->settle()) {
      state_->set_value(std::forward<V>(value)...);
    } else {
      state_->set_error(cancelled_error());
    }
  }
  void error(std::size_t /*i*/, std::exception_ptr error) {
    state_->set_error(state_->settle() ? std::move(error) : cancelled_error());
  }
  /// The call did not run, or was stopped, because the result was cancelled.
  void cancelled(std::size_t /*i*/) { state_->set_error(cancelled_error()); }
  [[nodiscard]] std::stop_token stop_token() const noexcept { return stop_.get_token(); }

  void cancel() override {
    if (!claimed_.exchange(true)) state_->set_error(terminated_error());
  }
  void request_stop() override {
    stop_.request_stop();
    if (!claimed_.exchange(true)) state_->set_error(cancelled_error());
  }

 private:
  Backend* backend_;
  Fn fn_;
  Args args_;
  std::shared_ptr<ResultState<R>> state_;
  std::atomic<bool> claimed_{false};
  std::stop_source stop_;
};

}  // namespace parlab::detail
