#include "memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace parlab::detail::process {

std::optional<std::size_t> resident_bytes(long pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/statm";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  // "size resident shared text lib data dt", in pages.
  const char* end = text + n;
  const char* p = text;
  while (p < end && *p != ' ')
    ++p;
  std::size_t pages = 0;
  if (p == end || std::from_chars(p + 1, end, pages).ec != std::errc{}) return std::nullopt;
  return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace parlab::detail::process
