#pragma once
/// \file
/// A program running beside the test: its stdout read line by line (with a deadline), signals sent
/// to it, its exit status waited for (with a deadline); killed if the test ends first.

#include "support/files.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace parlab::test {

/// `program args...`, started at construction: stdout through a pipe, stderr into `stderr_file`,
/// with extra environment variables (an empty value unsets one).
class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  ChildProcess(const char* program, const std::vector<std::string>& args, std::filesystem::path stderr_file,
               const std::vector<std::pair<std::string, std::string>>& env = {})
      : err_{std::move(stderr_file)} {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      if (!std::freopen(err_.c_str(), "w", stderr)) ::_exit(127);
      for (const auto& [k, v] : env) {
        if (v.empty())
          ::unsetenv(k.c_str());
        else
          ::setenv(k.c_str(), v.c_str(), 1);
      }
      std::vector<char*> argv{const_cast<char*>(program)};
      for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(program, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  /// The next line of stdout (without the newline), or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[512];
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  void signal(int sig) { ::kill(pid_, sig); }
  /// The exit status (128 + signal if killed), or nullopt if still running after `timeout`.
  std::optional<int> wait(Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!status_ && Clock::now() < deadline) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_)
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    return status_;
  }
  /// What it wrote to stderr so far.
  [[nodiscard]] std::string err() const { return read_file(err_); }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::filesystem::path err_;
  std::optional<int> status_;
};

}  // namespace parlab::test
