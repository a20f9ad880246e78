#include "lab/brewery/api.hpp"

#include <openssl/evp.h>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_set>

namespace parlab::brewery {

namespace {

using Json = nlohmann::ordered_json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::array<std::string_view, 15> type_names{
    "bar",  "beergarden", "brewpub",    "cidery",   "closed",  "contract", "large",   "micro",
    "nano", "planning",   "proprietor", "regional", "taproom", "unknown",  "location"};

constexpr std::uint64_t per_page_default = 50;
constexpr std::uint64_t per_page_max = 200;
constexpr std::uint64_t random_max = 50;
constexpr std::size_t text_min = 3;
constexpr std::size_t text_max = 255;

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Bytes of the UTF-8 character starting at s[i] (1 for a stray byte), within s.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t n = 1;
  if (lead >= 0xF0)
    n = 4;
  else if (lead >= 0xE0)
    n = 3;
  else if (lead >= 0xC0)
    n = 2;
  return std::min(n, s.size() - i);
}

std::size_t characters(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

/// A body as PHP's json_encode writes it with no flags (Laravel's JsonResponse): compact, every
/// non-ASCII character as \uXXXX and every '/' as "\/".
std::string php_json(const Json& j) {
  const std::string text = j.dump(-1, ' ', true, Json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + 16);
  for (const char c : text) {  // a '/' can only be inside a string
    if (c == '/') out += '\\';
    out += c;
  }
  return out;
}

/// An error body as Laravel's exception handler renders it for a JSON client: pretty-printed with
/// four spaces, '/' unescaped, non-ASCII as \uXXXX.
std::string php_pretty_json(const Json& j) { return j.dump(4, ' ', true, Json::error_handler_t::replace); }

Response json_response(unsigned status, std::string body, Headers headers) {
  return Response{status, std::move(headers), std::move(body)};
}

/// `{"message": text}` as the exception handler renders it.
Response message(unsigned status, const std::string& text, Headers headers) {
  return json_response(status, php_pretty_json(Json{{"message", text}}), std::move(headers));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

/// PHP's trim(): the ASCII blanks " \t\n\r\0\x0B" at both ends.
std::string php_trim(std::string_view s) {
  constexpr std::string_view blanks{" \t\n\r\0\x0B", 6};
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return std::string{s.substr(first, s.find_last_not_of(blanks) - first + 1)};
}

/// Laravel's TrimStrings: ASCII whitespace and U+FEFF, U+200B, U+180E removed from both ends.
std::string trim_strings(std::string_view s) {
  static constexpr std::array<std::string_view, 3> invisible{"\xEF\xBB\xBF", "\xE2\x80\x8B", "\xE1\xA0\x8E"};
  const auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  for (bool trimmed = true; trimmed && !s.empty();) {
    trimmed = false;
    if (blank(s.front())) s.remove_prefix(1), trimmed = true;
    if (!s.empty() && blank(s.back())) s.remove_suffix(1), trimmed = true;
    for (const auto mark : invisible) {
      if (s.starts_with(mark)) s.remove_prefix(mark.size()), trimmed = true;
      if (s.ends_with(mark)) s.remove_suffix(mark.size()), trimmed = true;
    }
  }
  return std::string{s};
}

/// One query parameter as the controller sees it: a string (trimmed; empty became null) or an
/// array (`key[]=...`).
struct Param {
  std::optional<std::string> text;  ///< nullopt: null (empty) or an array
  std::size_t items = 0;            ///< an array's element count; 0 for a string or null
  [[nodiscard]] bool is_array() const { return items > 0; }
  [[nodiscard]] bool is_null() const { return !text && items == 0; }
};

/// The query string as PHP parses it and Laravel's middleware leaves it: values decoded (`%XX`,
/// `+` as a space), trimmed, empty ones null; the last of a repeated key wins; `key[]=` and
/// `key[x]=` make `key` an array.
class Query {
 public:
  explicit Query(boost::urls::url_view url) {
    for (auto p : url.params(boost::urls::encoding_opts{true})) {
      const auto bracket = p.key.find('[');
      if (bracket != std::string::npos && bracket > 0 && p.key.find(']', bracket) != std::string::npos) {
        Param& param = params_[p.key.substr(0, bracket)];
        if (param.items == 0) param = Param{};
        ++param.items;
        continue;
      }
      std::string value = p.has_value ? trim_strings(p.value) : std::string{};
      params_[p.key] = value.empty() ? Param{} : Param{std::move(value), 0};
    }
  }
  [[nodiscard]] const Param* get(const std::string& key) const {
    const auto it = params_.find(key);
    return it == params_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, Param> params_;
};

/// Validation errors, by parameter, in the order of the rules: Laravel's 422.
class Errors {
 public:
  void add(const std::string& field, const std::string& text) {
    if (!errors_.contains(field)) errors_[field] = Json::array();
    errors_[field].push_back(text);
    messages_.push_back(text);
  }
  [[nodiscard]] bool empty() const { return messages_.empty(); }
  [[nodiscard]] bool has(const std::string& field) const { return errors_.contains(field); }
  [[nodiscard]] Response response(Headers headers) const {
    std::string text = messages_.front();
    if (messages_.size() > 1)
      text += " (and " + std::to_string(messages_.size() - 1) + " more error" +
              (messages_.size() > 2 ? "s" : "") + ")";
    const Json body{{"message", text}, {"errors", errors_}};
    return json_response(422, php_json(body), std::move(headers));
  }

 private:
  Json errors_ = Json::object();
  std::vector<std::string> messages_;
};

/// "The per page field": Laravel's name of a parameter in its messages.
std::string field(const std::string& key) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', ' ');
  return "The " + name + " field";
}

/// PHP's filter_var($v, FILTER_VALIDATE_INT): an optional sign, no leading zero, within 64 bits.
std::optional<std::int64_t> php_int(std::string_view s) {
  const std::string t = php_trim(s);
  std::string_view v = t;
  const bool negative = !v.empty() && v.front() == '-';
  if (!v.empty() && (v.front() == '-' || v.front() == '+')) v.remove_prefix(1);
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (v.size() > 1 && v.front() == '0') return std::nullopt;
  std::uint64_t magnitude = 0;
  if (std::from_chars(v.data(), v.data() + v.size(), magnitude).ec != std::errc{}) return std::nullopt;
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (magnitude > max + (negative ? 1 : 0)) return std::nullopt;
  if (negative)
    return magnitude == max + 1 ? std::numeric_limits<std::int64_t>::min()
                                : -static_cast<std::int64_t>(magnitude);
  return static_cast<std::int64_t>(magnitude);
}

/// PHP's is_numeric() of a trimmed string, as a number: [+-] digits [. digits] or [+-] . digits,
/// then an optional exponent.
std::optional<double> php_numeric(const std::string& s) {
  const auto digits = [&](std::size_t& i) {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    return i - start;
  };
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t mantissa = digits(i);
  if (i < s.size() && s[i] == '.') {
    ++i;
    mantissa += digits(i);
  }
  if (mantissa == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits(i) == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return std::strtod(s.c_str(), nullptr);
}

/// What Laravel's min and max rules compare for a numeric parameter: the number, or for what is no
/// number its length (an array: its items).
double numeric_size(const Param& p) {
  if (p.is_array()) return static_cast<double>(p.items);
  if (const auto number = php_numeric(*p.text)) return *number;
  return static_cast<double>(characters(*p.text));
}

/// The rules 'sometimes', 'required', 'integer', 'min:min' and 'max:max' (no max when nullopt) on
/// `key`, as Laravel checks them: its value when it passes them all.
std::optional<std::int64_t> integer_rule(const Query& q, const std::string& key, std::int64_t min,
                                         std::optional<std::int64_t> max, Errors& errors) {
  const Param* p = q.get(key);
  if (p == nullptr) return std::nullopt;
  if (p->is_null()) {
    errors.add(key, field(key) + " is required.");
    return std::nullopt;
  }
  const std::optional<std::int64_t> value = p->text ? php_int(*p->text) : std::nullopt;
  if (!value) errors.add(key, field(key) + " must be an integer.");
  const double size = numeric_size(*p);
  if (size < static_cast<double>(min))
    errors.add(key, field(key) + " must be at least " + std::to_string(min) + ".");
  if (max && size > static_cast<double>(*max))
    errors.add(key, field(key) + " must not be greater than " + std::to_string(*max) + ".");
  if (errors.has(key)) return std::nullopt;
  return value;
}

/// The rules 'sometimes' (unless `required`), 'required', 'string', 'min:3' and 'max:255' on `key`:
/// its value when it passes them all.
std::optional<std::string> text_rule(const Query& q, const std::string& key, Errors& errors,
                                     bool required = false) {
  const Param* p = q.get(key);
  if (p == nullptr && !required) return std::nullopt;
  if (p == nullptr || p->is_null()) {
    errors.add(key, field(key) + " is required.");
    return std::nullopt;
  }
  if (p->is_array()) errors.add(key, field(key) + " must be a string.");
  const std::size_t size = p->is_array() ? p->items : characters(*p->text);
  const char* unit = p->is_array() ? " items." : " characters.";
  if (size < text_min)
    errors.add(key, field(key) + (p->is_array() ? " must have at least " : " must be at least ") +
                        std::to_string(text_min) + unit);
  if (size > text_max)
    errors.add(key, field(key) +
                        (p->is_array() ? " must not have more than " : " must not be greater than ") +
                        std::to_string(text_max) + unit);
  if (errors.has(key)) return std::nullopt;
  return *p->text;
}

struct Paging {
  std::uint64_t page = 1;
  std::uint64_t per_page = per_page_default;
};

/// per_page (1..200, default 50) and page (1 or more, default 1), validated in that order.
Paging parse_paging(const Query& q, Errors& errors) {
  Paging p;
  if (const auto n = integer_rule(q, "per_page", 1, static_cast<std::int64_t>(per_page_max), errors))
    p.per_page = static_cast<std::uint64_t>(*n);
  if (const auto n = integer_rule(q, "page", 1, std::nullopt, errors))
    p.page = static_cast<std::uint64_t>(*n);
  return p;
}

/// by_dist: the breweries with coordinates, nearest first (the real model's orderByDistance).
struct Near {
  double latitude = 0;
  double longitude = 0;
  std::optional<double> radius{};  ///< by_dist_radius: farther ones are left out
  double earth_radius = 3959;      ///< by_dist_unit: 3959 for mi (the default), 6371 for km

  /// SQL's haversine of the real model: R * acos(...), NaN (SQL's NULL) where acos is out of range.
  [[nodiscard]] double distance(double lat, double lon) const {
    constexpr double rad = 3.14159265358979323846 / 180;
    const double c = std::cos(latitude * rad) * std::cos(lat * rad) * std::cos(lon * rad - longitude * rad) +
                     std::sin(latitude * rad) * std::sin(lat * rad);
    return c < -1 || c > 1 ? std::nan("") : earth_radius * std::acos(c);
  }
};

struct Filters {
  std::vector<std::pair<Column, std::string>> patterns;  // "%value%"
  std::optional<std::vector<std::string>> types;
  std::optional<std::vector<std::string>> excluded;
  std::optional<std::unordered_set<std::string>> ids;
  std::optional<Near> near;

  [[nodiscard]] bool matches(const Brewery& b) const {
    if (near) {
      if (!b.latitude || !b.longitude) return false;
      if (near->radius && !(near->distance(*b.latitude, *b.longitude) <= *near->radius)) return false;
    }
    for (const auto& [column, pattern] : patterns) {
      const auto value = b.text(column);
      if (!value || !like(*value, pattern)) return false;
    }
    const auto in = [&](const std::vector<std::string>& set) {
      return b.brewery_type && std::find(set.begin(), set.end(), *b.brewery_type) != set.end();
    };
    if (types && !in(*types)) return false;
    // SQL: `NULL NOT IN (...)` is not true, so a null type is excluded too.
    if (excluded && (!b.brewery_type || in(*excluded))) return false;
    if (ids && !ids->contains(b.id)) return false;
    return true;
  }
};

/// by_type or exclude_types: 'string' and the BreweryType rule — each comma-separated item,
/// trimmed, must be a type; one message per item that is not.
std::optional<std::vector<std::string>> parse_types(const Query& q, const std::string& key, Errors& errors) {
  const Param* p = q.get(key);
  if (p == nullptr) return std::nullopt;
  if (p->is_null()) {
    errors.add(key, field(key) + " is required.");
    return std::nullopt;
  }
  if (p->is_array()) {
    errors.add(key, field(key) + " must be a string.");
    return std::nullopt;
  }
  std::vector<std::string> items;
  for (const auto& item : split(*p->text, ',')) {
    items.push_back(php_trim(item));
    if (std::find(type_names.begin(), type_names.end(), items.back()) == type_names.end())
      errors.add(key, "The " + key + " contains invalid brewery type: " + items.back());
  }
  if (errors.has(key)) return std::nullopt;
  return items;
}

/// by_dist (the Coordinates rule: "lat,lon", -90..90 and -180..180), by_dist_radius ('numeric',
/// 0.1..10000) and by_dist_unit (km or mi), in that order.
std::optional<Near> parse_near(const Query& q, Errors& errors) {
  Near near;
  bool valid = true;
  if (const Param* p = q.get("by_dist"); p != nullptr) {
    if (p->is_null() || p->is_array()) {
      errors.add("by_dist", field("by_dist") + (p->is_null() ? " is required." : " must be a string."));
    } else if (const auto parts = split(*p->text, ','); parts.size() != 2) {
      errors.add("by_dist", "The by dist must be a valid coordinate pair (latitude,longitude).");
    } else {
      const auto lat = php_numeric(php_trim(parts[0]));
      const auto lon = php_numeric(php_trim(parts[1]));
      if (!lat || *lat < -90 || *lat > 90)
        errors.add("by_dist", "The latitude in by dist must be a number between -90 and 90.");
      else if (!lon || *lon < -180 || *lon > 180)
        errors.add("by_dist", "The longitude in by dist must be a number between -180 and 180.");
      else
        near = Near{*lat, *lon};
    }
    valid = !errors.has("by_dist");
  } else {
    valid = false;
  }
  if (const Param* p = q.get("by_dist_radius"); p != nullptr) {
    const std::string key = "by_dist_radius";
    if (p->is_null()) {
      errors.add(key, field(key) + " is required.");
    } else {
      const auto number = p->text ? php_numeric(*p->text) : std::nullopt;
      if (!number) errors.add(key, field(key) + " must be a number.");
      const double size = numeric_size(*p);
      if (size < 0.1) errors.add(key, field(key) + " must be at least 0.1.");
      if (size > 10000) errors.add(key, field(key) + " must not be greater than 10000.");
      if (!errors.has(key)) near.radius = number;
    }
  }
  if (const Param* p = q.get("by_dist_unit"); p != nullptr) {
    const std::string key = "by_dist_unit";
    if (p->is_null())
      errors.add(key, field(key) + " is required.");
    else if (p->is_array())
      errors.add(key, field(key) + " must be a string.");
    else if (*p->text != "km" && *p->text != "mi")
      errors.add(key, "The selected by dist unit is invalid.");
    else
      near.earth_radius = *p->text == "km" ? 6371 : 3959;
  }
  if (!valid) return std::nullopt;
  return near;
}

/// The filters, validated in the order of the real server's rules (by_city, by_country, by_dist,
/// by_dist_radius, by_dist_unit, by_ids, by_name, by_postal, by_state, by_type, exclude_types).
Filters parse_filters(const Query& q, Errors& errors) {
  Filters f;
  const auto text = [&](const char* key, Column column) {
    if (auto v = text_rule(q, key, errors)) f.patterns.emplace_back(column, "%" + *v + "%");
  };
  text("by_city", Column::city);
  text("by_country", Column::country);
  f.near = parse_near(q, errors);
  if (auto v = text_rule(q, "by_ids", errors)) {
    std::unordered_set<std::string> ids;
    for (const auto& id : split(*v, ','))
      ids.insert(php_trim(id));
    f.ids = std::move(ids);
  }
  text("by_name", Column::name);
  text("by_postal", Column::postal_code);
  text("by_state", Column::state_province);
  f.types = parse_types(q, "by_type", errors);
  f.excluded = parse_types(q, "exclude_types", errors);
  return f;
}

struct SortKey {
  Column column;
  bool descending;
};

/// The sort= keys: 'field[:direction]', comma-separated, each part trimmed, `type` for brewery_type,
/// as the real server orders by them. nullopt where the real one fails in SQL (a column it does not
/// have, a direction other than asc or desc in any case): a 500 there.
std::optional<std::vector<SortKey>> parse_sort(const Query& q, Errors& errors) {
  std::vector<SortKey> keys;
  const Param* p = q.get("sort");
  if (p == nullptr) return keys;
  if (!p->text) {
    errors.add("sort", field("sort") + (p->is_null() ? " is required." : " must be a string."));
    return keys;
  }
  for (const auto& item : split(*p->text, ',')) {
    const auto parts = split(item, ':');
    const std::string name = php_trim(parts[0]);
    std::string direction = parts.size() > 1 ? php_trim(parts[1]) : "asc";
    std::transform(direction.begin(), direction.end(), direction.begin(), fold);
    const auto column = std::find_if(all_columns.begin(), all_columns.end(), [&](Column c) {
      return column_name(c) == (name == "type" ? std::string_view{"brewery_type"} : std::string_view{name});
    });
    if (column == all_columns.end() || (direction != "asc" && direction != "desc")) return std::nullopt;
    keys.push_back({*column, direction == "desc"});
  }
  return keys;
}

/// SQLite's ORDER BY: text bytewise, coordinates as numbers, NULL first ascending and last
/// descending; ties keep the dataset's order.
void sort_rows(const Dataset& data, std::vector<std::size_t>& rows, const std::vector<SortKey>& keys) {
  if (keys.empty()) return;
  const auto& all = data.breweries();
  const auto order = [](const auto& x, const auto& y) {  // -1, 0, 1 with NULL first
    if (x == y) return 0;
    return !x || (y && *x < *y) ? -1 : 1;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    for (const auto& key : keys) {
      int c = 0;
      if (key.column == Column::latitude)
        c = order(all[a].latitude, all[b].latitude);
      else if (key.column == Column::longitude)
        c = order(all[a].longitude, all[b].longitude);
      else
        c = order(all[a].text(key.column), all[b].text(key.column));
      if (c != 0) return key.descending ? c > 0 : c < 0;
    }
    return false;
  });
}

std::vector<std::size_t> select(const Dataset& data, const Filters& f) {
  std::vector<std::size_t> rows;
  const auto& all = data.breweries();
  for (std::size_t i = 0; i < all.size(); ++i)
    if (f.matches(all[i])) rows.push_back(i);
  return rows;
}

/// ORDER BY distance (before any sort= keys, which the stable sort keeps among equal distances); a
/// NaN distance (SQL's NULL) first.
void order_by_distance(const Dataset& data, std::vector<std::size_t>& rows, const Near& near) {
  const auto& all = data.breweries();
  std::vector<std::pair<double, std::size_t>> keyed;
  keyed.reserve(rows.size());
  for (const auto i : rows)
    keyed.emplace_back(near.distance(*all[i].latitude, *all[i].longitude), i);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (std::isnan(a.first)) return !std::isnan(b.first);
    return !std::isnan(b.first) && a.first < b.first;
  });
  for (std::size_t k = 0; k < rows.size(); ++k)
    rows[k] = keyed[k].second;
}

/// The path's segments, without the empty one of a trailing slash.
std::vector<std::string> segments(boost::urls::url_view url) {
  std::vector<std::string> path;
  for (auto segment : url.segments())
    path.push_back(std::move(segment));
  if (!path.empty() && path.back().empty()) path.pop_back();
  return path;
}

/// Whether the request is for /v1/breweries or /v1/breweries/{what}.
bool is_endpoint(boost::urls::url_view url, const std::vector<std::string>& path) {
  return url.is_path_absolute() && path.size() >= 2 && path.size() <= 3 && path[0] == "v1" &&
         path[1] == "breweries";
}

/// The breweries `rows` on page `paging` as a JSON array (empty past the last page): a 200.
Response page_of(const std::vector<std::string>& json, const std::vector<std::size_t>& rows,
                 const Paging& paging, Headers headers) {
  std::string body = "[";
  const std::uint64_t pages = (rows.size() + paging.per_page - 1) / paging.per_page;
  if (paging.page - 1 < pages) {
    const auto first = static_cast<std::size_t>((paging.page - 1) * paging.per_page);
    const auto last = std::min(rows.size(), first + static_cast<std::size_t>(paging.per_page));
    for (std::size_t i = first; i < last; ++i) {
      if (i > first) body += ',';
      body += json[rows[i]];
    }
  }
  body += ']';
  return json_response(200, std::move(body), std::move(headers));
}

/// GET /v1/breweries: the breweries that match the filters, sorted, one page of them.
Response list_breweries(const Dataset& data, const std::vector<std::string>& json, const Query& q,
                        Headers headers) {
  Errors errors;  // the real server's rule order: per_page, page, sort, then the filters
  const auto paging = parse_paging(q, errors);
  const auto keys = parse_sort(q, errors);
  const auto filters = parse_filters(q, errors);
  if (!errors.empty()) return errors.response(std::move(headers));
  if (!keys) return message(500, "Server Error", std::move(headers));  // the real one's SQL error
  auto rows = select(data, filters);
  sort_rows(data, rows, *keys);
  if (filters.near) order_by_distance(data, rows, *filters.near);
  return page_of(json, rows, paging, std::move(headers));
}

/// GET /v1/breweries/meta: how many breweries match the filters, by state, country and type.
Response meta(const Dataset& data, const Query& q, Headers headers) {
  Errors errors;
  const auto paging = parse_paging(q, errors);
  (void)parse_sort(q, errors);
  const auto filters = parse_filters(q, errors);
  if (!errors.empty()) return errors.response(std::move(headers));
  std::map<std::string, std::uint64_t> by_state;
  std::map<std::string, std::uint64_t> by_country;
  std::map<std::string, std::uint64_t> by_type;
  std::uint64_t total = 0;
  for (const auto i : select(data, filters)) {
    const auto& b = data.breweries()[i];
    ++total;
    if (b.state_province) ++by_state[*b.state_province];
    if (b.country) ++by_country[*b.country];
    if (b.brewery_type) ++by_type[*b.brewery_type];
  }
  const auto object = [](const std::map<std::string, std::uint64_t>& counts) {
    Json j = Json::object();
    for (const auto& [k, n] : counts)
      j[k] = n;
    return j;
  };
  Json body{{"total", total},
            {"by_state", object(by_state)},
            {"by_country", object(by_country)},
            {"by_type", object(by_type)},
            {"page", paging.page},
            {"per_page", paging.per_page}};
  return json_response(200, php_json(body), std::move(headers));
}

/// The `size` of GET /v1/breweries/random (1..50): 1 when absent.
std::uint64_t parse_random_size(const Query& q, Errors& errors) {
  const auto n = integer_rule(q, "size", 1, static_cast<std::int64_t>(random_max), errors);
  return n ? static_cast<std::uint64_t>(*n) : 1;
}

/// GET /v1/breweries/random: `size` distinct breweries that `draw(size)` picks, in its order.
template <class Draw>
Response random_breweries(const std::vector<std::string>& json, const Query& q, Draw&& draw,
                          Headers headers) {
  Errors errors;
  const auto size = parse_random_size(q, errors);
  if (!errors.empty()) return errors.response(std::move(headers));
  return page_of(json, draw(static_cast<std::size_t>(size)), Paging{1, size}, std::move(headers));
}

/// PHP's urldecode(): `+` as a space, `%XX` decoded where XX is hex, anything else kept.
std::string php_urldecode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// GET /v1/breweries/search?query=: one page of the breweries `index` finds for the query, best
/// first. Like the real one, `page` is not validated (a bad one is page 1) and the query is
/// URL-decoded a second time.
Response search(const SearchIndex& index, const std::vector<std::string>& json, const Query& q,
                Headers headers) {
  Errors errors;
  Paging paging;
  if (const auto n = integer_rule(q, "per_page", 1, static_cast<std::int64_t>(per_page_max), errors))
    paging.per_page = static_cast<std::uint64_t>(*n);
  const auto query = text_rule(q, "query", errors, true);
  if (!errors.empty()) return errors.response(std::move(headers));
  if (const Param* page = q.get("page"); page != nullptr && page->text)
    if (const auto n = php_int(*page->text); n && *n >= 1) paging.page = static_cast<std::uint64_t>(*n);
  return page_of(json, index.search(php_urldecode(*query)), paging, std::move(headers));
}

/// Laravel's cache.headers etag: ETag "md5 of the body"; a 304 without a body when If-None-Match
/// names it (or is *), as Symfony's isNotModified compares them (weakly).
Response with_etag(Response r, const std::string& if_none_match) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(r.body.data(), r.body.size(), digest.data(), &length, EVP_md5(), nullptr);
  std::string etag = "\"";
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    etag += hex[digest[i] >> 4];
    etag += hex[digest[i] & 15];
  }
  etag += '"';
  r.headers.emplace_back("ETag", etag);
  for (const auto& candidate : split(if_none_match, ',')) {
    std::string tag = php_trim(candidate);
    if (tag.starts_with("W/")) tag.erase(0, 2);
    if (tag == etag || tag == "*") {
      r.status = 304;
      r.body.clear();
      std::erase_if(r.headers, [](const auto& h) { return h.first == "Content-Type"; });
      break;
    }
  }
  return r;
}

/// PHP's urlencode(): letters, digits and "-_." kept, a space as '+', every other byte %XX.
std::string php_urlencode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

/// PHP's htmlspecialchars(): & " ' < > as entities.
std::string html_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#039;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// GET /v1/breweries/autocomplete (deprecated upstream): a 307 to search with the same query and a
/// Link to it as the successor version, the body Symfony's redirect page.
Response autocomplete(const std::string& origin, const Query& q, Headers headers) {
  std::string url = origin + "/v1/breweries/search";
  if (const Param* p = q.get("query"); p != nullptr && p->text) url += "?query=" + php_urlencode(*p->text);
  for (auto& [name, value] : headers)
    if (name == "Content-Type") value = "text/html; charset=utf-8";
  headers.emplace_back("Location", url);
  headers.emplace_back("Link", "<" + url + ">; rel=\"successor-version\"");
  const std::string shown = html_escape(url);
  std::string body =
      "<!DOCTYPE html>\n<html>\n    <head>\n        <meta charset=\"UTF-8\" />\n"
      "        <meta http-equiv=\"refresh\" content=\"0;url='" +
      shown + "'\" />\n\n        <title>Redirecting to " + shown +
      "</title>\n    </head>\n    <body>\n        Redirecting to <a href=\"" + shown + "\">" + shown +
      "</a>.\n    </body>\n</html>";
  return Response{307, std::move(headers), std::move(body)};
}

/// GET /v1/breweries/{id}: one brewery, or a 404.
Response by_id(const Dataset& data, const std::vector<std::string>& json, const std::string& id,
               Headers headers) {
  const auto* b = data.find(id);
  if (!b) return message(404, "No query results for model [App\\Models\\Brewery] " + id, std::move(headers));
  return json_response(200, json[static_cast<std::size_t>(b - data.breweries().data())], std::move(headers));
}

}  // namespace

std::span<const std::string_view> brewery_types() { return type_names; }

bool like(std::string_view text, std::string_view pattern) {
  constexpr auto none = std::string_view::npos;
  std::size_t t = 0;
  std::size_t p = 0;
  std::size_t star_p = none;  // pattern position just after the last '%'
  std::size_t star_t = 0;     // text position that '%' is currently matched up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == '_') {
      t += utf8_length(text, t);
      ++p;
    } else if (p < pattern.size() && fold(pattern[p]) == fold(text[t])) {
      ++t;
      ++p;
    } else if (star_p != none) {
      p = star_p;
      star_t += utf8_length(text, star_t);
      t = star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%')
    ++p;
  return p == pattern.size();
}

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return fold(a) == fold(b); }))
      return v;
  return {};
}

Api::Api(std::shared_ptr<const Dataset> data, ApiOptions options)
    : data_{data ? std::move(data) : throw std::invalid_argument{"parlab::brewery::Api needs a dataset"}},
      options_{options},
      search_{*data_},
      rng_{options.seed} {
  const auto text = [](const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); };
  // A whole-number coordinate is an integer in SQLite's NUMERIC column, and json_encode writes it
  // without a fraction: 36, not 36.0.
  const auto number = [](const std::optional<double>& v) {
    if (!v) return Json(nullptr);
    if (std::trunc(*v) == *v && std::abs(*v) < 9.0e15) return Json(static_cast<std::int64_t>(*v));
    return Json(*v);
  };
  json_.reserve(data_->size());
  for (const auto& b : data_->breweries()) {
    Json j{{"id", b.id},
           {"name", text(b.name)},
           {"brewery_type", text(b.brewery_type)},
           {"address_1", text(b.address_1)},
           {"address_2", text(b.address_2)},
           {"address_3", text(b.address_3)},
           {"city", text(b.city)},
           {"state_province", text(b.state_province)},
           {"postal_code", text(b.postal_code)},
           {"country", text(b.country)},
           {"longitude", number(b.longitude)},
           {"latitude", number(b.latitude)},
           {"phone", text(b.phone)},
           {"website_url", text(b.website_url)},
           {"state", text(b.state_province)},
           {"street", text(b.address_1)}};
    json_.push_back(php_json(j));
  }
}

std::optional<Response> Api::admit(const Request& request, Headers& headers) {
  if (!options_.rate_limit) return std::nullopt;
  const auto& limit = *options_.rate_limit;
  std::uint32_t remaining = 0;
  std::optional<std::chrono::seconds> retry_after;
  {
    std::lock_guard lock{rate_mutex_};
    if (windows_.size() > 4096)
      std::erase_if(windows_, [&](const auto& kv) { return request.now - kv.second.start >= limit.window; });
    auto& w = windows_[request.client];
    if (w.count == 0 || request.now - w.start >= limit.window) {
      w.start = request.now;
      w.count = 0;
    }
    if (w.count < limit.limit) {
      ++w.count;
      remaining = limit.limit - w.count;
    } else {
      retry_after = std::max(std::chrono::seconds{1},
                             std::chrono::ceil<std::chrono::seconds>(w.start + limit.window - request.now));
    }
  }
  headers.emplace_back("X-RateLimit-Limit", std::to_string(limit.limit));
  headers.emplace_back("X-RateLimit-Remaining", std::to_string(remaining));
  if (!retry_after) return std::nullopt;
  // Laravel's ThrottleRequestsException: Retry-After and the Unix time the window ends.
  headers.emplace_back("Retry-After", std::to_string(retry_after->count()));
  const auto reset = std::chrono::duration_cast<std::chrono::seconds>(
      (std::chrono::system_clock::now() + *retry_after).time_since_epoch());
  headers.emplace_back("X-RateLimit-Reset", std::to_string(reset.count()));
  return message(429, "Too Many Attempts.", std::move(headers));
}

std::vector<std::size_t> Api::sample(std::size_t size) {
  const std::size_t n = data_->size();
  size = std::min(size, n);
  std::vector<std::size_t> chosen;
  if (n == 0) return chosen;
  std::lock_guard lock{rng_mutex_};
  std::uniform_int_distribution<std::size_t> pick{0, n - 1};
  while (chosen.size() < size) {
    const auto i = pick(rng_);
    if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) chosen.push_back(i);
  }
  return chosen;
}

Response Api::handle(const Request& request) {
  // As the real server orders it: routing (404) and method (405) first, then the rate limit of the
  // v1 routes (429; a 404 or 405 is not counted), then the endpoint. Cache-Control: the list, meta
  // and search routes' cache.headers, a brewery's longer one, Symfony's default elsewhere.
  Headers headers{{"Content-Type", "application/json"}, {"Access-Control-Allow-Origin", "*"}};
  const auto parsed = boost::urls::parse_uri_reference(request.target);
  if (!parsed) {
    headers.emplace_back("Cache-Control", "no-cache, private");
    return message(400, "Bad Request: malformed request target", std::move(headers));
  }
  const boost::urls::url_view url = *parsed;
  const auto path = segments(url);
  std::string route = std::string{url.encoded_path()};
  while (route.starts_with('/'))
    route.erase(0, 1);
  while (route.ends_with('/'))
    route.pop_back();
  if (!is_endpoint(url, path)) {
    headers.emplace_back("Cache-Control", "no-cache, private");
    return message(404, "The route " + route + " could not be found.", std::move(headers));
  }
  if (request.method == "OPTIONS") {  // Laravel's router answers it for any route, unthrottled
    return Response{200,
                    {{"Content-Type", "text/html; charset=utf-8"},
                     {"Access-Control-Allow-Origin", "*"},
                     {"Allow", "GET,HEAD"},
                     {"Cache-Control", "no-cache, private"}},
                    ""};
  }
  if (request.method != "GET" && request.method != "HEAD") {
    headers.emplace_back("Allow", "GET, HEAD");
    headers.emplace_back("Cache-Control", "no-cache, private");
    return message(405,
                   "The " + request.method + " method is not supported for route " + route +
                       ". Supported methods: GET, HEAD.",
                   std::move(headers));
  }
  const std::string what = path.size() == 3 ? path[2] : std::string{};
  if (auto limited = admit(request, headers)) {
    limited->headers.emplace_back("Cache-Control", "no-cache, private");
    return std::move(*limited);
  }
  const bool one_brewery =
      !what.empty() && what != "meta" && what != "random" && what != "search" && what != "autocomplete";
  headers.emplace_back("Cache-Control", what == "random" || what == "autocomplete" ? "no-cache, private"
                                        : one_brewery                              ? "max-age=86400, public"
                                                                                   : "max-age=300, public");
  const Query q{url};
  if (what.empty() || what == "meta" || what == "search") {  // the routes of cache.headers' etag
    Response r = what.empty()     ? list_breweries(*data_, json_, q, std::move(headers))
                 : what == "meta" ? meta(*data_, q, std::move(headers))
                                  : search(search_, json_, q, std::move(headers));
    return with_etag(std::move(r), request.if_none_match);
  }
  if (what == "random")
    return random_breweries(
        json_, q, [this](std::size_t size) { return sample(size); }, std::move(headers));
  if (what == "autocomplete") return autocomplete(request.origin, q, std::move(headers));
  return by_id(*data_, json_, what, std::move(headers));
}

}  // namespace parlab::brewery
