// Per-worker set-up and memory-bounded workers.
//
// An initializer runs once on each worker before its first task, with arguments (Python's
// initializer + initargs): on a Pool any callable, on a ProcessPool a plain function or a
// captureless lambda with arguments that can be sent. parlab::worker_index() tells a task which
// worker runs it. A ProcessPool can also bound its workers' memory: max_memory_per_child replaces
// a worker that grew past it, max_memory_hard kills the task that crosses it.

#include <parlab/process_pool.hpp>
#include "check.hpp"

#include <cstddef>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

// What each worker sets up once: here a name and a connection count, standing for a database
// handle, a model loaded from disk, a random generator seeded per worker.
thread_local std::string connection;

void open_db(const std::string& path, int pool_size) {
  connection = path + " (" + std::to_string(pool_size) + " connections)";
}

std::string lookup(int key) { return "key " + std::to_string(key) + " via " + connection; }

// A task that needs far more memory than it should, for one bad input.
int summarize(int megabytes) {
  const std::size_t bytes = static_cast<std::size_t>(megabytes) << 20;
  auto buffer = std::make_unique_for_overwrite<char[]>(bytes);
  for (std::size_t i = 0; i < bytes; i += 4096)
    static_cast<volatile char*>(buffer.get())[i] = 1;
  return megabytes;
}

}  // namespace

int main() {
  // Threads: the initializer and its arguments in one value.
  parlab::Pool pool{2, {.initializer = {open_db, std::string{"lab.sqlite"}, 4}}};
  const auto rows = pool.map(lookup, std::vector<int>{1, 2, 3});
  for (const auto& row : rows)
    std::cout << row << '\n';
  check(rows[0] == "key 1 via lab.sqlite (4 connections)", "tasks see the worker's set-up");

  // Which worker runs a task: 0 .. size()-1 inside a task, std::nullopt outside.
  const auto index = pool.apply([] { return parlab::worker_index().value(); });
  check(index < pool.size() && !parlab::worker_index(), "worker_index");

  // Processes: the same, and every replacement worker runs it again.
  parlab::ProcessPool procs{2, {.initializer = {open_db, std::string{"lab.sqlite"}, 2}}};
  std::cout << procs.apply(lookup, 4) << '\n';

  // Memory-bounded workers: the task that passes the hard limit fails alone.
  parlab::ProcessPool bounded{2, {.max_memory_per_child = 256U << 20, .max_memory_hard = 512U << 20}};
  const auto outcomes = bounded.map_outcomes(summarize, std::vector<int>{8, 16, 4096, 32});
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    std::cout << "item " << i << ": ";
    try {
      std::cout << outcomes[i].value() << " MB\n";
    } catch (const parlab::MemoryLimitError& e) {
      std::cout << "over the memory limit (task " << e.index() << ", limit " << (e.limit() >> 20) << " MB)\n";
    }
  }
  check(!outcomes[2].ok() && outcomes[3].ok(), "only the greedy task fails");
}
