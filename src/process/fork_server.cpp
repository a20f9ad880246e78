#include "fork_server.hpp"

#include "worker.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace parlab::detail::process {
namespace {

/// What the program and the fork server say on the control socket: the program asks to spawn
/// (with the worker's socket and page), the server answers spawned and reports each exit.
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

}  // namespace

ForkServer::ForkServer() {
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

ForkServer::~ForkServer() {
  // Closing our end tells the server to kill what is left and exit.
  ::shutdown(control_.get(), SHUT_RDWR);
  reader_.join();
  control_.reset();
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid_), &status, 0) < 0 && errno == EINTR) {
  }
}

long ForkServer::spawn(int socket, int page) {
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

int ForkServer::wait_exit(long pid, std::chrono::milliseconds timeout) {
  std::unique_lock lock{mu_};
  if (!cv_.wait_for(lock, timeout, [&] { return broken_ || exited_.count(pid) != 0; })) return -1;
  auto it = exited_.find(pid);
  if (it == exited_.end()) return -1;
  const int status = it->second;
  exited_.erase(it);
  return status;
}

void ForkServer::forget(long pid) {
  std::lock_guard lock{mu_};
  exited_.erase(pid);
  forgotten_.insert(pid);
}

std::shared_ptr<ForkServer> ForkServer::acquire() {
  std::lock_guard lock{instance_mu_};
  if (auto server = instance_.lock()) return server;
  auto server = std::make_shared<ForkServer>();
  instance_ = server;
  return server;
}

void ForkServer::keep_forever() {
  std::lock_guard lock{instance_mu_};
  kept_ = instance_.lock();
  if (!kept_) {
    kept_ = std::make_shared<ForkServer>();
    instance_ = kept_;
  }
}

void ForkServer::read_loop() {
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

}  // namespace parlab::detail::process
