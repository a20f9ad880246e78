// Must not compile: an argument type without a cereal serialize() cannot be sent.
#include "parlab/process_pool.hpp"

struct Opaque {
  int value = 0;
};

int opaque_value(const Opaque& o) { return o.value; }

int main() {
  parlab::ProcessPool pool{1};
  (void)pool.map(opaque_value, std::vector<Opaque>(2));
}
