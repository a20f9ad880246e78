#pragma once
/// \file
/// ParkedLine: a first-come, first-served line of parked coroutines (Parked), the waiters of
/// Semaphore, Event, Lock, Condition and Queue. A waiter cancelled while in line leaves it.

#include "parlab/detail/aio_parked.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <iterator>
#include <list>
#include <memory>
#include <utility>
#include <variant>

namespace parlab::aio::detail {

/// Coroutines waiting in arrival order, each for a V, each with a Data that travels with it (a
/// Queue putter's item). Loop-side only. Destroying the line resumes its waiters with
/// Aborted<V> (operation_aborted).
template <class V = boost::system::error_code, class Data = std::monostate>
class ParkedLine {
 public:
  /// One waiter: whom to resume, and its data.
  struct Entry {
    std::shared_ptr<Parked<V>> waiter;
    Data data;
  };

  ParkedLine() = default;
  ParkedLine(const ParkedLine&) = delete;
  ParkedLine& operator=(const ParkedLine&) = delete;
  ~ParkedLine() { abort_all(); }

  /// `co_await line.wait(data)`: joins the end of the line and completes with the V it is
  /// resumed with; cancelling the awaiting task takes it out of the line (with its data) and
  /// resumes it with Aborted<V>. Name the result before awaiting it.
  auto wait(Data data = {}) {
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(V)>(
        Join{}, boost::asio::use_awaitable, this, std::move(data));
  }

  /// Takes the first waiter out of the line; the caller resumes it. The line must not be empty.
  Entry pop_front() {
    Entry entry = std::move(entries_.front());
    entries_.pop_front();
    return entry;
  }
  /// Resumes the first waiter with `value`; false when the line is empty.
  bool wake_one(V value = V{}) {
    if (entries_.empty()) return false;
    pop_front().waiter->resume(std::move(value));
    return true;
  }
  /// Resumes every waiter with Aborted<V>.
  void abort_all() {
    auto entries = std::move(entries_);
    for (auto& entry : entries)
      entry.waiter->resume(Aborted<V>::make());
  }

  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Join {
    template <class Handler>
    void operator()(Handler handler, ParkedLine* line, Data data) const {
      auto waiter = ParkedHandler<V, Handler>::park(std::move(handler));
      auto* raw = waiter.get();
      line->entries_.push_back(Entry{std::move(waiter), std::move(data)});
      raw->on_cancel([line, position = std::prev(line->entries_.end())] { line->entries_.erase(position); });
    }
  };

  std::list<Entry> entries_;
};

}  // namespace parlab::aio::detail
