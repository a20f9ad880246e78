#pragma once
/// \file
/// PoolBridge: how a loop's coroutine waits for a pool's work (aio::wrap_future, aio::anext)
/// without blocking the loop thread. A pool thread calls a notification; the bridge posts the
/// coroutine's resumption to the loop, through a gate that is closed when the loop's context shuts
/// down, so a pool that finishes after the loop ended posts nothing to a dead loop.

#include "parlab/detail/aio_parked.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace parlab::aio::detail {

/// The loop's side of waiting for pool work: one service per loop (execution context). It owns
/// the parked coroutines (so only the loop thread ever destroys them) and keeps the loop running
/// while any waits. Everything but the notifications it hands out is used on the loop thread.
class PoolBridge final : public boost::asio::execution_context::service {
 public:
  /// Service identity for boost::asio::use_service.
  inline static boost::asio::execution_context::id id;

  /// What a waiter does when its coroutine is cancelled or the loop ends while it waits (e.g.
  /// withdraw its notification, cancel the pool's work). Must not throw.
  using Stop = std::function<void()>;
  /// Arms a pool-side notification with the function a pool thread calls (any thread, once);
  /// returns the waiter's Stop.
  using Arm = std::function<Stop(std::function<void()>)>;

  explicit PoolBridge(boost::asio::execution_context& context)
      : boost::asio::execution_context::service(context), gate_(std::make_shared<Gate>()) {}

  /// Keeps `parked` until its notification comes (it is then resumed on the loop) or it is
  /// cancelled (its Stop runs, then it resumes with operation_aborted), and holds the loop's work
  /// meanwhile. `executor` is its coroutine's, on this loop.
  void park(const std::shared_ptr<Parked<boost::system::error_code>>& parked,
            const boost::asio::any_io_executor& executor, const Arm& arm) {
    {
      std::lock_guard lock{gate_->mu};
      if (!gate_->loop)
        gate_->loop.emplace(
            boost::asio::prefer(executor, boost::asio::execution::outstanding_work.untracked));
    }
    const void* const slot = parked.get();
    auto& waiting = waiting_[slot];
    waiting.parked = parked;
    waiting.work.emplace(boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked));
    parked->on_cancel([this, slot] { stop(slot); });
    // From a pool thread: only the gate and weak pointers travel, never what the loop owns.
    waiting.stop = arm([gate = gate_, bridge = this, weak = std::weak_ptr(parked)] {
      gate->post([bridge, weak] {
        if (auto resumed = weak.lock()) {
          bridge->waiting_.erase(resumed.get());
          resumed->resume({});
        }
      });
    });
  }

 private:
  /// The door from pool threads into the loop: shut (no executor) once the loop's context shuts
  /// down; a post through a shut gate is dropped.
  struct Gate {
    std::mutex mu;
    std::optional<boost::asio::any_io_executor> loop;  // guarded by mu
    template <class Fn>
    void post(Fn fn) {
      std::lock_guard lock{mu};
      if (loop) boost::asio::post(*loop, std::move(fn));
    }
  };
  struct Waiting {
    std::shared_ptr<Parked<boost::system::error_code>> parked;
    std::optional<boost::asio::any_io_executor> work;  // keeps the loop running
    Stop stop;
  };

  /// A cancelled waiter: stops what it waited for and forgets it (it resumes by itself).
  void stop(const void* parked) {
    auto node = waiting_.extract(parked);
    if (!node.empty() && node.mapped().stop) node.mapped().stop();
  }

  /// The loop ends: shut the gate, stop what is still awaited (as asyncio.run cancels its
  /// tasks), and destroy the waiting coroutines without resuming them, as the loop does with its
  /// other pending tasks.
  void shutdown() override {
    {
      std::lock_guard lock{gate_->mu};
      gate_->loop.reset();
    }
    std::unordered_map<const void*, Waiting> waiting;
    waiting.swap(waiting_);
    for (auto& entry : waiting)
      if (entry.second.stop) entry.second.stop();
  }

  std::shared_ptr<Gate> gate_;
  std::unordered_map<const void*, Waiting> waiting_;
};

/// The initiation behind wait_notified: parks the handler with the loop's PoolBridge.
struct StartNotified {
  template <class Handler>
  void operator()(Handler handler, const PoolBridge::Arm& arm) const {
    auto executor = boost::asio::get_associated_executor(handler);
    auto& bridge =
        boost::asio::use_service<PoolBridge>(boost::asio::query(executor, boost::asio::execution::context));
    auto parked = ParkedHandler<boost::system::error_code, Handler>::park(std::move(handler));
    bridge.park(parked, executor, arm);
  }
};

/// Suspends the calling coroutine until the notification armed by `arm` is made, from any thread;
/// throws boost::system::system_error (operation_aborted) when cancelled meanwhile (then the
/// Stop that `arm` returned has run).
inline boost::asio::awaitable<void> wait_notified(PoolBridge::Arm arm) {
  auto wait =
      boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(boost::system::error_code)>(
          StartNotified{}, boost::asio::use_awaitable, std::move(arm));
  co_await std::move(wait);
}

}  // namespace parlab::aio::detail
