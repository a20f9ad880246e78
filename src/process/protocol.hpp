#pragma once
/// \file
/// What the program and a ProcessPool worker say to each other: frames over the Unix stream
/// socket between them, and the page they share.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace parlab::detail::process {

/// What a frame holds. The program sends init, chunk and exit; the worker answers a chunk with
/// results, and an init that carries an initializer with ready or init_failed.
///
/// init, the first frame a worker gets: [worker index u64][has initializer u8], then with an
/// initializer [entry u64][fn u64][base u64 = 0][count u64 = 1][argument tuple], a chunk of one
/// task whose item is the initializer's arguments.
enum class Kind : std::uint32_t { init = 1, ready, init_failed, chunk, results, exit };

/// A frame is this header, then `size` bytes of payload.
struct FrameHeader {
  Kind kind;
  std::uint32_t reserved;
  std::uint64_t size;
};

/// The page a worker shares with the program: when the worker dies or hangs, the program knows
/// which task was to blame without a message per task.
struct SharedPage {
  std::atomic<std::uint64_t> running;  // index + 1 of the task running now; 0 between tasks
};

/// Writes one frame (waiting while a non-blocking socket is full); false when the peer is gone.
bool write_frame(int fd, Kind kind, const std::string& payload);

/// Reads one frame (waiting while a non-blocking socket is empty); false when the peer is gone.
/// Throws std::bad_alloc for a frame too large to hold.
bool read_frame(int fd, Kind& kind, std::string& payload);

}  // namespace parlab::detail::process
