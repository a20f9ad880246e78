#include "protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>

namespace parlab::detail::process {
namespace {

/// Waits until a non-blocking `fd` is ready for `events` (or has an error to report).
void wait_ready(int fd, short events) {
  pollfd pfd{fd, events, 0};
  while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
}

/// Moves all `size` bytes at `p` with `io` (send or recv), waiting for `events` while a
/// non-blocking socket is not ready; false when the peer is gone.
template <class Byte, class Io>
bool transfer_all(int fd, Byte* p, std::size_t size, short events, Io io) {
  while (size > 0) {
    const ssize_t n = io(fd, p, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_ready(fd, events);
        continue;
      }
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
  return transfer_all(
      fd, static_cast<const char*>(data), size, POLLOUT,
      [](int to, const char* bytes, std::size_t n) { return ::send(to, bytes, n, MSG_NOSIGNAL); });
}

bool read_all(int fd, void* data, std::size_t size) {
  return transfer_all(fd, static_cast<char*>(data), size, POLLIN,
                      [](int from, char* bytes, std::size_t n) { return ::recv(from, bytes, n, 0); });
}

}  // namespace

bool write_frame(int fd, Kind kind, const std::string& payload) {
  const FrameHeader header{kind, 0, payload.size()};
  return write_all(fd, &header, sizeof header) && write_all(fd, payload.data(), payload.size());
}

bool read_frame(int fd, Kind& kind, std::string& payload) {
  FrameHeader header{};
  if (!read_all(fd, &header, sizeof header)) return false;
  kind = header.kind;
  payload.resize(header.size);
  return read_all(fd, payload.data(), payload.size());
}

}  // namespace parlab::detail::process
