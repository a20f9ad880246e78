// A program outside the parlab tree, built against an installed parlab.
#include <parlab/parlab.hpp>

#include <iostream>
#include <vector>

int main() {
  parlab::Pool pool{2};
  std::vector<int> xs{0, 1, 2, 3, 4};
  auto squares = pool.map([](int x) { return x * x; }, xs);
  std::cout << "squares:";
  for (int s : squares)
    std::cout << ' ' << s;
  std::cout << "\ncpus: " << parlab::cpu_count() << '\n';
}
