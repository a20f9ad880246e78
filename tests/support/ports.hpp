#pragma once
/// \file
/// Ports for tests of network failures.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace parlab::test {

/// A port on 127.0.0.1 that is taken: a socket listens on it with `backlog` (and accepts nobody)
/// while this lives.
class TakenPort {
 public:
  explicit TakenPort(int backlog = 1) : fd_{::socket(AF_INET, SOCK_STREAM, 0)} {
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_);
    ::listen(fd_, backlog);
    socklen_t len = sizeof addr_;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr_), &len);
  }
  TakenPort(const TakenPort&) = delete;
  TakenPort& operator=(const TakenPort&) = delete;
  ~TakenPort() { ::close(fd_); }
  [[nodiscard]] std::uint16_t port() const { return ntohs(addr_.sin_port); }
  /// 127.0.0.1:port(), for connect().
  [[nodiscard]] const sockaddr_in& address() const { return addr_; }

 private:
  int fd_;
  sockaddr_in addr_{};
};

/// A port on 127.0.0.1 where nothing listens (taken, then let go): connecting is refused.
inline std::uint16_t closed_port() { return TakenPort{}.port(); }

}  // namespace parlab::test
