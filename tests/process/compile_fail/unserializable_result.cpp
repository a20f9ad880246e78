// Must not compile: a result type without a cereal serialize() cannot come back.
#include "parlab/process_pool.hpp"

struct Opaque {
  int value = 0;
};

Opaque wrap(int x) { return Opaque{x}; }

int main() {
  parlab::ProcessPool pool{1};
  (void)pool.map(wrap, std::vector<int>{1, 2});
}
