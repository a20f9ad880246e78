#include "lab/py_json.hpp"

#include "lab/pyrepr.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <vector>

namespace parlab::lab {

std::string py_json_string(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Decode UTF-8 to a code point; ensure_ascii writes \uXXXX (surrogate pairs above BMP).
          char32_t cp = c;
          int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
          if (extra > 0) cp = c & (0x3fU >> extra);
          for (; extra > 0 && i + 1 < text.size(); --extra)
            cp = (cp << 6) | (static_cast<unsigned char>(text[++i]) & 0x3fU);
          auto hex = [&out](unsigned v) { out += fmt::format("\\u{:04x}", v); };
          if (cp >= 0x10000) {
            cp -= 0x10000;
            hex(0xd800 + static_cast<unsigned>(cp >> 10));
            hex(0xdc00 + static_cast<unsigned>(cp & 0x3ff));
          } else {
            hex(static_cast<unsigned>(cp));
          }
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string soln_json(const Answers& answers) {
  std::vector<std::string> items;
  if (answers.prob1) items.push_back("  \"prob1\": " + py_json_string(*answers.prob1));
  if (answers.part1 && answers.part2 && answers.part3) {
    items.push_back("  \"prob2\": {\n    \"part1\": " + py_str(*answers.part1) + ",\n    \"part2\": " +
                    py_str(*answers.part2) + ",\n    \"part3\": " + py_str(*answers.part3) + "\n  }");
  }
  if (answers.prob3) items.push_back("  \"prob3\": " + py_json_string(*answers.prob3));
  items.push_back("  \"host\": " + py_json_string(answers.host));
  std::string out = "{\n";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  return out + "}";
}

}  // namespace parlab::lab
