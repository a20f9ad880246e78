#pragma once
/// \file
/// Console output for the lab's walk-through: permanent lines, and on a terminal a live progress
/// line (redrawn in place) for long steps. Without a terminal, or with NO_COLOR set, it writes
/// plain lines only: no carriage returns or escape codes.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <thread>

namespace parlab::lab {

/// Thread-safe line output with an optional live progress line.
class Console {
 public:
  /// `live`: redraw a progress line in place (only for a terminal).
  Console(std::ostream& out, bool live);
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;
  ~Console();

  /// Live progress when `out` is a terminal and NO_COLOR is not set.
  [[nodiscard]] static bool live_for(int fd);

  /// Prints one permanent line (the progress line, if any, is redrawn below it).
  void line(const std::string& text);
  /// Starts a progress line "label done/total (elapsed)"; total 0 = unknown.
  void start_progress(std::string label, std::size_t total);
  /// Updates the done count (from any thread; a smaller count than seen before is ignored).
  void update_progress(std::size_t done);
  /// Removes the progress line.
  void end_progress();
  /// A stream whose complete lines go through line(), for code that logs to an ostream.
  [[nodiscard]] std::ostream& stream() { return *stream_; }

 private:
  class LineBuf;
  void redraw_locked();
  void ticker();

  std::ostream& out_;
  const bool live_;
  std::mutex mu_;
  std::condition_variable tick_cv_;
  std::string label_;
  std::size_t total_ = 0;
  std::atomic<std::size_t> done_{0};
  bool active_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<LineBuf> buf_;
  std::unique_ptr<std::ostream> stream_;
  std::thread ticker_;
};

/// The side of a column that `pad` fills.
enum class Align { left, right };

/// `text` filled with spaces to `width` bytes, as printf's %-10s / %10s fill a column: a column
/// that may hold a multi-byte character ("812 µs", "–") keeps the bytes it has always had.
[[nodiscard]] std::string pad(std::string_view text, std::size_t width, Align align = Align::left);

}  // namespace parlab::lab
