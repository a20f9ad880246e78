#include "lab/brewery/api.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
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

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Response json_response(unsigned status, std::string body, Headers headers) {
  return Response{status, std::move(headers), std::move(body)};
}

Response message(unsigned status, const std::string& text, Headers headers) {
  return json_response(status, dump(Json{{"message", text}}), std::move(headers));
}

/// All digits, no sign; too large for 64 bits gives the largest value.
std::optional<std::uint64_t> parse_count(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<std::uint64_t>::max();
  return v;
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

/// The query string's parameters, decoded (`%XX`, and `+` as a space); the first of a repeated
/// key wins.
class Query {
 public:
  explicit Query(boost::urls::url_view url) {
    for (auto p : url.params(boost::urls::encoding_opts{true}))
      params_.emplace_back(std::move(p.key), p.has_value ? std::move(p.value) : std::string{});
  }
  [[nodiscard]] const std::string* get(std::string_view key) const {
    for (const auto& [k, v] : params_)
      if (k == key) return &v;
    return nullptr;
  }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

/// Validation errors, by parameter, in the order found: a 422 when any.
class Errors {
 public:
  void add(const std::string& field, const std::string& text) {
    errors_[field].push_back(text);
    messages_.push_back(field + " " + text);
  }
  [[nodiscard]] bool empty() const { return messages_.empty(); }
  [[nodiscard]] Response response(Headers headers) const {
    std::string text = messages_.front();
    if (messages_.size() > 1)
      text += " (and " + std::to_string(messages_.size() - 1) + " more error" +
              (messages_.size() > 2 ? "s" : "") + ")";
    Json body{{"message", text}, {"errors", errors_}};
    return json_response(422, dump(body), std::move(headers));
  }

 private:
  Json errors_ = Json::object();
  std::vector<std::string> messages_;
};

struct Paging {
  std::uint64_t page = 1;
  std::uint64_t per_page = per_page_default;
};

Paging parse_paging(const Query& q, Errors& errors) {
  Paging p;
  if (const auto* v = q.get("per_page")) {
    const auto n = parse_count(*v);
    if (!n || *n < 1 || *n > per_page_max)
      errors.add("per_page", "must be an integer from 1 to " + std::to_string(per_page_max));
    else
      p.per_page = *n;
  }
  if (const auto* v = q.get("page")) {
    const auto n = parse_count(*v);
    if (!n || *n < 1)
      errors.add("page", "must be an integer of at least 1");
    else
      p.page = *n;
  }
  return p;
}

std::optional<std::string> parse_text(const Query& q, const std::string& key, Errors& errors) {
  const auto* v = q.get(key);
  if (!v) return std::nullopt;
  const auto n = characters(*v);
  if (n < text_min || n > text_max) {
    errors.add(
        key, "must be " + std::to_string(text_min) + " to " + std::to_string(text_max) + " characters long");
    return std::nullopt;
  }
  return *v;
}

struct Filters {
  std::vector<std::pair<Column, std::string>> patterns;  // "%value%"
  std::optional<std::vector<std::string>> types;
  std::optional<std::vector<std::string>> excluded;
  std::optional<std::unordered_set<std::string>> ids;

  [[nodiscard]] bool matches(const Brewery& b) const {
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

std::optional<std::vector<std::string>> parse_types(const Query& q, const std::string& key, Errors& errors) {
  const auto* v = q.get(key);
  if (!v) return std::nullopt;
  auto items = split(*v, ',');
  for (const auto& item : items) {
    if (std::find(type_names.begin(), type_names.end(), item) == type_names.end()) {
      errors.add(key, "has an unknown brewery type '" + item + "' (expected a comma-separated list of " +
                          fmt::format("{}", fmt::join(type_names, ", ")) + ")");
      return std::nullopt;
    }
  }
  return items;
}

Filters parse_filters(const Query& q, Errors& errors) {
  Filters f;
  static const std::array<std::pair<const char*, Column>, 5> text_filters{
      {{"by_city", Column::city},
       {"by_country", Column::country},
       {"by_name", Column::name},
       {"by_postal", Column::postal_code},
       {"by_state", Column::state_province}}};
  for (const auto& [key, column] : text_filters)
    if (auto v = parse_text(q, key, errors)) f.patterns.emplace_back(column, "%" + *v + "%");
  f.types = parse_types(q, "by_type", errors);
  f.excluded = parse_types(q, "exclude_types", errors);
  if (const auto* v = q.get("by_ids")) {
    std::unordered_set<std::string> ids;
    for (auto& id : split(*v, ','))
      if (!id.empty()) ids.insert(std::move(id));
    if (ids.empty())
      errors.add("by_ids", "must be a comma-separated list of brewery ids");
    else
      f.ids = std::move(ids);
  }
  return f;
}

struct SortKey {
  Column column;
  bool descending;
};

std::vector<SortKey> parse_sort(const Query& q, Errors& errors) {
  std::vector<SortKey> keys;
  const auto* v = q.get("sort");
  if (!v) return keys;
  static const std::array<std::pair<std::string_view, Column>, 8> fields{
      {{"id", Column::id},
       {"name", Column::name},
       {"brewery_type", Column::brewery_type},
       {"type", Column::brewery_type},
       {"city", Column::city},
       {"state_province", Column::state_province},
       {"postal_code", Column::postal_code},
       {"country", Column::country}}};
  for (const auto& item : split(*v, ',')) {
    const auto colon = item.find(':');
    const std::string field = item.substr(0, colon);
    std::string direction = colon == std::string::npos ? "asc" : item.substr(colon + 1);
    std::transform(direction.begin(), direction.end(), direction.begin(), fold);
    const auto it =
        std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == field; });
    if (it == fields.end()) {
      errors.add("sort", "cannot sort by '" + field +
                             "' (sortable: id, name, brewery_type, type, city, state_province, postal_code, "
                             "country)");
      return {};
    }
    if (direction != "asc" && direction != "desc") {
      errors.add("sort",
                 "has direction '" + item.substr(colon + 1) + "' for " + field + " (use asc or desc)");
      return {};
    }
    keys.push_back({it->second, direction == "desc"});
  }
  return keys;
}

/// SQLite's ORDER BY on text: bytewise, NULL first ascending and last descending; ties keep
/// the dataset's order.
void sort_rows(const Dataset& data, std::vector<std::size_t>& rows, const std::vector<SortKey>& keys) {
  if (keys.empty()) return;
  const auto& all = data.breweries();
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    for (const auto& key : keys) {
      const auto x = all[a].text(key.column);
      const auto y = all[b].text(key.column);
      if (x == y) continue;
      const bool less = !x || (y && *x < *y);
      return key.descending ? !less : less;
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
  Errors errors;
  const auto filters = parse_filters(q, errors);
  const auto paging = parse_paging(q, errors);
  const auto keys = parse_sort(q, errors);
  if (!errors.empty()) return errors.response(std::move(headers));
  auto rows = select(data, filters);
  sort_rows(data, rows, keys);
  return page_of(json, rows, paging, std::move(headers));
}

/// GET /v1/breweries/meta: how many breweries match the filters, by state, country and type.
Response meta(const Dataset& data, const Query& q, Headers headers) {
  Errors errors;
  const auto filters = parse_filters(q, errors);
  const auto paging = parse_paging(q, errors);
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
  return json_response(200, dump(body), std::move(headers));
}

/// The `size` of GET /v1/breweries/random: 1 when absent.
std::uint64_t parse_random_size(const Query& q, Errors& errors) {
  const auto* v = q.get("size");
  if (!v) return 1;
  const auto n = parse_count(*v);
  if (!n || *n < 1 || *n > random_max) {
    errors.add("size", "must be an integer from 1 to " + std::to_string(random_max));
    return 1;
  }
  return *n;
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

/// GET /v1/breweries/search?query=: one page of the breweries whose name, city, state, postal
/// code or country contains the query.
Response search(const Dataset& data, const std::vector<std::string>& json, const Query& q, Headers headers) {
  Errors errors;
  const auto query = parse_text(q, "query", errors);
  if (!query && errors.empty()) errors.add("query", "is required");
  const auto paging = parse_paging(q, errors);
  if (!errors.empty()) return errors.response(std::move(headers));
  const std::string pattern = "%" + *query + "%";
  std::vector<std::size_t> rows;
  constexpr std::array searched{Column::name, Column::city, Column::state_province, Column::postal_code,
                                Column::country};
  const auto& all = data.breweries();
  for (std::size_t i = 0; i < all.size(); ++i)
    if (std::any_of(searched.begin(), searched.end(), [&](Column c) {
          const auto v = all[i].text(c);
          return v && like(*v, pattern);
        }))
      rows.push_back(i);
  return page_of(json, rows, paging, std::move(headers));
}

/// GET /v1/breweries/{id}: one brewery, or a 404.
Response by_id(const Dataset& data, const std::vector<std::string>& json, const std::string& id,
               Headers headers) {
  const auto* b = data.find(id);
  if (!b) return message(404, "Couldn't find Brewery", std::move(headers));
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
    : data_{std::move(data)}, options_{options}, rng_{options.seed} {
  if (!data_) throw std::invalid_argument{"parlab::brewery::Api needs a dataset"};
  const auto text = [](const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); };
  const auto number = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
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
    json_.push_back(dump(j));
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
  headers.emplace_back("Retry-After", std::to_string(retry_after->count()));
  return message(429,
                 "Too Many Requests: the limit is " + std::to_string(limit.limit) + " requests per " +
                     std::to_string(limit.window.count()) + " s; retry after " +
                     std::to_string(retry_after->count()) + " s",
                 std::move(headers));
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
  Headers headers{{"Content-Type", "application/json; charset=utf-8"}, {"Access-Control-Allow-Origin", "*"}};
  if (auto limited = admit(request, headers)) return std::move(*limited);
  if (request.method != "GET" && request.method != "HEAD") {
    headers.emplace_back("Allow", "GET, HEAD");
    return message(405, "Method Not Allowed: use GET or HEAD", std::move(headers));
  }
  const auto parsed = boost::urls::parse_uri_reference(request.target);
  if (!parsed) return message(400, "Bad Request: malformed request target", std::move(headers));
  const boost::urls::url_view url = *parsed;
  const auto path = segments(url);
  if (!is_endpoint(url, path))
    return message(404, "Not Found: " + std::string{url.path()} + " is not an endpoint of this API",
                   std::move(headers));
  const Query q{url};
  if (path.size() == 2) return list_breweries(*data_, json_, q, std::move(headers));
  const std::string& what = path[2];
  if (what == "meta") return meta(*data_, q, std::move(headers));
  if (what == "random")
    return random_breweries(
        json_, q, [this](std::size_t size) { return sample(size); }, std::move(headers));
  if (what == "search") return search(*data_, json_, q, std::move(headers));
  return by_id(*data_, json_, what, std::move(headers));
}

}  // namespace parlab::brewery
