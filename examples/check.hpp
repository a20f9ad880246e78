#pragma once
/// \file
/// Helpers shared by the examples: print a vector as Python prints a list, and stop with a
/// message when a result is wrong (each example checks its own output).

#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <vector>

/// Prints `label: [a, b, c]`, as Python prints a list.
template <class T>
void print_list(const char* label, const std::vector<T>& values) {
  std::cout << label << ": [";
  for (std::size_t i = 0; i < values.size(); ++i)
    std::cout << (i == 0 ? "" : ", ") << values[i];
  std::cout << "]\n";
}

/// Exits with status 1 and a message when `ok` is false.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::cerr << "check failed: " << what << '\n';
  std::exit(1);
}
