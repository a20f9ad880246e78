#pragma once
/// \file
/// The fork server: a single-threaded process, forked once, that forks ProcessPool's workers on
/// the program's request, reaps them and reports how each one exited.
///
/// It kills the workers and exits as soon as the program's end of its control socket closes (the
/// program exited, was killed by Ctrl-C, or the last pool went away).

#include "fd.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace parlab::detail::process {

/// The program's handle on the fork server.
class ForkServer {
 public:
  ForkServer();
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;
  ~ForkServer();

  /// Forks a worker running worker_main(socket, page); returns its pid.
  long spawn(int socket, int page);

  /// The wait status of worker `pid` once it has exited, or -1 if that is not known in time.
  int wait_exit(long pid, std::chrono::milliseconds timeout);
  /// Forgets a worker's exit status nobody will ask for.
  void forget(long pid);

  /// The fork server the pools share, started if there is none.
  static std::shared_ptr<ForkServer> acquire();
  /// Starts the shared fork server if there is none, and keeps it until the program exits.
  static void keep_forever();

 private:
  /// The reader thread: takes the server's reports (spawned, exited) for the waiters.
  void read_loop();

  long pid_ = -1;
  Fd control_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::pair<long, int>> spawned_;
  std::map<long, int> exited_;
  std::set<long> forgotten_;
  bool broken_ = false;

  static inline std::mutex instance_mu_;
  static inline std::weak_ptr<ForkServer> instance_;
  static inline std::shared_ptr<ForkServer> kept_;
};

}  // namespace parlab::detail::process
