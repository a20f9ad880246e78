#pragma once
/// \file
/// Numbered one-shot gates that open themselves when the test ends, so that a failing check
/// never leaves a task blocked in a pool that the test then joins.

#include "support/gate.hpp"

#include <cstddef>
#include <vector>

namespace parlab::test {

/// `n` Gates; wait(i) blocks until open(i). The destructor opens those still closed: declare
/// the Gates after the pool whose tasks wait on them, so they open before the pool joins.
class Gates {
 public:
  explicit Gates(std::size_t n) : gates_(n), opened_(n, false) {}
  Gates(const Gates&) = delete;
  Gates& operator=(const Gates&) = delete;
  ~Gates() {
    for (std::size_t i = 0; i < gates_.size(); ++i)
      open(i);
  }

  /// Opens gate `i`; opening it again does nothing. Call from the test's thread only.
  void open(std::size_t i) {
    if (opened_[i]) return;
    opened_[i] = true;
    gates_[i].open();
  }
  /// Blocks until gate `i` is open (from any thread).
  void wait(std::size_t i) const { gates_[i].wait(); }

 private:
  std::vector<Gate> gates_;
  std::vector<bool> opened_;
};

}  // namespace parlab::test
