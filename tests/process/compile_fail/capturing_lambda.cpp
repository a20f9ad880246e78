// Must not compile: a capturing lambda cannot be sent to a worker process.
#include "parlab/process_pool.hpp"

int main() {
  parlab::ProcessPool pool{1};
  int offset = 1;
  (void)pool.map([offset](int x) { return x + offset; }, std::vector<int>{1, 2});
}
