#pragma once
/// \file
/// A one-shot gate: tasks wait on it until the test opens it.

#include <future>

namespace parlab::test {

/// Blocks wait() callers until open() is called (once).
class Gate {
 public:
  void open() { promise_.set_value(); }
  void wait() const { future_.wait(); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_{promise_.get_future().share()};
};

}  // namespace parlab::test
