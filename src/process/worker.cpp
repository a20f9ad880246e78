#include "worker.hpp"

#include "parlab/detail/remote_call.hpp"
#include "parlab/errors.hpp"
#include "parlab/worker.hpp"

#include "protocol.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

namespace parlab::detail::process {
namespace {

/// Sends a chunk's outcomes to the program in results frames, a batch at least every 5 ms.
class SocketResultWriter final : public ResultWriter {
 public:
  /// `buffer` holds the batch; it is the caller's so its capacity outlives the chunk.
  SocketResultWriter(int fd, SharedPage* page, std::string& buffer)
      : fd_(fd), page_(page), buffer_(buffer), writer_(buffer_) {
    buffer_.clear();
  }

  void begin(std::uint64_t index) override { page_->running.store(index + 1, std::memory_order_relaxed); }
  codec::Writer& ok() override { return write_ok(writer_); }
  void fail(const std::exception_ptr& error) override { write_error(writer_, error); }
  void end() override {
    ++pending_;
    if (coarse_now_ms() - last_flush_ms_ >= 5) flush();
  }
  void finish() {
    flush();
    page_->running.store(0, std::memory_order_relaxed);
  }

 private:
  void flush() {
    if (pending_ == 0) return;
    const FrameHeader header{Kind::results, 0, sizeof(std::uint64_t) + buffer_.size()};
    const std::uint64_t count = pending_;
    iovec parts[3] = {{const_cast<FrameHeader*>(&header), sizeof header},
                      {const_cast<std::uint64_t*>(&count), sizeof count},
                      {buffer_.data(), buffer_.size()}};
    std::size_t total = sizeof header + sizeof count + buffer_.size();
    std::size_t sent = 0;
    while (sent < total) {
      // sendmsg may write part of the iovecs: skip what went out.
      iovec rest[3];
      int n = 0;
      std::size_t skip = sent;
      for (auto& part : parts) {
        if (skip >= part.iov_len) {
          skip -= part.iov_len;
          continue;
        }
        rest[n++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
        skip = 0;
      }
      msghdr msg{};
      msg.msg_iov = rest;
      msg.msg_iovlen = static_cast<std::size_t>(n);
      const ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        ::_exit(0);  // the program is gone
      }
      sent += static_cast<std::size_t>(w);
    }
    buffer_.clear();
    pending_ = 0;
    last_flush_ms_ = coarse_now_ms();
  }

  /// Milliseconds of a clock that costs a few nanoseconds to read (its resolution, a few ms, is
  /// enough to batch results by time).
  static std::int64_t coarse_now_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  }

  int fd_;
  SharedPage* page_;
  std::string& buffer_;
  codec::Writer writer_;
  std::uint64_t pending_ = 0;
  std::int64_t last_flush_ms_ = coarse_now_ms();
};

/// Takes the outcome of an initializer, run as a chunk of one task.
class InitResultWriter final : public ResultWriter {
 public:
  void begin(std::uint64_t /*index*/) override {}
  codec::Writer& ok() override { return writer_; }
  void fail(const std::exception_ptr& error) override { error_ = error; }
  void end() override {}
  /// What the initializer threw, or null.
  [[nodiscard]] const std::exception_ptr& error() const { return error_; }

 private:
  std::string unused_;  // an initializer returns nothing
  codec::Writer writer_{unused_};
  std::exception_ptr error_;
};

/// Serves the init frame: takes the worker's index and runs the initializer, if it carries one;
/// exits the process when the initializer fails (after saying why).
void serve_init(int fd, const std::string& payload) {
  codec::Reader in{payload};
  std::uint64_t index = 0;
  std::uint8_t has_initializer = 0;
  in(index, has_initializer);
  set_remote_worker_index(static_cast<std::size_t>(index));
  if (has_initializer == 0) return;
  std::uint64_t entry = 0, fn = 0, base = 0, count = 0;
  in(entry, fn, base, count);
  InitResultWriter result;
  reinterpret_cast<ChunkEntry>(static_cast<std::uintptr_t>(entry))(static_cast<std::uintptr_t>(fn), base,
                                                                   count, in, result);
  flush_stdio();
  if (!result.error()) {
    write_frame(fd, Kind::ready, {});
    return;
  }
  auto [type, message] = exception_parts(result.error());
  std::string out;
  codec::Writer{out}(type, message);
  write_frame(fd, Kind::init_failed, out);
  ::_exit(0);
}

}  // namespace

void flush_stdio() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

void worker_main(int fd, int page_fd) {
  void* mem = ::mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
  ::close(page_fd);
  if (mem == MAP_FAILED) ::_exit(121);
  auto* page = static_cast<SharedPage*>(mem);
  Kind kind{};
  std::string payload, results;  // kept across chunks: their memory is reused
  for (;;) {
    if (!read_frame(fd, kind, payload)) break;
    if (kind == Kind::exit) break;
    if (kind == Kind::init) {
      serve_init(fd, payload);
      continue;
    }
    if (kind != Kind::chunk) ::_exit(122);
    codec::Reader in{payload};
    std::uint64_t entry = 0, fn = 0, base = 0, count = 0;
    in(entry, fn, base, count);
    SocketResultWriter out{fd, page, results};
    reinterpret_cast<ChunkEntry>(static_cast<std::uintptr_t>(entry))(static_cast<std::uintptr_t>(fn), base,
                                                                     count, in, out);
    flush_stdio();
    out.finish();
  }
  flush_stdio();
  ::_exit(0);
}

}  // namespace parlab::detail::process
