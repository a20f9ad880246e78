// A program outside the parlab tree, built against an installed parlab.
#include <parlab/parlab.hpp>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {
int cube(int x) { return x * x * x; }

parlab::aio::Task<int> doubled(int x) {
  int y = co_await parlab::aio::to_thread([](int v) { return 2 * v; }, x);
  co_return y;
}

parlab::aio::Task<std::vector<int>> doubled_all() {
  std::vector<parlab::aio::Task<int>> tasks;
  for (int x : {1, 2, 3})
    tasks.push_back(doubled(x));
  auto results = co_await parlab::aio::gather(std::move(tasks));
  co_return results;
}
}  // namespace

int main() {
  parlab::Pool pool{2};
  std::vector<int> xs{0, 1, 2, 3, 4};
  auto squares = pool.map([](int x) { return x * x; }, xs);
  std::cout << "squares:";
  for (int s : squares)
    std::cout << ' ' << s;
  parlab::ProcessPool processes{2};
  auto cubes = processes.map(cube, xs);
  std::cout << "\ncubes:";
  for (int c : cubes)
    std::cout << ' ' << c;
  auto twice = parlab::aio::run(doubled_all());
  std::cout << "\ngathered:";
  for (int t : twice)
    std::cout << ' ' << t;
  std::cout << "\nurl: " << parlab::http::build_url("http://example.test/v1", {{"by_state", "new york"}});
  std::cout << "\ncpus: " << parlab::cpu_count() << '\n';
  const std::vector<std::string> words{"b", "a", "b"};
  auto tally = parlab::map_reduce(
      processes, words, [](const std::string& w) { return std::vector<std::pair<std::string, int>>{{w, 1}}; },
      [](const std::string&, const std::vector<int>& ones) { return ones.size(); });
  std::cout << "map_reduce: a=" << tally["a"] << " b=" << tally["b"] << '\n';
  std::cout << "version: " << parlab::version << '\n';
  return tally["a"] == 1 && tally["b"] == 2 ? 0 : 1;
}
