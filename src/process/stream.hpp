#pragma once
/// \file
/// RangeStream: how the program runs a range of a chunk's tasks on one ProcessPool worker,
/// writing arguments and reading results at the same time.

#include "parlab/detail/remote_call.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <stop_token>
#include <string>

namespace parlab::detail::process {

/// A chunk's call: what the worker runs for each task, and where the outcomes go.
struct ChunkCall {
  ChunkEntry entry;
  std::uintptr_t fn;
  ChunkCodec& codec;
};

/// A worker as the program drives it: its non-blocking socket, its pid, and the buffers its slot
/// keeps across chunks (so their memory is reused).
struct WorkerLink {
  int fd;
  long pid;
  std::string& payload;  ///< the frame being written to the worker
  std::string& frame;    ///< the frame read from the worker
};

/// How a RangeStream ended.
enum class StreamEnd {
  finished,     ///< every task of the range has its outcome
  dead,         ///< the worker is gone, or was killed for a reply it should not have sent
  timed_out,    ///< the worker made no progress for task_timeout (it is still running)
  cancelled,    ///< the job was stopped (AsyncResult::cancel, fail-fast): the worker was killed
  over_memory,  ///< the worker was seen over max_memory_hard, and killed
};

/// Streams tasks [first, last) to a worker in frames: while the worker runs one batch, the next
/// is encoded and written; outcomes go to the codec as they come. A task whose argument does not
/// encode fails alone and is not sent. While the job can be stopped (its codec's stop token),
/// the stream looks at the token at least every few milliseconds and ends when it is requested.
class RangeStream {
 public:
  RangeStream(ChunkCall call, std::size_t first, std::size_t last, WorkerLink worker,
              std::chrono::milliseconds task_timeout, std::size_t max_memory_hard = 0);

  /// Streams until every task has its outcome, the worker dies, or it times out.
  StreamEnd run();
  /// Tasks before this one have their outcome.
  [[nodiscard]] std::size_t done() const { return done_; }
  /// The worker's resident set size (bytes) when it was seen over max_memory_hard, else 0.
  [[nodiscard]] std::size_t rss_at_kill() const { return rss_at_kill_; }

 private:
  using Clock = std::chrono::steady_clock;
  /// What waiting on the worker's socket found.
  enum class Readiness { ready, failed, timed_out, cancelled, over_memory };

  void encode_next_batch();
  Readiness wait(short& revents);
  bool send_some();
  bool take_results();
  void skip_unsendable();
  [[nodiscard]] int poll_timeout_for_stop(int wait_ms) const;
  StreamEnd stop_worker();
  bool over_memory();

  ChunkCall call_;
  WorkerLink worker_;
  std::size_t last_;
  std::chrono::milliseconds task_timeout_;
  std::size_t done_;                    // tasks before this have their outcome
  std::size_t next_;                    // the first task not encoded yet
  std::size_t written_ = 0;             // bytes of the payload (the current frame) written
  bool writing_ = false;                // the payload holds a frame not fully written
  std::deque<std::size_t> unsendable_;  // tasks that failed to encode (and were not sent), in order
  Clock::time_point last_progress_ = Clock::now();
  std::stop_token stop_;                   // the job's: requested when it was cancelled or failed fast
  std::size_t max_memory_hard_;            // bytes; 0: no hard limit
  Clock::time_point next_memory_check_{};  // when over_memory() reads the worker's memory next
  std::size_t rss_at_kill_ = 0;
};

}  // namespace parlab::detail::process
