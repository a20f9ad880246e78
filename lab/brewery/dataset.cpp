#include "lab/brewery/dataset.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace parlab::brewery {

namespace {

DatasetError error_at(const std::string& source, std::size_t line, const std::string& message) {
  return DatasetError{source + ":" + std::to_string(line) + ": " + message};
}

/// Splits RFC 4180 text into records; calls on_record(fields, first line of the record).
/// Blank lines are skipped.
template <class OnRecord>
void read_csv(std::string_view text, const std::string& source, OnRecord&& on_record) {
  std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  std::size_t line = 1;
  std::vector<std::string> fields;
  std::string field;
  const auto at_field_end = [&] {
    return i >= text.size() || text[i] == ',' || text[i] == '\r' || text[i] == '\n';
  };
  while (i < text.size()) {
    const std::size_t record_line = line;
    fields.clear();
    for (;;) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size()) throw error_at(source, record_line, "a quoted field is not closed");
          const char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        if (!at_field_end()) throw error_at(source, line, "text after a closing quote");
      } else {
        while (!at_field_end()) {
          if (text[i] == '"') throw error_at(source, line, "a quote inside an unquoted field");
          field += text[i++];
        }
      }
      fields.push_back(field);
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (i < text.size()) {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;
    on_record(fields, record_line);
  }
}

std::optional<std::string> nullable(std::string value) {
  if (value.empty()) return std::nullopt;
  return value;
}

std::optional<double> coordinate(const std::string& value, const std::string& source, std::size_t line,
                                 Column column) {
  if (value.empty()) return std::nullopt;
  double x = 0;
  const auto* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, x);
  if (ec != std::errc{} || ptr != end || !std::isfinite(x))
    throw error_at(source, line, std::string{column_name(column)} + " '" + value + "' is not a number");
  return x;
}

bool readable_file(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), R_OK) == 0;
}

}  // namespace

std::string_view column_name(Column column) {
  switch (column) {
    case Column::id:
      return "id";
    case Column::name:
      return "name";
    case Column::brewery_type:
      return "brewery_type";
    case Column::address_1:
      return "address_1";
    case Column::address_2:
      return "address_2";
    case Column::address_3:
      return "address_3";
    case Column::city:
      return "city";
    case Column::state_province:
      return "state_province";
    case Column::postal_code:
      return "postal_code";
    case Column::country:
      return "country";
    case Column::longitude:
      return "longitude";
    case Column::latitude:
      return "latitude";
    case Column::phone:
      return "phone";
    case Column::website_url:
      return "website_url";
  }
  return "";
}

std::optional<std::string_view> Brewery::text(Column column) const {
  const std::optional<std::string>* value = nullptr;
  switch (column) {
    case Column::id:
      return std::string_view{id};
    case Column::name:
      value = &name;
      break;
    case Column::brewery_type:
      value = &brewery_type;
      break;
    case Column::address_1:
      value = &address_1;
      break;
    case Column::address_2:
      value = &address_2;
      break;
    case Column::address_3:
      value = &address_3;
      break;
    case Column::city:
      value = &city;
      break;
    case Column::state_province:
      value = &state_province;
      break;
    case Column::postal_code:
      value = &postal_code;
      break;
    case Column::country:
      value = &country;
      break;
    case Column::phone:
      value = &phone;
      break;
    case Column::website_url:
      value = &website_url;
      break;
    case Column::longitude:
    case Column::latitude:
      return std::nullopt;
  }
  if (!value || !*value) return std::nullopt;
  return std::string_view{**value};
}

Dataset Dataset::parse(std::string_view csv, std::string source) {
  Dataset data;
  data.source_ = std::move(source);
  std::array<std::size_t, all_columns.size()> index{};
  std::size_t width = 0;
  bool header = true;
  read_csv(csv, data.source_, [&](std::vector<std::string>& fields, std::size_t line) {
    if (header) {
      header = false;
      width = fields.size();
      for (std::size_t c = 0; c < all_columns.size(); ++c) {
        const auto name = column_name(all_columns[c]);
        std::size_t k = 0;
        while (k < fields.size() && fields[k] != name)
          ++k;
        if (k == fields.size())
          throw error_at(data.source_, line,
                         "the header has no column '" + std::string{name} +
                             "' (is this the Open Brewery DB breweries.csv?)");
        index[c] = k;
      }
      return;
    }
    if (fields.size() != width)
      throw error_at(data.source_, line,
                     "expected " + std::to_string(width) + " fields, found " + std::to_string(fields.size()));
    const auto field = [&](Column c) -> std::string& { return fields[index[static_cast<std::size_t>(c)]]; };
    Brewery b;
    b.id = field(Column::id);
    if (b.id.empty()) throw error_at(data.source_, line, "empty id");
    b.name = nullable(field(Column::name));
    b.brewery_type = nullable(field(Column::brewery_type));
    b.address_1 = nullable(field(Column::address_1));
    b.address_2 = nullable(field(Column::address_2));
    b.address_3 = nullable(field(Column::address_3));
    b.city = nullable(field(Column::city));
    b.state_province = nullable(field(Column::state_province));
    b.postal_code = nullable(field(Column::postal_code));
    b.country = nullable(field(Column::country));
    b.longitude = coordinate(field(Column::longitude), data.source_, line, Column::longitude);
    b.latitude = coordinate(field(Column::latitude), data.source_, line, Column::latitude);
    b.phone = nullable(field(Column::phone));
    b.website_url = nullable(field(Column::website_url));
    if (!data.by_id_.emplace(b.id, data.breweries_.size()).second)
      throw error_at(data.source_, line, "duplicate id '" + b.id + "'");
    data.breweries_.push_back(std::move(b));
  });
  if (header) throw DatasetError{data.source_ + ": empty file (no header)"};
  return data;
}

Dataset Dataset::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw DatasetError{file.string() + ": is a folder, not a CSV file"};
  std::ifstream in{file, std::ios::binary};
  if (!in) throw DatasetError{"cannot read " + file.string() + ": " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw DatasetError{"cannot read " + file.string()};
  return parse(text.str(), file.string());
}

const Brewery* Dataset::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &breweries_[it->second];
}

DataSearch DataSearch::from_environment() {
  DataSearch s;
  if (const char* v = std::getenv("PARLAB_BREWERY_CSV")) s.env = v;
  if (const char* v = std::getenv("XDG_DATA_HOME")) s.xdg_data_home = v;
  if (const char* v = std::getenv("HOME")) s.home = v;
  if (const char* v = std::getenv("XDG_DATA_DIRS")) s.xdg_data_dirs = v;
  std::error_code ec;
  s.cwd = std::filesystem::current_path(ec);
  if (const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec); !ec)
    s.program_dir = exe.parent_path();
#ifdef PARLAB_BREWERY_CSV_DEFAULT
  s.build_default = PARLAB_BREWERY_CSV_DEFAULT;
#endif
  return s;
}

std::string_view installed_data_dir() { return PARLAB_INSTALLED_DATA_DIR; }

std::vector<std::filesystem::path> dataset_candidates(const DataSearch& search) {
  if (!search.flag.empty()) return {search.flag};
  if (!search.env.empty()) return {search.env};
  std::vector<std::filesystem::path> out;
  const auto add = [&](const std::filesystem::path& p) {
    for (const auto& q : out)
      if (q == p) return;
    out.push_back(p);
  };
  constexpr const char* file = "breweries.csv";
  if (!search.cwd.empty()) add(search.cwd / file);
  if (!search.xdg_data_home.empty()) add(std::filesystem::path{search.xdg_data_home} / "parlab" / file);
  if (!search.home.empty()) add(std::filesystem::path{search.home} / ".local/share/parlab" / file);
  if (!search.program_dir.empty()) add((search.program_dir / installed_data_dir() / file).lexically_normal());
  const std::string_view dirs = search.xdg_data_dirs.empty() ? std::string_view{"/usr/local/share:/usr/share"}
                                                             : std::string_view{search.xdg_data_dirs};
  for (std::size_t begin = 0; begin <= dirs.size();) {
    const auto end = std::min(dirs.find(':', begin), dirs.size());
    const std::filesystem::path dir{dirs.substr(begin, end - begin)};
    if (dir.is_absolute()) add(dir / "parlab" / file);
    begin = end + 1;
  }
  if (!search.build_default.empty()) add(search.build_default);
  return out;
}

std::filesystem::path locate_dataset(const DataSearch& search) {
  const auto candidates = dataset_candidates(search);
  for (const auto& p : candidates)
    if (readable_file(p)) return p;
  if (!search.flag.empty()) throw DatasetError{"--data " + search.flag + ": no such readable file"};
  if (!search.env.empty()) throw DatasetError{"PARLAB_BREWERY_CSV=" + search.env + ": no such readable file"};
  std::string tried;
  for (const auto& p : candidates)
    tried += (tried.empty() ? "" : ", ") + p.string();
  throw DatasetError{"no breweries.csv found (looked for " + tried +
                     "); pass --data FILE or set PARLAB_BREWERY_CSV (the project ships the file in "
                     "data/openbrewerydb/; scripts/fetch-brewery-data downloads it)"};
}

}  // namespace parlab::brewery
