#pragma once
/// \file
/// Parked: a coroutine suspended until a value arrives or it is cancelled (Semaphore's waiters,
/// to_thread's caller).

#include "parlab/outcome.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <utility>

namespace parlab::aio::detail {

/// The value a parked operation completes with when it is cancelled.
template <class V>
struct Aborted;
template <>
struct Aborted<boost::system::error_code> {
  static boost::system::error_code make() { return boost::asio::error::operation_aborted; }
};
template <class T>
struct Aborted<Outcome<T>> {
  static Outcome<T> make() {
    return Outcome<T>::failure(
        std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted)));
  }
};

/// A suspended coroutine waiting for a V, resumed on its own executor. Lives on the loop thread.
/// A terminal or partial cancellation of its coroutine resumes it at once with Aborted<V>.
template <class V>
class Parked : public std::enable_shared_from_this<Parked<V>> {
 public:
  Parked(const Parked&) = delete;
  Parked& operator=(const Parked&) = delete;
  virtual ~Parked() = default;

  /// Resumes the coroutine with `value` (posted to its executor); false if already resumed.
  bool resume(V value) {
    if (done_) return false;
    done_ = true;
    on_cancel_ = nullptr;
    post_completion(std::move(value));
    return true;
  }
  /// Called when cancellation resumes the coroutine, before it is resumed (e.g. to leave a queue).
  void on_cancel(std::function<void()> hook) { on_cancel_ = std::move(hook); }

 protected:
  Parked() = default;
  void cancel() {
    if (done_) return;
    if (auto hook = std::exchange(on_cancel_, nullptr)) hook();
    resume(Aborted<V>::make());
  }
  virtual void post_completion(V value) = 0;

 private:
  bool done_ = false;
  std::function<void()> on_cancel_;
};

/// Parked for a concrete completion handler type.
template <class V, class Handler>
class ParkedHandler final : public Parked<V> {
 public:
  /// Parks `handler` and connects its cancellation slot.
  static std::shared_ptr<Parked<V>> park(Handler handler) {
    auto self = std::make_shared<ParkedHandler>(std::move(handler));
    auto slot = boost::asio::get_associated_cancellation_slot(self->handler_);
    if (slot.is_connected()) {
      // The slot may outlive the operation (it belongs to the coroutine), hence the weak pointer.
      slot.assign([weak = std::weak_ptr<ParkedHandler>(self)](boost::asio::cancellation_type_t type) {
        using boost::asio::cancellation_type;
        if ((type & (cancellation_type::terminal | cancellation_type::partial)) == cancellation_type::none)
          return;
        if (auto parked = weak.lock()) parked->cancel();
      });
    }
    return self;
  }
  explicit ParkedHandler(Handler handler) : handler_(std::move(handler)) {}

 private:
  void post_completion(V value) override {
    auto executor = boost::asio::get_associated_executor(handler_);
    boost::asio::post(executor, [handler = std::move(handler_), value = std::move(value)]() mutable {
      auto slot = boost::asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
      std::move(handler)(std::move(value));
    });
  }

  Handler handler_;
};

}  // namespace parlab::aio::detail
