// Must not compile: a capturing lambda cannot be a ProcessPool's initializer.
#include "parlab/process_pool.hpp"

int main() {
  int connections = 4;
  parlab::ProcessPool pool{1, {.initializer = [connections] { (void)connections; }}};
}
