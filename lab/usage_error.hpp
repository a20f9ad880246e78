#pragma once
/// \file
/// parlab::lab::UsageError: bad command-line input, which the `parlab` command reports on one line
/// with exit status 2.

#include <stdexcept>

namespace parlab::lab {

/// Bad command-line input (a flag, a value): the CLI prints it on one line and exits with status 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace parlab::lab
