#pragma once
/// \file
/// ApplyJob, the job behind apply and apply_async: one call of fn on an argument tuple.

#include "parlab/async_result.hpp"
#include "parlab/detail/job_errors.hpp"
#include "parlab/detail/scheduler.hpp"

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <utility>

namespace parlab::detail {

/// One call (apply / apply_async): fn applied to the argument tuple.
template <class Backend, class Fn, class Args, class R>
class ApplyJob final : public Job {
 public:
  ApplyJob(Backend* backend, Fn fn, Args args, std::shared_ptr<ResultState<R>> state)
      : backend_(backend), fn_(std::move(fn)), args_(std::move(args)), state_(std::move(state)) {}

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
    state_->set_value(std::forward<V>(value)...);
  }
  void error(std::size_t /*i*/, std::exception_ptr error) { state_->set_error(std::move(error)); }
  void cancel() override {
    if (!claimed_.exchange(true)) state_->set_error(terminated_error());
  }

 private:
  Backend* backend_;
  Fn fn_;
  Args args_;
  std::shared_ptr<ResultState<R>> state_;
  std::atomic<bool> claimed_{false};
};

}  // namespace parlab::detail
