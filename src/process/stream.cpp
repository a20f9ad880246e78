#include "stream.hpp"

#include "memory.hpp"
#include "protocol.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>

namespace parlab::detail::process {
namespace {

/// Arguments per frame: about this many bytes, so that a frame fits in the socket's buffer and
/// the worker runs one batch while the next is written.
constexpr std::size_t batch_bytes = 128 * 1024;

/// Longest wait on the worker's socket while the job can be stopped: how late a stop is seen.
constexpr int stop_poll_ms = 5;
/// How often a worker's memory is read while it runs, with max_memory_hard.
constexpr std::chrono::milliseconds memory_tick{5};

}  // namespace

RangeStream::RangeStream(ChunkCall call, std::size_t first, std::size_t last, WorkerLink worker,
                         std::chrono::milliseconds task_timeout, std::size_t max_memory_hard)
    : call_(call),
      worker_(worker),
      last_(last),
      task_timeout_(task_timeout),
      done_(first),
      next_(first),
      stop_(call.codec.stop_token()),
      max_memory_hard_(max_memory_hard) {}

StreamEnd RangeStream::run() {
  while (done_ < last_) {
    if (!writing_ && next_ < last_) {
      encode_next_batch();
      continue;
    }
    short revents = 0;
    switch (wait(revents)) {
      case Readiness::ready:
        break;
      case Readiness::failed:
        return StreamEnd::dead;
      case Readiness::timed_out:
        return StreamEnd::timed_out;
      case Readiness::cancelled:
        return stop_worker();
      case Readiness::over_memory:
        return StreamEnd::over_memory;
    }
    if (writing_ && (revents & POLLOUT) && !send_some()) return StreamEnd::dead;
    if (!(revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (!take_results()) return StreamEnd::dead;
  }
  return StreamEnd::finished;
}

/// Puts the next frame of tasks in the payload, to be written.
void RangeStream::encode_next_batch() {
  std::string& payload = worker_.payload;
  const EncodedBatch batch = encode_batch(
      payload, sizeof(FrameHeader), static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(call_.entry)),
      static_cast<std::uint64_t>(call_.fn), call_.codec, next_, last_, batch_bytes);
  const FrameHeader header{Kind::chunk, 0, payload.size() - sizeof(FrameHeader)};
  std::memcpy(payload.data(), &header, sizeof header);
  writing_ = batch.end > next_;
  written_ = 0;
  if (batch.failed) unsendable_.push_back(batch.end);
  next_ = batch.failed ? batch.end + 1 : batch.end;
  skip_unsendable();
}

/// Waits until the socket can be read (or written, while a frame is being written), until
/// task_timeout after the last progress, or until the job is stopped; with max_memory_hard,
/// wakes every memory_tick to read the worker's memory.
RangeStream::Readiness RangeStream::wait(short& revents) {
  const auto deadline = task_timeout_.count() > 0 ? last_progress_ + task_timeout_ : Clock::time_point::max();
  for (;;) {
    if (stop_.stop_requested()) return Readiness::cancelled;
    if (over_memory()) return Readiness::over_memory;
    pollfd pfd{worker_.fd, static_cast<short>(POLLIN | (writing_ ? POLLOUT : 0)), 0};
    const auto wake =
        std::min(deadline, max_memory_hard_ != 0 ? next_memory_check_ : Clock::time_point::max());
    int wait_ms = -1;
    if (wake != Clock::time_point::max())
      wait_ms = static_cast<int>(
          std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count()));
    const int ready = ::poll(&pfd, 1, poll_timeout_for_stop(wait_ms));
    if (ready > 0) {
      revents = pfd.revents;
      return Readiness::ready;
    }
    if (ready == 0 && Clock::now() >= deadline) return Readiness::timed_out;
    if (ready < 0 && errno != EINTR) return Readiness::failed;
  }
}

/// The job was stopped: kills the worker, then takes the results it had sent (what finished is
/// kept); the tasks left are the caller's to report.
StreamEnd RangeStream::stop_worker() {
  ::kill(static_cast<pid_t>(worker_.pid), SIGKILL);
  pollfd pfd{worker_.fd, POLLIN, 0};
  while (done_ < last_) {
    const bool readable = ::poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
    if (!readable || !take_results()) break;
  }
  return StreamEnd::cancelled;
}

/// poll()'s timeout (-1: none) capped at stop_poll_ms while the job can be stopped, so that a
/// stop is seen within a few milliseconds; a job that cannot be stopped is not woken.
int RangeStream::poll_timeout_for_stop(int wait_ms) const {
  if (!stop_.stop_possible()) return wait_ms;
  return wait_ms < 0 ? stop_poll_ms : std::min(wait_ms, stop_poll_ms);
}

/// With max_memory_hard, reads the worker's resident set size (at most every memory_tick) and
/// kills the worker when it is over the limit.
bool RangeStream::over_memory() {
  if (max_memory_hard_ == 0 || Clock::now() < next_memory_check_) return false;
  next_memory_check_ = Clock::now() + memory_tick;
  const std::optional<std::size_t> rss = resident_bytes(worker_.pid);
  if (!rss || *rss <= max_memory_hard_) return false;
  rss_at_kill_ = *rss;
  ::kill(static_cast<pid_t>(worker_.pid), SIGKILL);
  return true;
}

/// Writes what the socket takes of the payload; false when the worker is gone.
bool RangeStream::send_some() {
  const std::string& payload = worker_.payload;
  const ssize_t n = ::send(worker_.fd, payload.data() + written_, payload.size() - written_, MSG_NOSIGNAL);
  if (n > 0) {
    written_ += static_cast<std::size_t>(n);
    writing_ = written_ < payload.size();
    last_progress_ = Clock::now();  // the worker is reading: it is between tasks
    return true;
  }
  return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/// Reads a results frame and hands its outcomes to the codec; false when the worker is gone or
/// cannot be trusted any more (then it is killed).
bool RangeStream::take_results() {
  Kind kind{};
  bool read = false;
  try {
    read = read_frame(worker_.fd, kind, worker_.frame);
  } catch (...) {  // a frame too large to hold: the worker is not speaking our protocol
    ::kill(static_cast<pid_t>(worker_.pid), SIGKILL);
  }
  if (!read || kind != Kind::results) return false;
  last_progress_ = Clock::now();
  try {
    codec::Reader in{worker_.frame};
    std::uint64_t count = 0;
    in(count);
    for (std::uint64_t k = 0; k < count && done_ < last_; ++k) {
      read_outcome(in, done_, call_.codec);
      ++done_;
      skip_unsendable();
    }
  } catch (...) {
    // A result that does not decode: the worker's state cannot be trusted any more.
    call_.codec.error(done_, std::current_exception());
    ++done_;
    skip_unsendable();
    ::kill(static_cast<pid_t>(worker_.pid), SIGKILL);
    return false;
  }
  return true;
}

/// Tasks that failed to encode were never sent: they are done once the results reach them.
void RangeStream::skip_unsendable() {
  while (!unsendable_.empty() && unsendable_.front() == done_) {
    unsendable_.pop_front();
    ++done_;
  }
}

}  // namespace parlab::detail::process
