#pragma once
/// \file
/// The 50 US states and the District of Columbia as `by_state` values ("new_york"), the folding that
/// makes "New York", "new york" and "NEW_YORK" the same state, and a suggestion for a misspelt one.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace parlab::brewery {

/// The 50 states and "district_of_columbia", alphabetical: lower case, `_` for each space (the seed's
/// spelling, which the API's `by_state` accepts because `_` matches any one character).
[[nodiscard]] std::span<const std::string_view> us_states();

/// The seed's four states: district_of_columbia, maryland, new_york, virginia.
[[nodiscard]] std::span<const std::string_view> seed_states();

/// `name` in us_states() spelling: surrounding blanks dropped, ASCII lower case, every run of spaces
/// and `_` one `_` ("  New  York " -> "new_york").
[[nodiscard]] std::string fold_state(std::string_view name);

/// Whether fold_state(name) is one of us_states().
[[nodiscard]] bool is_us_state(std::string_view name);

/// Levenshtein distance (insertions, deletions, substitutions) between two byte strings.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The us_states() entry closest to fold_state(name) by edit_distance, when it is close enough to be
/// a likely typo (at most 3 edits, and fewer than half the name's length): "marylnd" -> "maryland".
/// Ties go to the alphabetically first. nullopt when nothing is that close.
[[nodiscard]] std::optional<std::string> suggest_state(std::string_view name);

/// Whether a brewery's `state_province` is exactly the state `name` names: equal after fold_state
/// (so "West Virginia" is not "virginia", and "New York" is "new_york").
[[nodiscard]] bool same_state(std::string_view state_province, std::string_view name);

}  // namespace parlab::brewery
