// A pool's life: Pool(processes), cpu_count(), the scope (Python's `with Pool() as pool:`),
// close(), join() and terminate(), and the errors they lead to.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <iostream>
#include <vector>

namespace {

int square(int x) { return x * x; }

}  // namespace

int main() {
  std::cout << std::boolalpha;

  // Python: Pool() starts os.cpu_count() workers (os.process_cpu_count() since 3.13); parlab's
  // default is parlab::cpu_count(), the CPUs this process may really use (affinity mask and
  // cgroup CPU quota).
  {
    parlab::Pool pool;
    std::cout << "Pool().size() == cpu_count(): " << (pool.size() == parlab::cpu_count()) << '\n';
    check(pool.size() == parlab::cpu_count() && parlab::cpu_count() >= 1, "default size");
  }

  // Python: with Pool(2) as pool: ...  The scope's end closes and joins the pool, so queued
  // work finishes first (Python's __exit__ calls terminate() and drops it).
  std::atomic<int> done{0};
  {
    parlab::Pool pool{2};
    for (int i = 0; i < 10; ++i) (void)pool.apply_async([&done] { ++done; });
  }  // ~Pool(): close() + join()
  std::cout << "tasks done when the scope ends: " << done.load() << '\n';
  check(done.load() == 10, "destructor joins");

  // close(): no new work from outside; queued work still runs. join() waits for the workers.
  {
    parlab::Pool pool{2};
    const std::vector<int> numbers{1, 2, 3, 4};
    parlab::AsyncResult<std::vector<int>> squares = pool.map_async(square, numbers);
    pool.close();
    try {
      pool.apply(square, 5);
    } catch (const parlab::PoolNotRunning& e) {
      std::cout << "after close(): PoolNotRunning: " << e.what() << '\n';
    }
    pool.join();
    std::cout << "work queued before close() finished: " << squares.get().back() << '\n';
    check(squares.get() == std::vector<int>{1, 4, 9, 16}, "close keeps queued work");
  }

  // terminate(): queued work is dropped and fails with PoolTerminated. A task already running
  // finishes: a thread cannot be killed safely, unlike Python's worker processes.
  {
    parlab::Pool pool{1};
    std::promise<void> started;
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    parlab::AsyncResult<int> running = pool.apply_async([&started, opened] {
      started.set_value();
      opened.wait();
      return 1;
    });
    started.get_future().wait();  // the only worker is now busy
    parlab::AsyncResult<int> queued = pool.apply_async(square, 2);
    pool.terminate();
    try {
      queued.get();
    } catch (const parlab::PoolTerminated& e) {
      std::cout << "queued task: PoolTerminated: " << e.what() << '\n';
    }
    gate.set_value();
    std::cout << "running task still finished with: " << running.get() << '\n';
    pool.join();
    check(!queued.successful() && running.get() == 1, "terminate");
  }
}
