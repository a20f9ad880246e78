#pragma once
/// \file
/// Helpers of the brewery tests: where breweries.csv is, an independent reading of it (the oracle
/// the API's answers are checked against), and small blocking HTTP clients with timeouts.
/// Implemented in brewery_support.cpp, compiled once into the tests' support library, so no test
/// file pays for Beast's templates unless it uses Beast itself (brewery_http.hpp).

#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parlab::test::brewery {

/// The breweries.csv the tests read: $PARLAB_BREWERY_CSV, else the build's PARLAB_BREWERY_CSV (the
/// project's data/openbrewerydb/breweries.csv unless configured otherwise).
inline std::filesystem::path csv_candidate() {
  if (const char* env = std::getenv("PARLAB_BREWERY_CSV"); env != nullptr && *env != '\0') return env;
  return PARLAB_BREWERY_CSV_DEFAULT;
}

/// csv_candidate() if it is a file, else nullopt.
inline std::optional<std::filesystem::path> csv_path() {
  const auto p = csv_candidate();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  return p;
}

/// Why a test that needs the dataset fails when csv_path() finds none: the data ships with the
/// project, so its absence is a broken checkout or configuration, never a reason to skip.
inline std::string missing_csv() {
  return "breweries.csv not found at " + csv_candidate().string() +
         ": the project ships it in data/openbrewerydb/ (restore it, or point PARLAB_BREWERY_CSV at a copy)";
}

/// One CSV row as column name -> text, read independently of parlab::brewery::Dataset.
using Row = std::map<std::string, std::string>;

/// A deliberately simple reader: quoted fields with "" escapes; records end at an unquoted LF
/// (a CR before it is dropped).
std::vector<Row> read_rows(const std::filesystem::path& file);

/// `value LIKE '%v%'` through std::regex on ASCII-lowercased text (`_` any byte, `%` any run):
/// an oracle independent of parlab::brewery::like, exact for ASCII patterns.
class LikeOracle {
 public:
  explicit LikeOracle(const std::string& v);
  LikeOracle(LikeOracle&&) noexcept;
  ~LikeOracle();
  [[nodiscard]] bool operator()(const std::string& text) const;

 private:
  struct Pattern;
  std::unique_ptr<Pattern> pattern_;
};

/// Rows whose `column` is LIKE '%v%'.
std::size_t count_like(const std::vector<Row>& rows, const std::string& column, const std::string& v);

/// A parsed HTTP response: status, headers (lower-case names) and body.
struct Reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

/// A kept-alive HTTP/1.1 connection to 127.0.0.1:port; request() throws on I/O errors.
class Client {
 public:
  explicit Client(unsigned short port, std::chrono::seconds timeout = std::chrono::seconds{60});
  Client(Client&&) noexcept;
  ~Client();
  Reply request(const std::string& target, const std::string& method = "GET",
                const std::vector<std::pair<std::string, std::string>>& headers = {}, unsigned version = 11);
  Reply get(const std::string& target) { return request(target); }

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

/// One GET on a fresh connection.
Reply get(unsigned short port, const std::string& target);

/// Sends `bytes` on a fresh connection, half-closes it, and returns everything received until the
/// server closed (or `timeout`, or a reset).
std::string raw_exchange(unsigned short port, const std::string& bytes,
                         std::chrono::seconds timeout = std::chrono::seconds{60});

/// A fixture whose suite loads the dataset once (each test fails without it) and starts replicas.
class ReplicaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (const auto path = csv_path()) {
      data_ = new std::shared_ptr<const parlab::brewery::Dataset>(
          std::make_shared<const parlab::brewery::Dataset>(parlab::brewery::Dataset::load(*path)));
      rows_ = new std::vector<Row>(read_rows(*path));
    }
  }
  static void TearDownTestSuite() {
    delete data_;
    delete rows_;
    data_ = nullptr;
    rows_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(data_, nullptr) << missing_csv(); }

  /// A quick replica: no latency, no rate limit, no faults; tests change what they exercise.
  static parlab::brewery::ServerOptions quick() {
    parlab::brewery::ServerOptions o;
    o.data = *data_;
    o.threads = 2;
    o.latency = std::chrono::milliseconds{0};
    o.jitter = std::chrono::milliseconds{0};
    o.rate_limit = std::nullopt;
    return o;
  }
  static std::unique_ptr<parlab::brewery::ReplicaServer> start(parlab::brewery::ServerOptions o) {
    auto server = std::make_unique<parlab::brewery::ReplicaServer>(std::move(o));
    server->start();
    return server;
  }

  static inline std::shared_ptr<const parlab::brewery::Dataset>* data_ = nullptr;
  static inline std::vector<Row>* rows_ = nullptr;
};

}  // namespace parlab::test::brewery
