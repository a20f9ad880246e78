// A program that Ctrl-C interrupts in the middle of a ProcessPool map (used by
// test_process_pool): it prints the process ids of its fork server and workers, then maps tasks
// that sleep far longer than the test waits. It does not handle SIGINT itself.
#include "parlab/process_pool.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

namespace {
int sleep_seconds(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  return seconds;
}
}  // namespace

int main() {
  parlab::ProcessPool pool{2};
  auto result = pool.map_async(sleep_seconds, std::vector<int>{600, 600, 600, 600}, {.chunksize = 1});
  std::this_thread::sleep_for(std::chrono::milliseconds{300});  // the workers are inside their tasks
  std::cout << "pids";
  for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream children{task.path() / "children"};
    long pid = 0;
    while (children >> pid)
      std::cout << ' ' << pid;  // the fork server
  }
  for (long pid : pool.pids())
    std::cout << ' ' << pid;
  std::cout << std::endl;
  (void)result.get();
  return 0;
}
