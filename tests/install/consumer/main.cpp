// A program outside the parlab tree, built against an installed parlab.
#include <parlab/parlab.hpp>

#include <iostream>
#include <vector>

namespace {
int cube(int x) { return x * x * x; }
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
  std::cout << "\ncpus: " << parlab::cpu_count() << '\n';
}
