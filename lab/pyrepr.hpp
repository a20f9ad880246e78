#pragma once
/// \file
/// Python's `str()` of ints, floats and (nested) lists, byte for byte, so the lab's answers
/// (`prob1`, `prob3`) print exactly as the Python notebook prints them. For these types
/// Python's `str()` and `repr()` agree.

#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace parlab::lab {

/// Appends `str(value)` for a Python int: decimal digits, a leading '-' if negative.
void append_py_str(std::string& out, int64_t value);

/// Appends `str(value)` for a Python int that does not fit int64_t.
void append_py_str(std::string& out, uint64_t value);

/// Appends `str(value)` for a Python float (`float_repr_style='short'`): the shortest digits
/// that round-trip, scientific when the exponent is < -4 or >= 16 (`1e-05`, `1.5e+16`),
/// otherwise positional with at least one fractional digit (`0.0001`, `100.0`, `-0.0`);
/// `inf`, `-inf`, `nan` (never `-nan`).
void append_py_str(std::string& out, double value);

/// Appends `str(value)` for a Python bool: `True` or `False`.
void append_py_str(std::string& out, bool value);

/// Pointers (string literals included) are not Python values; without this they would
/// silently convert to bool.
template <class T>
void append_py_str(std::string& out, const T* value) = delete;

/// Integer types other than bool, int64_t and uint64_t (printed through those two).
template <class T>
concept OtherInteger =
    std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, int64_t> && !std::same_as<T, uint64_t>;

/// Appends `str(value)` for any other integer type, as a Python int.
template <OtherInteger T>
void append_py_str(std::string& out, T value) {
  if constexpr (std::is_signed_v<T>) {
    append_py_str(out, static_cast<int64_t>(value));
  } else {
    append_py_str(out, static_cast<uint64_t>(value));
  }
}

/// Appends `str(values)` for a Python list: `[a, b, c]`, elements as above, nested lists
/// recursively (`[[2, 3], [6]]`, `[]`).
template <class T>
void append_py_str(std::string& out, const std::vector<T>& values) {
  out += '[';
  bool first = true;
  for (const auto& value : values) {
    if (!first) {
      out += ", ";
    }
    first = false;
    append_py_str(out, value);
  }
  out += ']';
}

/// Python's `str()` of an int.
std::string py_str(int64_t value);

/// Python's `str()` of a float (see `append_py_str(std::string&, double)` for the rules).
std::string py_str(double value);

/// Types that `append_py_str` can print.
template <class T>
concept PyPrintable = requires(std::string& out, const T& value) {
  append_py_str(out, value);
};

/// Python's `str()` of anything `append_py_str` accepts: other integers, bools and (nested)
/// `std::vector`s of them or of doubles.
template <PyPrintable T>
std::string py_str(const T& value) {
  std::string out;
  append_py_str(out, value);
  return out;
}

}  // namespace parlab::lab
