#pragma once
/// \file
/// Numbered one-shot gates that open themselves when the test ends, so that a failing check
/// never leaves a task blocked in a pool that the test then joins.

#include <cstddef>
#include <future>
#include <utility>
#include <vector>

namespace parlab::test {

/// `n` one-shot gates. Tasks wait on a gate through waiter(i), which stays valid after the Gates
/// are gone. The destructor opens those still closed: declare the Gates after the pool whose
/// tasks wait on them, so they open before the pool joins.
class Gates {
 public:
  /// Blocks its caller until its gate opens.
  class Waiter {
   public:
    explicit Waiter(std::shared_future<void> opened) : opened_(std::move(opened)) {}
    void operator()() const { opened_.wait(); }

   private:
    std::shared_future<void> opened_;
  };

  explicit Gates(std::size_t n) : promises_(n), opened_(n, false) {
    for (auto& promise : promises_)
      futures_.push_back(promise.get_future().share());
  }
  Gates(const Gates&) = delete;
  Gates& operator=(const Gates&) = delete;
  ~Gates() {
    for (std::size_t i = 0; i < promises_.size(); ++i)
      open(i);
  }

  /// Opens gate `i`; opening it again does nothing. Not concurrently with another open().
  void open(std::size_t i) {
    if (opened_[i]) return;
    opened_[i] = true;
    promises_[i].set_value();
  }
  /// What a task calls to wait for gate `i` (capture it by value).
  [[nodiscard]] Waiter waiter(std::size_t i) const { return Waiter{futures_[i]}; }

 private:
  std::vector<std::promise<void>> promises_;
  std::vector<std::shared_future<void>> futures_;
  std::vector<bool> opened_;
};

}  // namespace parlab::test
