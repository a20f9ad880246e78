#pragma once
/// \file
/// JSON text byte for byte as Python's json module writes it: a string, and the lab's soln.json.

#include <optional>
#include <string>
#include <string_view>

namespace parlab::lab {

/// The answers that go into soln.json.
struct Answers {
  std::optional<std::string> prob1;
  std::optional<double> part1, part2, part3;
  std::optional<std::string> prob3;
  std::string host;
};

/// soln.json's text exactly as Python's json.dumps(answers, indent=2) writes it.
[[nodiscard]] std::string soln_json(const Answers& answers);
/// A string as Python's json.dumps quotes it (ensure_ascii).
[[nodiscard]] std::string py_json_string(std::string_view text);

}  // namespace parlab::lab
