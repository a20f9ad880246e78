// Must not compile: an initializer argument that codec.hpp cannot send to a worker process.
#include "parlab/process_pool.hpp"

struct Handle {
  int fd = -1;
};

void use(Handle /*h*/) {}

int main() { parlab::ProcessPool pool{1, {.initializer = {use, Handle{}}}}; }
