#pragma once
/// \file
/// Touchy: an argument type whose serialization fails for negative values, for the tests of an
/// argument that cannot be sent to another process (ProcessPool, MpiPool).

#include <stdexcept>

namespace parlab::test {

struct Touchy {
  int v = 0;
  template <class Archive>
  void save(Archive& ar) const {
    if (v < 0) throw std::domain_error("cannot send a negative Touchy");
    ar(v);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(v);
  }
};

inline int touchy_value(const Touchy& t) { return t.v; }

}  // namespace parlab::test
