#include "lab/console.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

namespace parlab::lab {

/// Collects characters and hands each complete line to Console::line().
class Console::LineBuf : public std::streambuf {
 public:
  explicit LineBuf(Console& console) : console_(console) {}

 protected:
  int_type overflow(int_type ch) override {
    if (ch == traits_type::eof()) return traits_type::not_eof(ch);
    std::lock_guard lock{mu_};
    if (ch == '\n') {
      console_.line(pending_);
      pending_.clear();
    } else {
      pending_.push_back(static_cast<char>(ch));
    }
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i)
      overflow(traits_type::to_int_type(s[i]));
    return n;
  }

 private:
  Console& console_;
  std::mutex mu_;
  std::string pending_;
};

Console::Console(std::ostream& out, bool live)
    : out_(out),
      live_(live),
      buf_(std::make_unique<LineBuf>(*this)),
      stream_(std::make_unique<std::ostream>(buf_.get())) {
  if (live_) ticker_ = std::thread([this] { ticker(); });
}

Console::~Console() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  end_progress();
}

bool Console::live_for(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  // Under mpirun a rank's output is a pseudo-terminal even when mpirun's own output is a file:
  // whether the user sees a terminal cannot be known there, so no live lines.
  const bool under_mpirun = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  return isatty(fd) == 1 && !under_mpirun && (no_color == nullptr || *no_color == '\0');
}

void Console::line(const std::string& text) {
  std::lock_guard lock{mu_};
  if (live_ && active_) out_ << "\r\033[K";
  out_ << text << '\n';
  if (live_ && active_) redraw_locked();
  out_.flush();
}

void Console::start_progress(std::string label, std::size_t total) {
  std::lock_guard lock{mu_};
  label_ = std::move(label);
  total_ = total;
  done_ = 0;
  active_ = true;
  started_ = std::chrono::steady_clock::now();
  if (live_) {
    redraw_locked();
    out_.flush();
  }
}

void Console::update_progress(std::size_t done) {
  std::size_t seen = done_.load();
  while (done > seen && !done_.compare_exchange_weak(seen, done)) {
  }
}

void Console::end_progress() {
  std::lock_guard lock{mu_};
  if (live_ && active_) {
    out_ << "\r\033[K";
    out_.flush();
  }
  active_ = false;
}

void Console::redraw_locked() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (total_ > 0)
    out_ << fmt::format("\r\033[K  {} {}/{} ({:.1f} s)", label_, done_.load(), total_, elapsed);
  else
    out_ << fmt::format("\r\033[K  {} {} ({:.1f} s)", label_, done_.load(), elapsed);
}

void Console::ticker() {
  std::unique_lock lock{mu_};
  while (!stopping_) {
    tick_cv_.wait_for(lock, std::chrono::milliseconds{200});
    if (active_ && !stopping_) {
      redraw_locked();
      out_.flush();
    }
  }
}

std::string pad(std::string_view text, std::size_t width, Align align) {
  std::string out{text};
  if (out.size() < width) out.insert(align == Align::left ? out.size() : 0, width - out.size(), ' ');
  return out;
}

}  // namespace parlab::lab
