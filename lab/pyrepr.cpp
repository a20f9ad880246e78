#include "lab/pyrepr.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>

namespace parlab::lab {

namespace {

template <class Int>
void append_integer(std::string& out, Int value) {
  std::array<char, 24> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), result.ptr);
}

}  // namespace

void append_py_str(std::string& out, int64_t value) { append_integer(out, value); }

void append_py_str(std::string& out, uint64_t value) { append_integer(out, value); }

void append_py_str(std::string& out, bool value) { out += value ? "True" : "False"; }

void append_py_str(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "nan";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-inf" : "inf";
    return;
  }
  // The shortest round-trip digits (as David Gay's dtoa mode 0, which Python uses), in the
  // form "[-]d[.ddd]e(+|-)XX".
  std::array<char, 32> buf{};
  const auto result =
      std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::scientific);
  std::string_view text(buf.data(), static_cast<size_t>(result.ptr - buf.data()));
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  const size_t e_pos = text.find('e');
  std::string digits(text.substr(0, e_pos));
  if (digits.size() > 1) {
    digits.erase(1, 1);  // the '.'
  }
  std::string_view exp_text = text.substr(e_pos + 1);
  const bool exp_negative = exp_text.front() == '-';
  exp_text.remove_prefix(1);  // to_chars always writes the exponent's sign
  int exp_abs = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp_abs);
  const int exponent = exp_negative ? -exp_abs : exp_abs;

  // Python's format_float_short for repr: value = 0.DIGITS * 10**decpt.
  const int decpt = exponent + 1;
  const auto ndigits = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {
    out += digits.front();
    if (ndigits > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += exp_negative ? "e-" : "e+";
    if (exp_abs < 10) {
      out += '0';
    }
    append_integer(out, exp_abs);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt < ndigits) {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out += '.';
    out.append(digits, static_cast<size_t>(decpt));
  } else {
    out += digits;
    out.append(static_cast<size_t>(decpt - ndigits), '0');
    out += ".0";
  }
}

std::string py_str(int64_t value) {
  std::string out;
  append_py_str(out, value);
  return out;
}

std::string py_str(double value) {
  std::string out;
  append_py_str(out, value);
  return out;
}

}  // namespace parlab::lab
