#pragma once
/// \file
/// The Open Brewery DB dataset (breweries.csv): an RFC 4180 CSV loader and where to find the file.

#include <array>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parlab::brewery {

/// A column of breweries.csv, in the order the API returns a brewery's fields.
enum class Column {
  id,
  name,
  brewery_type,
  address_1,
  address_2,
  address_3,
  city,
  state_province,
  postal_code,
  country,
  longitude,
  latitude,
  phone,
  website_url,
};

/// Every column, in that order.
inline constexpr std::array all_columns{
    Column::id,        Column::name,     Column::brewery_type,   Column::address_1,   Column::address_2,
    Column::address_3, Column::city,     Column::state_province, Column::postal_code, Column::country,
    Column::longitude, Column::latitude, Column::phone,          Column::website_url};

/// The column's name in the CSV header and in the API ("state_province", ...).
[[nodiscard]] std::string_view column_name(Column column);

/// One brewery. An empty CSV field is std::nullopt (JSON null); the id is never empty.
struct Brewery {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> brewery_type;
  std::optional<std::string> address_1;
  std::optional<std::string> address_2;
  std::optional<std::string> address_3;
  std::optional<std::string> city;
  std::optional<std::string> state_province;
  std::optional<std::string> postal_code;
  std::optional<std::string> country;
  std::optional<double> longitude;
  std::optional<double> latitude;
  std::optional<std::string> phone;
  std::optional<std::string> website_url;

  /// A text column's value (the id included); nullopt for null and for longitude/latitude.
  [[nodiscard]] std::optional<std::string_view> text(Column column) const;
};

/// The CSV could not be read or is not the Open Brewery DB format; what() names the file and line.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The breweries of one CSV file, in file order, with an index by id. Immutable once loaded.
class Dataset {
 public:
  /// Parses CSV text (RFC 4180: quoted fields, "" escapes, CRLF or LF, optional UTF-8 BOM and
  /// final newline). The header must name every Column (in any order; other columns are
  /// ignored); ids must be unique and non-empty; longitude/latitude empty or a finite number.
  /// `source` names the text in error messages. Throws DatasetError.
  [[nodiscard]] static Dataset parse(std::string_view csv, std::string source = "<memory>");
  /// Reads and parses `file`. Throws DatasetError (also when the file cannot be read).
  [[nodiscard]] static Dataset load(const std::filesystem::path& file);

  /// Every brewery, in file order (the API's default order).
  [[nodiscard]] const std::vector<Brewery>& breweries() const { return breweries_; }
  /// Number of breweries.
  [[nodiscard]] std::size_t size() const { return breweries_.size(); }
  /// The brewery with this id, or nullptr.
  [[nodiscard]] const Brewery* find(std::string_view id) const;
  /// Where the data came from (the file's path, or the `source` given to parse).
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::vector<Brewery> breweries_;
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> by_id_;
  std::string source_;
};

/// Where locate_dataset looks for breweries.csv; from_environment() fills it for this process.
struct DataSearch {
  std::string flag;                     ///< --data FILE; when set, the only candidate
  std::string env;                      ///< $PARLAB_BREWERY_CSV; when set, the only other candidate
  std::filesystem::path cwd;            ///< ./breweries.csv
  std::string xdg_data_home;            ///< $XDG_DATA_HOME/parlab/breweries.csv
  std::string home;                     ///< $HOME/.local/share/parlab/breweries.csv
  std::filesystem::path program_dir;    ///< the running program's folder: the installed copy beside it
  std::string xdg_data_dirs;            ///< $XDG_DATA_DIRS; empty: /usr/local/share:/usr/share
  std::filesystem::path build_default;  ///< the PARLAB_BREWERY_CSV this build was configured with

  /// The search of this process: no flag, its environment, current folder, the folder of
  /// /proc/self/exe and the build default.
  [[nodiscard]] static DataSearch from_environment();
};

/// Where an installed parlab keeps breweries.csv, relative to the folder of its program:
/// "../share/parlab" (from the build's CMAKE_INSTALL_BINDIR and CMAKE_INSTALL_DATADIR).
[[nodiscard]] std::string_view installed_data_dir();

/// The candidate paths in search order: the flag alone if given; else $PARLAB_BREWERY_CSV alone if
/// set; else ./breweries.csv, $XDG_DATA_HOME/parlab/, ~/.local/share/parlab/, the installed copy
/// (program_dir/installed_data_dir()/), each $XDG_DATA_DIRS entry's parlab/ (each breweries.csv),
/// then the build's default. Relative $XDG_DATA_DIRS entries are ignored, as the XDG spec says.
[[nodiscard]] std::vector<std::filesystem::path> dataset_candidates(const DataSearch& search);

/// The first candidate that is a readable file. Throws DatasetError naming what was tried, --data,
/// $PARLAB_BREWERY_CSV and scripts/fetch-brewery-data when there is none.
[[nodiscard]] std::filesystem::path locate_dataset(const DataSearch& search);

}  // namespace parlab::brewery
