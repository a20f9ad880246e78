// parlab::aio::Queue: asyncio's producer/consumer pipeline. Two producers put rows of numbers in a
// bounded queue; three workers each get a row, count how many of its numbers lie within [4, 8]
// (the lab's howmany_within_range) on the default executor, record the count and call
// task_done(). The main task waits for the producers, then join()s the queue, then shuts it down,
// which ends the workers.
//
// Every line printed is fixed: the counts are stored by row, whichever worker computed them, and
// the program checks its own results (exit 1 on a wrong one).

#include "check.hpp"
#include <parlab/aio.hpp>
#include <parlab/aio_sync.hpp>

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <numeric>
#include <utility>
#include <vector>

namespace aio = parlab::aio;
using aio::Task;

namespace {

constexpr int kRows = 12;
constexpr int kWorkers = 3;
constexpr std::size_t kMaxsize = 4;

struct Row {
  int index;
  std::vector<int> values;
};

// Blocking, CPU-bound work: it runs on a thread (to_thread), not on the event loop.
int howmany_within_range(const std::vector<int>& values, int minimum, int maximum) {
  return static_cast<int>(
      std::count_if(values.begin(), values.end(), [&](int v) { return minimum <= v && v <= maximum; }));
}

struct Pipeline {
  std::vector<int> counts = std::vector<int>(kRows, 0);
  std::vector<int> times_processed = std::vector<int>(kRows, 0);
  std::size_t most_queued = 0;
};

// Python: async def producer(queue, rows): for row in rows: await queue.put(row)
Task<void> producer(aio::Queue<Row>* queue, int first, Pipeline* pipeline) {
  for (int index = first; index < kRows; index += 2) {
    Row row{index, {}};
    for (int j = 0; j < 10; ++j)
      row.values.push_back((index * 7 + j * j * 3) % 13);
    co_await queue->put(std::move(row));  // waits while the queue is full
    pipeline->most_queued = std::max(pipeline->most_queued, queue->qsize());
  }
}

// Python: async def worker(queue):
//             while True:
//                 row = await queue.get(); ...; queue.task_done()
Task<void> worker(aio::Queue<Row>* queue, Pipeline* pipeline) {
  try {
    for (;;) {
      Row row = co_await queue->get();
      int count = co_await aio::to_thread(howmany_within_range, std::move(row.values), 4, 8);
      pipeline->counts[static_cast<std::size_t>(row.index)] = count;
      ++pipeline->times_processed[static_cast<std::size_t>(row.index)];
      queue->task_done();
    }
  } catch (const aio::QueueShutDown&) {
    // The queue is shut down and empty: this worker is done (Python 3.13's QueueShutDown).
  }
}

// Python: await asyncio.gather(*producers); await queue.join(); queue.shutdown()
Task<void> produce_then_close(aio::Queue<Row>* queue, std::vector<Task<void>> producers) {
  co_await aio::gather(std::move(producers));
  co_await queue->join();  // every row put has been task_done()
  queue->shutdown();       // the workers waiting in get() stop with QueueShutDown
}

Task<void> main_task() {
  // Python: queue = asyncio.Queue(maxsize=4)
  aio::Queue<Row> queue{kMaxsize};
  Pipeline pipeline;
  std::vector<Task<void>> workers;
  for (int i = 0; i < kWorkers; ++i)
    workers.push_back(worker(&queue, &pipeline));
  std::vector<Task<void>> producers;
  producers.push_back(producer(&queue, 0, &pipeline));
  producers.push_back(producer(&queue, 1, &pipeline));
  co_await aio::gather(aio::gather(std::move(workers)), produce_then_close(&queue, std::move(producers)));

  std::cout << "rows: " << kRows << ", workers: " << kWorkers << ", queue maxsize: " << kMaxsize << '\n';
  print_list("counts", pipeline.counts);
  std::cout << "total within [4, 8]: " << std::accumulate(pipeline.counts.begin(), pipeline.counts.end(), 0)
            << '\n';
  check(std::all_of(pipeline.times_processed.begin(), pipeline.times_processed.end(),
                    [](int n) { return n == 1; }),
        "every row is processed exactly once");
  std::cout << "every row processed exactly once\n";
  check(pipeline.most_queued <= kMaxsize, "the queue never holds more than maxsize rows");
  std::cout << "the queue never held more than " << kMaxsize << " rows\n";
  check(queue.empty(), "the queue ends empty");
}

}  // namespace

int main() {
  aio::run(main_task());  // Python: asyncio.run(main())
}
