#pragma once
// Helpers of the brewery tests: where breweries.csv is, an independent reading of it (the oracle
// the API's answers are checked against), and small blocking HTTP clients with timeouts.

#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace parlab::test::brewery {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

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
inline std::vector<Row> read_rows(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::vector<std::string>> records(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      records.back().push_back(field);
      field.clear();
      records.emplace_back();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !records.back().empty()) records.back().push_back(field);
  if (records.back().empty()) records.pop_back();
  std::vector<Row> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    Row row;
    for (std::size_t c = 0; c < records[0].size() && c < records[r].size(); ++c)
      row[records[0][c]] = records[r][c];
    rows.push_back(std::move(row));
  }
  return rows;
}

/// `value LIKE '%v%'` through std::regex on ASCII-lowercased text (`_` any byte, `%` any run):
/// an oracle independent of parlab::brewery::like, exact for ASCII patterns.
class LikeOracle {
 public:
  explicit LikeOracle(const std::string& v) {
    std::string re = ".*";
    for (char c : v) {
      if (c == '%')
        re += ".*";
      else if (c == '_')
        re += '.';
      else if (std::isalnum(static_cast<unsigned char>(c)))
        re += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      else
        re += std::string{"\\"} + c;
    }
    re_ = std::regex{re + ".*"};
  }
  [[nodiscard]] bool operator()(const std::string& text) const {
    std::string lower = text;
    for (auto& c : lower)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return !text.empty() && std::regex_match(lower, re_);
  }

 private:
  std::regex re_;
};

/// Rows whose `column` is LIKE '%v%'.
inline std::size_t count_like(const std::vector<Row>& rows, const std::string& column, const std::string& v) {
  const LikeOracle like{v};
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [&](const Row& r) { return like(r.at(column)); }));
}

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

/// Blocking socket operations fail after `timeout` instead of hanging the test.
inline void set_timeouts(tcp::socket& socket, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout.count());
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

template <class Stream>
Reply exchange(Stream& stream, beast::flat_buffer& buffer, const std::string& method,
               const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
               unsigned version) {
  http::request<http::empty_body> req{http::string_to_verb(method), target, version};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, "localhost");
  for (const auto& [k, v] : headers)
    req.set(k, v);
  http::write(stream, req);
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buffer, parser);
  Reply reply;
  const auto& res = parser.get();
  reply.status = res.result_int();
  for (const auto& f : res) {
    std::string name{f.name_string()};
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    reply.headers[name] = std::string{f.value()};
  }
  reply.body = res.body();
  return reply;
}

/// A kept-alive HTTP/1.1 connection to 127.0.0.1:port; request() throws on I/O errors.
class Client {
 public:
  explicit Client(unsigned short port, std::chrono::seconds timeout = std::chrono::seconds{60})
      : socket_{io_} {
    socket_.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
    set_timeouts(socket_, timeout);
  }
  Reply request(const std::string& target, const std::string& method = "GET",
                const std::vector<std::pair<std::string, std::string>>& headers = {}, unsigned version = 11) {
    return exchange(socket_, buffer_, method, target, headers, version);
  }
  Reply get(const std::string& target) { return request(target); }
  tcp::socket& socket() { return socket_; }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

/// One GET on a fresh connection.
inline Reply get(unsigned short port, const std::string& target) { return Client{port}.get(target); }

/// Sends `bytes` on a fresh connection, half-closes it unless `keep_open`, and returns everything
/// received until the server closed (or `timeout`, or a reset).
inline std::string raw_exchange(unsigned short port, const std::string& bytes,
                                std::chrono::seconds timeout = std::chrono::seconds{60}) {
  net::io_context io;
  tcp::socket socket{io};
  socket.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
  set_timeouts(socket, timeout);
  boost::system::error_code ec;
  net::write(socket, net::buffer(bytes), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  std::string received;
  char chunk[4096];
  for (;;) {
    const auto n = socket.read_some(net::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
  }
  return received;
}

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
