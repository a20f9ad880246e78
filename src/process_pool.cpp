// ProcessPool's machinery: the fork server, the worker processes and the parent's side of the
// wire protocol (frames over a Unix stream socket per worker).
//
// Processes: the program → a fork server (forked once, single-threaded) → the workers (forked by
// the fork server on request). The fork server reaps the workers and reports each exit status to
// the program; it kills them all and exits as soon as the program's end of its control socket
// closes (the program exited, was killed by Ctrl-C, or the last pool went away).
//
// Each worker shares one page with the program, where it records the index of the task it is
// running: when a worker dies or hangs, the program knows which task was to blame without a
// message per task.

#include "parlab/process_pool.hpp"

#include "parlab/errors.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace parlab::detail {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), "parlab: ProcessPool: " + what);
}

/// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// ---- frames: [kind u32][reserved u32][payload size u64][payload] ----

enum class Kind : std::uint32_t { init = 1, ready, init_failed, chunk, results, exit };

struct FrameHeader {
  Kind kind;
  std::uint32_t reserved;
  std::uint64_t size;
};

/// Waits until a non-blocking `fd` is ready for `events` (or has an error to report).
void wait_ready(int fd, short events) {
  pollfd pfd{fd, events, 0};
  while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
}

/// Writes all of [data, data+size) (waiting while a non-blocking socket is full); false when the
/// peer is gone.
bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_ready(fd, POLLOUT);
        continue;
      }
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_frame(int fd, Kind kind, const std::string& payload) {
  const FrameHeader header{kind, 0, payload.size()};
  return write_all(fd, &header, sizeof header) && write_all(fd, payload.data(), payload.size());
}

/// Reads exactly `size` bytes (waiting while a non-blocking socket is empty); false when the
/// peer closes first.
bool read_all(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_ready(fd, POLLIN);
        continue;
      }
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads one frame; false when the peer is gone. Throws std::bad_alloc for a frame too large
/// to hold.
bool read_frame(int fd, Kind& kind, std::string& payload) {
  FrameHeader header{};
  if (!read_all(fd, &header, sizeof header)) return false;
  kind = header.kind;
  payload.resize(header.size);
  return read_all(fd, payload.data(), payload.size());
}

/// The page a worker shares with the program.
struct SharedPage {
  std::atomic<std::uint64_t> running;  // index + 1 of the task running now; 0 between tasks
};

// ---- the worker process ----

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

void flush_stdio() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

[[noreturn]] void worker_main(int fd, int page_fd) {
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
      std::uint64_t bits = 0;
      std::memcpy(&bits, payload.data(), sizeof bits);
      try {
        reinterpret_cast<void (*)()>(static_cast<std::uintptr_t>(bits))();
        flush_stdio();
        write_frame(fd, Kind::ready, {});
      } catch (...) {
        auto [type, message] = exception_parts(std::current_exception());
        std::string out;
        codec::Writer{out}(type, message);
        write_frame(fd, Kind::init_failed, out);
        flush_stdio();
        ::_exit(0);
      }
      continue;
    }
    if (kind != Kind::chunk) ::_exit(122);
    codec::Reader in{payload};
    std::uint64_t entry = 0, fn = 0, base = 0, count = 0;
    in(entry, fn, base, count);
    SocketResultWriter out{fd, page, results};
    reinterpret_cast<ChunkEntry>(static_cast<std::uintptr_t>(entry))(static_cast<std::uintptr_t>(fn), base, count,
                                                                      in, out);
    flush_stdio();
    out.finish();
  }
  flush_stdio();
  ::_exit(0);
}

// ---- the fork server ----

enum class Op : std::uint32_t { spawn = 1, spawned, exited };

struct ControlMessage {
  Op op;
  std::int32_t status;
  std::uint64_t id;
  std::int64_t pid;
};

bool send_control(int fd, const ControlMessage& m, const int* fds, int nfds) {
  iovec iov{const_cast<ControlMessage*>(&m), sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(static_cast<std::size_t>(nfds) * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(static_cast<std::size_t>(nfds) * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, static_cast<std::size_t>(nfds) * sizeof(int));
  }
  for (;;) {
    if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

/// Receives one control message and up to two descriptors; false on EOF or error.
bool recv_control(int fd, ControlMessage& m, int* fds, int& nfds) {
  iovec iov{&m, sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = 0;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof m)) return false;
  nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      nfds = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      std::memcpy(fds, CMSG_DATA(c), static_cast<std::size_t>(nfds) * sizeof(int));
    }
  }
  return true;
}

[[noreturn]] void fork_server_main(int control) {
  // Keep only stdin/out/err and the control socket: the workers must not hold the program's
  // files (a pipe the program waits on to close, a listening socket).
  if (control != 3) {
    ::dup2(control, 3);
    control = 3;
  }
  ::close_range(4, ~0U, 0);
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is the program's to handle; it stops us by closing control
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigset_t old{};
  ::sigprocmask(SIG_BLOCK, &chld, &old);
  const int sig = ::signalfd(-1, &chld, SFD_CLOEXEC);
  std::set<pid_t> children;
  const auto reap = [&] {
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      children.erase(pid);
      send_control(control, {Op::exited, status, 0, pid}, nullptr, 0);
    }
  };
  for (;;) {
    pollfd pfds[2] = {{control, POLLIN, 0}, {sig, POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      [[maybe_unused]] auto n = ::read(sig, &info, sizeof info);
      reap();
    }
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ControlMessage m{};
      int fds[2] = {-1, -1};
      int nfds = 0;
      if (!recv_control(control, m, fds, nfds)) break;
      if (m.op != Op::spawn || nfds != 2) {
        for (int k = 0; k < nfds; ++k)
          ::close(fds[k]);
        continue;
      }
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(control);
        ::close(sig);
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        worker_main(fds[0], fds[1]);
      }
      ::close(fds[0]);
      ::close(fds[1]);
      if (pid > 0) children.insert(pid);
      send_control(control, {Op::spawned, pid > 0 ? 0 : errno, m.id, pid}, nullptr, 0);
    }
  }
  for (pid_t pid : children)
    ::kill(pid, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
  ::_exit(0);
}

/// The program's handle on the fork server.
class ForkServer {
 public:
  ForkServer() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
    Fd ours{sv[0]}, theirs{sv[1]};
    flush_stdio();  // or the server's copy of unflushed output would be printed again by workers
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork (fork server)");
    if (pid_ == 0) {
      ::close(sv[0]);
      fork_server_main(sv[1]);
    }
    control_ = std::move(ours);
    reader_ = std::thread([this] { read_loop(); });
  }
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;
  ~ForkServer() {
    // Closing our end tells the server to kill what is left and exit.
    ::shutdown(control_.get(), SHUT_RDWR);
    reader_.join();
    control_.reset();
    int status = 0;
    while (::waitpid(static_cast<pid_t>(pid_), &status, 0) < 0 && errno == EINTR) {
    }
  }

  /// Forks a worker running worker_main(socket, page); returns its pid.
  long spawn(int socket, int page) {
    std::unique_lock lock{mu_};
    const std::uint64_t id = ++next_id_;
    const int fds[2] = {socket, page};
    if (broken_ || !send_control(control_.get(), {Op::spawn, 0, id, 0}, fds, 2))
      throw std::runtime_error("parlab: ProcessPool: the fork server is gone");
    cv_.wait(lock, [&] { return broken_ || spawned_.count(id) != 0; });
    if (broken_) throw std::runtime_error("parlab: ProcessPool: the fork server is gone");
    auto [pid, error] = spawned_[id];
    spawned_.erase(id);
    if (pid <= 0) {
      errno = error;
      throw_errno("fork (worker)");
    }
    return pid;
  }

  /// The wait status of worker `pid` once it has exited, or -1 if that is not known in time.
  int wait_exit(long pid, std::chrono::milliseconds timeout) {
    std::unique_lock lock{mu_};
    if (!cv_.wait_for(lock, timeout, [&] { return broken_ || exited_.count(pid) != 0; })) return -1;
    auto it = exited_.find(pid);
    if (it == exited_.end()) return -1;
    const int status = it->second;
    exited_.erase(it);
    return status;
  }
  /// Forgets a worker's exit status nobody will ask for.
  void forget(long pid) {
    std::lock_guard lock{mu_};
    exited_.erase(pid);
    forgotten_.insert(pid);
  }

  static std::shared_ptr<ForkServer> acquire() {
    std::lock_guard lock{instance_mu_};
    if (auto server = instance_.lock()) return server;
    auto server = std::make_shared<ForkServer>();
    instance_ = server;
    return server;
  }
  static void keep_forever() {
    std::lock_guard lock{instance_mu_};
    kept_ = instance_.lock();
    if (!kept_) {
      kept_ = std::make_shared<ForkServer>();
      instance_ = kept_;
    }
  }

 private:
  void read_loop() {
    for (;;) {
      ControlMessage m{};
      int fds[2];
      int nfds = 0;
      const bool ok = recv_control(control_.get(), m, fds, nfds);
      for (int k = 0; k < nfds; ++k)
        ::close(fds[k]);
      std::lock_guard lock{mu_};
      if (!ok) {
        broken_ = true;
        cv_.notify_all();
        return;
      }
      if (m.op == Op::spawned) {
        spawned_[m.id] = {m.pid, m.status};
      } else if (m.op == Op::exited) {
        if (forgotten_.erase(m.pid) == 0) exited_[m.pid] = m.status;
      }
      cv_.notify_all();
    }
  }

  long pid_ = -1;
  Fd control_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::pair<long, int>> spawned_;
  std::map<long, int> exited_;
  std::set<long> forgotten_;
  bool broken_ = false;

  static inline std::mutex instance_mu_;
  static inline std::weak_ptr<ForkServer> instance_;
  static inline std::shared_ptr<ForkServer> kept_;
};

}  // namespace

// ---- the program's side ----

/// The worker processes of one ProcessPool, one slot per pool thread.
class ProcessEngine {
 public:
  ProcessEngine(std::size_t workers, ProcessOptions options)
      : options_(options), server_(ForkServer::acquire()), slots_(workers) {
    for (std::size_t i = 0; i < workers; ++i)
      start(slots_[i]);
  }
  ProcessEngine(const ProcessEngine&) = delete;
  ProcessEngine& operator=(const ProcessEngine&) = delete;
  ~ProcessEngine() {
    shutdown();
    for (auto& slot : slots_)
      if (slot.page) ::munmap(slot.page, sizeof(SharedPage));
  }

  void run(std::size_t slot, ChunkEntry entry, std::uintptr_t fn, std::size_t begin, std::size_t end,
           ChunkCodec& codec);

 private:
  /// Arguments per frame: about this many bytes, so that a frame fits in the socket's buffer
  /// and the worker runs one batch while the next is written.
  static constexpr std::size_t batch_bytes = 128 * 1024;

  /// Encodes a frame of tasks from `first`, up to `last` or about batch_bytes; sets `last` to the
  /// end of the batch. If the argument of task `last` cannot be encoded, fails that task and
  /// returns false (the batch is the tasks before it).
  static bool encode_batch(ChunkCodec& codec, ChunkEntry entry, std::uintptr_t fn, std::size_t first,
                           std::size_t& last, std::string& frame);

 public:

  void terminate() {
    terminating_.store(true);
    for (auto& slot : slots_) {
      if (const long pid = slot.pid.load(); pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
  }

  void shutdown() {
    for (auto& slot : slots_)
      if (slot.pid.load() > 0) write_frame(slot.socket.get(), Kind::exit, {});
    for (auto& slot : slots_)
      stop(slot, std::chrono::milliseconds{1000});
  }

  [[nodiscard]] std::vector<long> pids() const {
    std::vector<long> out;
    for (const auto& slot : slots_)
      out.push_back(slot.pid.load());
    return out;
  }

 private:
  struct Slot {
    std::atomic<long> pid{0};
    Fd socket;
    Fd page_fd;  // the shared page, sent to each new worker of this slot
    SharedPage* page = nullptr;
    std::size_t tasks = 0;
    std::exception_ptr init_error;  // the initializer failed in this worker
    std::string payload, frame;     // kept across chunks: their memory is reused
  };

  void start(Slot& slot) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
    Fd ours{sv[0]}, theirs{sv[1]};
    if (!slot.page) {
      Fd page_fd{::memfd_create("parlab-worker", MFD_CLOEXEC)};
      if (!page_fd.valid() || ::ftruncate(page_fd.get(), sizeof(SharedPage)) != 0) throw_errno("memfd");
      void* mem = ::mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd.get(), 0);
      if (mem == MAP_FAILED) throw_errno("mmap");
      slot.page = static_cast<SharedPage*>(mem);
      slot.page_fd = std::move(page_fd);
    }
    slot.page->running.store(0);
    const long pid = server_->spawn(theirs.get(), slot.page_fd.get());
    theirs.reset();
    // Our end never blocks: run() writes arguments and reads results at the same time.
    ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) | O_NONBLOCK);
    slot.socket = std::move(ours);
    slot.tasks = 0;
    slot.init_error = nullptr;
    slot.pid.store(pid);
    if (options_.initializer) initialize(slot);
  }

  void initialize(Slot& slot) {
    std::string payload(sizeof(std::uint64_t), '\0');
    const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(options_.initializer));
    std::memcpy(payload.data(), &bits, sizeof bits);
    Kind kind{};
    std::string reply;
    if (write_frame(slot.socket.get(), Kind::init, payload) &&
        read_frame(slot.socket.get(), kind, reply)) {
      if (kind == Kind::ready) return;
      if (kind == Kind::init_failed) {
        std::string type, message;
        codec::Reader{reply}(type, message);
        slot.init_error = std::make_exception_ptr(RemoteError(type, "initializer failed: " + message));
        return;
      }
    }
    const long pid = slot.pid.load();
    const int status = server_->wait_exit(pid, std::chrono::seconds{2});
    slot.init_error = std::make_exception_ptr(std::runtime_error(
        "parlab: ProcessPool: worker " + std::to_string(pid) + " died in its initializer (" +
        describe(std::make_exception_ptr(WorkerCrashed(0, pid, status))) + ")"));
  }

  /// Ends a worker: waits up to `grace` for it to exit, then kills it.
  void stop(Slot& slot, std::chrono::milliseconds grace) {
    const long pid = slot.pid.exchange(0);
    slot.socket.reset();
    if (pid <= 0) return;
    if (server_->wait_exit(pid, grace) == -1) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      if (server_->wait_exit(pid, std::chrono::seconds{5}) == -1) server_->forget(pid);
    }
  }

  /// The worker died or was killed: its exit status (after it is reaped).
  int bury(Slot& slot) {
    const long pid = slot.pid.exchange(0);
    slot.socket.reset();
    int status = server_->wait_exit(pid, std::chrono::seconds{5});
    if (status == -1) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      status = server_->wait_exit(pid, std::chrono::seconds{5});
      if (status == -1) server_->forget(pid);
    }
    return status;
  }

  ProcessOptions options_;
  std::shared_ptr<ForkServer> server_;
  std::vector<Slot> slots_;
  std::atomic<bool> terminating_{false};
};

bool ProcessEngine::encode_batch(ChunkCodec& codec, ChunkEntry entry, std::uintptr_t fn, std::size_t first,
                                 std::size_t& last, std::string& frame) {
  frame.assign(sizeof(FrameHeader), '\0');
  codec::Writer out{frame};
  out(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(entry)), static_cast<std::uint64_t>(fn),
      static_cast<std::uint64_t>(first), std::uint64_t{0});
  bool ok = true;
  std::size_t i = first;
  for (; i < last && (i == first || frame.size() < batch_bytes); ++i) {
    const std::size_t mark = frame.size();
    try {
      codec.encode(i, i + 1, out);
    } catch (...) {
      frame.resize(mark);
      codec.error(i, std::current_exception());
      ok = false;
      break;
    }
  }
  last = i;
  const auto count = static_cast<std::uint64_t>(last - first);
  std::memcpy(frame.data() + sizeof(FrameHeader) + 3 * sizeof(std::uint64_t), &count, sizeof count);
  const FrameHeader header{Kind::chunk, 0, frame.size() - sizeof(FrameHeader)};
  std::memcpy(frame.data(), &header, sizeof header);
  return ok;
}

void ProcessEngine::run(std::size_t slot_index, ChunkEntry entry, std::uintptr_t fn, std::size_t begin,
                        std::size_t end, ChunkCodec& codec) {
  Slot& slot = slots_.at(slot_index);
  struct Range {
    std::size_t first, last;
  };
  std::deque<Range> todo{{begin, end}};
  std::map<std::size_t, unsigned> crashes;  // task index → times its worker died running it
  unsigned anonymous_deaths = 0;            // deaths outside any task (while decoding, idle)
  std::string& payload = slot.payload;
  std::string& frame = slot.frame;

  const auto fail_all = [&](Range r, const std::exception_ptr& error) {
    for (std::size_t i = r.first; i < r.last; ++i)
      codec.error(i, error);
  };
  const auto push_front = [&](std::size_t first, std::size_t last) {
    if (first < last) todo.push_front({first, last});
  };

  while (!todo.empty()) {
    Range r = todo.front();
    todo.pop_front();
    if (terminating_.load()) {
      fail_all(r, std::make_exception_ptr(PoolTerminated("parlab: task dropped by ProcessPool::terminate()")));
      continue;
    }
    try {
      if (slot.pid.load() == 0) start(slot);
    } catch (...) {
      fail_all(r, std::current_exception());
      continue;
    }
    if (slot.init_error) {
      fail_all(r, slot.init_error);
      bury(slot);
      continue;
    }
    if (options_.max_tasks_per_child != 0) {
      const std::size_t quota = options_.max_tasks_per_child - slot.tasks;
      if (r.last - r.first > quota) {
        todo.push_front({r.first + quota, r.last});
        r.last = r.first + quota;
      }
    }

    // Stream the range in batches: while the worker runs one, the next is encoded and written.
    const int fd = slot.socket.get();
    const long pid = slot.pid.load();
    slot.page->running.store(0);
    std::size_t done = r.first;   // tasks before this have their outcome
    std::size_t next = r.first;   // the first task not encoded yet
    std::size_t written = 0;      // bytes of `payload` (the current frame) written
    bool writing = false;         // `payload` holds a frame not fully written
    std::deque<std::size_t> unsendable;  // tasks that failed to encode (and were not sent), in order
    bool dead = false, timed_out = false;
    auto last_progress = Clock::now();
    const auto skip_unsendable = [&] {
      while (!unsendable.empty() && unsendable.front() == done) {
        unsendable.pop_front();
        ++done;
      }
    };
    skip_unsendable();
    while (!dead && done < r.last) {
      if (!writing && next < r.last) {
        std::size_t last = r.last;
        const bool ok = encode_batch(codec, entry, fn, next, last, payload);
        writing = last > next;
        written = 0;
        next = ok ? last : last + 1;
        if (!ok) unsendable.push_back(last);
        skip_unsendable();
        continue;
      }
      const auto deadline = options_.task_timeout.count() > 0 ? last_progress + options_.task_timeout
                                                               : Clock::time_point::max();
      pollfd pfd{fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
      int wait_ms = -1;
      if (deadline != Clock::time_point::max())
        wait_ms = static_cast<int>(std::max<long long>(
            0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count()));
      const int ready = ::poll(&pfd, 1, wait_ms);
      if (ready < 0) {
        if (errno == EINTR) continue;
        dead = true;
        break;
      }
      if (ready == 0) {
        timed_out = true;
        break;
      }
      if (writing && (pfd.revents & POLLOUT)) {
        const ssize_t n = ::send(fd, payload.data() + written, payload.size() - written, MSG_NOSIGNAL);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
          writing = written < payload.size();
          last_progress = Clock::now();  // the worker is reading: it is between tasks
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          dead = true;
          break;
        }
      }
      if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Kind kind{};
      bool read = false;
      try {
        read = read_frame(fd, kind, frame);
      } catch (...) {  // a frame too large to hold: the worker is not speaking our protocol
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      }
      if (!read || kind != Kind::results) {
        dead = true;
        break;
      }
      last_progress = Clock::now();
      try {
        codec::Reader in{frame};
        std::uint64_t count = 0;
        in(count);
        for (std::uint64_t k = 0; k < count && done < r.last; ++k) {
          read_outcome(in, done, codec);
          ++done;
          skip_unsendable();
        }
      } catch (...) {
        // A result that does not decode: the worker's state cannot be trusted any more.
        codec.error(done, std::current_exception());
        ++done;
        skip_unsendable();
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        dead = true;
      }
    }
    slot.tasks += done - r.first;
    if (!dead && !timed_out) {
      if (options_.max_tasks_per_child != 0 && slot.tasks >= options_.max_tasks_per_child) {
        write_frame(slot.socket.get(), Kind::exit, {});
        stop(slot, std::chrono::seconds{5});
      }
      continue;
    }
    if (done >= r.last) {  // a bad result above, after which nothing was pending
      bury(slot);
      continue;
    }

    // The worker is dead or hung: find the task it was running.
    const std::uint64_t running = slot.page->running.load();
    const bool known = running != 0 && running - 1 >= done && running - 1 < r.last;
    const std::size_t culprit = known ? static_cast<std::size_t>(running - 1) : done;
    if (timed_out) ::kill(static_cast<pid_t>(pid), SIGKILL);
    const int status = bury(slot);
    if (terminating_.load()) {
      fail_all({done, r.last}, std::make_exception_ptr(PoolTerminated("parlab: task dropped by ProcessPool::terminate()")));
      continue;
    }
    push_front(culprit + 1, r.last);
    if (timed_out) {
      codec.error(culprit, std::make_exception_ptr(TimeoutError(
                               "task " + std::to_string(culprit) + " ran longer than task_timeout (" +
                               std::to_string(options_.task_timeout.count()) + " ms); worker process " +
                               std::to_string(pid) + " was killed")));
    } else if (!known && ++anonymous_deaths <= 3) {
      push_front(culprit, culprit + 1);  // not caught running a task: try again
    } else if (++crashes[culprit] <= options_.retries) {
      push_front(culprit, culprit + 1);
    } else {
      codec.error(culprit, std::make_exception_ptr(WorkerCrashed(culprit, pid, status)));
    }
    push_front(done, culprit);  // finished but not reported before the worker died: run again
  }
}

ProcessBackend::ProcessBackend(std::size_t workers, ProcessOptions options)
    : chunksize_(options.chunksize), engine_(std::make_unique<ProcessEngine>(workers, options)) {}

ProcessBackend::~ProcessBackend() = default;

void ProcessBackend::run_chunk(ChunkEntry entry, std::uintptr_t fn, std::size_t begin, std::size_t end,
                               ChunkCodec& codec) {
  engine_->run(current_worker_index(), entry, fn, begin, end, codec);
}

void ProcessBackend::terminate() { engine_->terminate(); }
void ProcessBackend::shutdown() { engine_->shutdown(); }
std::vector<long> ProcessBackend::pids() const { return engine_->pids(); }

}  // namespace parlab::detail

void parlab::ProcessPool::start_fork_server() { detail::ForkServer::keep_forever(); }
