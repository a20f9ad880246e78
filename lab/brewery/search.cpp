#include "lab/brewery/search.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <tuple>
#include <unordered_map>

namespace parlab::brewery {

namespace {

/// The typos Meilisearch forgives in a query word of `length` characters.
std::size_t typos_allowed(std::size_t length) {
  if (length < 5) return 0;
  return length < 9 ? 1 : 2;
}

constexpr std::size_t no_match = std::numeric_limits<std::size_t>::max();

/// The typos between query word `q` and vocabulary word `v`: the whole word, or with `prefix` the
/// best prefix of `v`; no_match beyond what the query word's length allows.
std::size_t match_typos(std::string_view q, std::string_view v, bool prefix) {
  const std::size_t allowed = typos_allowed(q.size());
  if (!prefix) {
    const std::size_t t = typos_between(q, v, allowed);
    return t <= allowed ? t : no_match;
  }
  std::size_t best = no_match;
  const std::size_t shortest = q.size() > allowed ? q.size() - allowed : 1;
  for (std::size_t length = shortest; length <= std::min(v.size(), q.size() + allowed); ++length) {
    const std::size_t t = typos_between(q, v.substr(0, length), allowed);
    if (t <= allowed) best = std::min(best, t);
  }
  return best;
}

}  // namespace

std::size_t typos_between(std::string_view a, std::string_view b, std::size_t limit) {
  const std::size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (gap > limit) return limit + 1;
  // Three rows of the optimal-string-alignment table.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    std::size_t row_best = current[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
      row_best = std::min(row_best, current[j]);
    }
    if (row_best > limit) return limit + 1;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[b.size()], limit + 1);
}

std::vector<std::string> SearchIndex::words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || u >= 0x80) {
      word += c;
    } else if (u >= 'A' && u <= 'Z') {
      word += static_cast<char>(u - 'A' + 'a');
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

SearchIndex::SearchIndex(const Dataset& data) {
  std::unordered_map<std::string, std::uint32_t> ids;
  documents_.reserve(data.size());
  for (const auto& brewery : data.breweries()) {
    std::vector<Posting> postings;
    for (std::size_t c = 0; c < all_columns.size(); ++c) {
      const auto text = brewery.text(all_columns[c]);
      if (!text) continue;
      for (auto& word : words(*text)) {
        const auto [it, added] =
            ids.try_emplace(std::move(word), static_cast<std::uint32_t>(vocabulary_.size()));
        if (added) vocabulary_.push_back(it->first);
        postings.push_back({it->second, static_cast<std::uint8_t>(c)});
      }
    }
    documents_.push_back(std::move(postings));
  }
}

std::vector<std::size_t> SearchIndex::search(std::string_view query) const {
  const auto wanted = words(query);
  if (wanted.empty()) return {};
  // For each query word, the typos of each vocabulary word (no_match: none within the tolerance).
  // And the vocabulary word each query word is exactly, if any (no_match: none).
  std::vector<std::vector<std::size_t>> typos(wanted.size());
  std::vector<std::size_t> exact_word(wanted.size(), no_match);
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    typos[w].resize(vocabulary_.size());
    for (std::size_t v = 0; v < vocabulary_.size(); ++v) {
      typos[w][v] = match_typos(wanted[w], vocabulary_[v], w + 1 == wanted.size());
      if (vocabulary_[v] == wanted[w]) exact_word[w] = v;
    }
  }
  // (query words found from the first on, typos, best attribute, exact words, row): smaller is better.
  using Rank = std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, std::size_t>;
  std::vector<Rank> ranked;
  for (std::size_t row = 0; row < documents_.size(); ++row) {
    std::size_t found = 0;
    std::size_t total_typos = 0;
    std::size_t attribute = all_columns.size();
    std::size_t exact = 0;
    for (std::size_t w = 0; w < wanted.size(); ++w) {
      std::size_t best = no_match;
      std::size_t where = all_columns.size();
      bool whole = false;
      for (const auto& [word, column] : documents_[row]) {
        const std::size_t t = typos[w][word];
        if (t < best || (t == best && column < where)) best = t, where = column;
        whole = whole || word == exact_word[w];
      }
      if (best == no_match) break;
      ++found;
      total_typos += best;
      attribute = std::min(attribute, where);
      exact += whole ? 1 : 0;
    }
    if (found == 0) continue;
    ranked.emplace_back(wanted.size() - found, total_typos, attribute, wanted.size() - exact, row);
  }
  std::sort(ranked.begin(), ranked.end());
  if (ranked.size() > max_hits) ranked.resize(max_hits);
  std::vector<std::size_t> rows;
  rows.reserve(ranked.size());
  for (const auto& rank : ranked)
    rows.push_back(std::get<4>(rank));
  return rows;
}

}  // namespace parlab::brewery
