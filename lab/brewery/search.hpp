#pragma once
/// \file
/// The replica's /v1/breweries/search: a local full-text index that comes as close as it can to the
/// real API's, which is Laravel Scout over Meilisearch with its default settings (docs/brewery.md
/// says what still differs).

#include "lab/brewery/dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parlab::brewery {

/// The words of every text attribute of every brewery, searched as Meilisearch does by default:
/// - words are runs of letters and digits (ASCII letters lower-cased; other bytes kept as they are);
/// - every query word must be found in a brewery, the last one as a prefix ("bould" finds
///   "Boulder"); when too few breweries have them all, the ones with the first words come after
///   (the "last" matching strategy);
/// - typos are forgiven by the word's length: none below 5 characters, 1 from 5, 2 from 9
///   (Damerau-Levenshtein: "califrnia" finds California);
/// - the best first: more query words, fewer typos, a better attribute (the CSV's column order:
///   id, name, brewery_type, address_1, ..., website_url), more exact words, then the file's order;
/// - at most max_hits results (Meilisearch's maxTotalHits).
class SearchIndex {
 public:
  /// The most results a search gives.
  static constexpr std::size_t max_hits = 1000;

  /// Indexes every brewery of `data`.
  explicit SearchIndex(const Dataset& data);

  /// The rows of the dataset that match `query`, best first; none when it has no word.
  [[nodiscard]] std::vector<std::size_t> search(std::string_view query) const;

  /// The words of `text`: runs of ASCII letters and digits and non-ASCII bytes, ASCII lower-cased.
  [[nodiscard]] static std::vector<std::string> words(std::string_view text);

 private:
  struct Posting {
    std::uint32_t word;      ///< index into vocabulary_
    std::uint8_t attribute;  ///< the column's index in all_columns
  };
  std::vector<std::string> vocabulary_;
  std::vector<std::vector<Posting>> documents_;  ///< per row: its words, attribute by attribute
};

/// The edit distance of `a` and `b` with adjacent transpositions (optimal string alignment), or
/// `limit` + 1 when it is more than `limit`.
[[nodiscard]] std::size_t typos_between(std::string_view a, std::string_view b, std::size_t limit);

}  // namespace parlab::brewery
