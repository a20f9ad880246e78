#pragma once
/// \file
/// Runs a program as a user would, capturing its exit status, stdout and stderr.

#include "support/files.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace parlab::test {

/// What a finished program left: its exit status (128 + signal if killed) and output.
struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs `program` with `args` and extra environment variables (NO_COLOR unset), its output
/// captured in files inside `dir`.
inline Run run_program(const char* program, const std::vector<std::string>& args,
                       const std::filesystem::path& dir,
                       const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const auto out = dir / "stdout.txt";
  const auto err = dir / "stderr.txt";
  const pid_t child = ::fork();
  if (child == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) ::_exit(127);
    for (const auto& [name, value] : env)
      ::setenv(name.c_str(), value.c_str(), 1);
    ::unsetenv("NO_COLOR");
    std::vector<char*> argv{const_cast<char*>(program)};
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  Run run{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out), read_file(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return run;
}

/// True when `s` is exactly one line ending in a newline.
inline bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace parlab::test
