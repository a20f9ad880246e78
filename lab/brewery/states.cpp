#include "lab/brewery/states.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace parlab::brewery {

namespace {

constexpr std::array<std::string_view, 51> states{"alabama",        "alaska",         "arizona",
                                                  "arkansas",       "california",     "colorado",
                                                  "connecticut",    "delaware",       "district_of_columbia",
                                                  "florida",        "georgia",        "hawaii",
                                                  "idaho",          "illinois",       "indiana",
                                                  "iowa",           "kansas",         "kentucky",
                                                  "louisiana",      "maine",          "maryland",
                                                  "massachusetts",  "michigan",       "minnesota",
                                                  "mississippi",    "missouri",       "montana",
                                                  "nebraska",       "nevada",         "new_hampshire",
                                                  "new_jersey",     "new_mexico",     "new_york",
                                                  "north_carolina", "north_dakota",   "ohio",
                                                  "oklahoma",       "oregon",         "pennsylvania",
                                                  "rhode_island",   "south_carolina", "south_dakota",
                                                  "tennessee",      "texas",          "utah",
                                                  "vermont",        "virginia",       "washington",
                                                  "west_virginia",  "wisconsin",      "wyoming"};

constexpr std::array<std::string_view, 4> seed{"district_of_columbia", "maryland", "new_york", "virginia"};

bool blank(char c) { return c == ' ' || c == '_' || c == '\t'; }

}  // namespace

std::span<const std::string_view> us_states() { return states; }

std::span<const std::string_view> seed_states() { return seed; }

std::string fold_state(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool pending_blank = false;
  for (const char c : name) {
    if (blank(c)) {
      pending_blank = !out.empty();
      continue;
    }
    if (pending_blank) out += '_';
    pending_blank = false;
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

bool is_us_state(std::string_view name) {
  const std::string folded = fold_state(name);
  return std::binary_search(states.begin(), states.end(), std::string_view{folded});
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> suggest_state(std::string_view name) {
  const std::string folded = fold_state(name);
  if (folded.empty()) return std::nullopt;
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (const auto state : states) {
    const std::size_t d = edit_distance(folded, state);
    if (!best || d < best_distance) {
      best = state;
      best_distance = d;
    }
  }
  if (best_distance > 3 || 2 * best_distance >= folded.size()) return std::nullopt;
  return std::string{*best};
}

bool same_state(std::string_view state_province, std::string_view name) {
  return fold_state(state_province) == fold_state(name);
}

}  // namespace parlab::brewery
