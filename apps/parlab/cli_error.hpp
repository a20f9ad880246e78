#pragma once
/// \file
/// How every `parlab` subcommand reports a failure: one line "parlab: error: ..." on stderr, and
/// an exit status.

#include "lab/usage_error.hpp"

#include <iostream>
#include <string_view>

namespace parlab::cli {

/// Bad input (a flag, a value): reported with exit status 2.
using UsageError = lab::UsageError;

/// Prints "parlab: error: <message>" on stderr: the one form of every error line of the command.
inline void print_error(std::string_view message) { std::cerr << "parlab: error: " << message << std::endl; }

/// Prints "parlab: error: <message>" on stderr and returns `status`, the exit status to use
/// (2: bad input, 1: the work failed).
inline int report_error(int status, std::string_view message) {
  print_error(message);
  return status;
}

}  // namespace parlab::cli
