// imap over an endless, lazy input: parlab reads the input only as far as the look-ahead
// allows. (Python's imap would try to read all of itertools.count() up front and never return.)
//
// The input is std::views::iota with a transform that counts how many elements were read. The
// program takes the first five results, then shows that the pool read at most
// 5 + lookahead elements of the infinite input.

#include "check.hpp"
#include <parlab/pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <ranges>
#include <thread>
#include <vector>

namespace {

// Early items are slower, so they would finish last if order were not kept.
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(x < 4 ? 8 - 2 * x : 0));
  return x * x;
}

}  // namespace

int main() {
  std::cout << std::boolalpha;
  parlab::Pool pool{2};

  // An endless input 0, 1, 2, ...; each element is produced only when the pool reads it.
  std::atomic<std::size_t> reads{0};
  auto naturals = std::views::iota(std::size_t{0}) | std::views::transform([&reads](std::size_t i) {
                    ++reads;
                    return i;
                  });

  parlab::MapOptions options;
  options.lookahead = 8;  // at most 8 items read ahead of the consumer (default max(64, 4*workers*chunksize))
  std::vector<std::size_t> first;
  {
    auto squares = pool.imap([](std::size_t n) { return n * n; }, naturals, options);
    for (std::size_t sq : squares) {
      first.push_back(sq);
      if (first.size() == 5) break;
    }
  }  // destroying the ImapResult stops reading the input and waits for chunks in flight

  print_list("first five squares", first);
  const std::size_t read = reads.load();
  std::cout << "input elements read: at least 5: " << (read >= 5) << '\n';
  std::cout << "input elements read: at most 5 + lookahead (13): " << (read <= 5 + options.lookahead) << '\n';
  check(first == std::vector<std::size_t>{0, 1, 4, 9, 16}, "first squares");
  check(read >= 5 && read <= 13, "bounded look-ahead");

  // imap keeps input order even when early items finish last; next(timeout) steps manually
  // and throws parlab::TimeoutError if no result arrives in time.
  const std::vector<int> numbers{0, 1, 2, 3, 4, 5, 6, 7};
  auto ordered = pool.imap(slow_square, numbers);
  std::vector<int> in_order;
  while (std::optional<int> sq = ordered.next(std::chrono::seconds{10})) in_order.push_back(*sq);
  print_list("imap keeps input order", in_order);
  check(in_order == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49}, "input order");
}
