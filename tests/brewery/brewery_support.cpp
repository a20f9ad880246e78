#include "brewery/brewery_support.hpp"

#include "brewery/brewery_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

namespace parlab::test::brewery {

std::vector<Row> read_rows(const std::filesystem::path& file) {
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

struct LikeOracle::Pattern {
  std::regex re;
};

LikeOracle::LikeOracle(const std::string& v) {
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
  pattern_ = std::make_unique<Pattern>(Pattern{std::regex{re + ".*"}});
}
LikeOracle::LikeOracle(LikeOracle&&) noexcept = default;
LikeOracle::~LikeOracle() = default;

bool LikeOracle::operator()(const std::string& text) const {
  std::string lower = text;
  for (auto& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return !text.empty() && std::regex_match(lower, pattern_->re);
}

std::size_t count_like(const std::vector<Row>& rows, const std::string& column, const std::string& v) {
  const LikeOracle like{v};
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [&](const Row& r) { return like(r.at(column)); }));
}

struct Client::Connection {
  net::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
};

Client::Client(unsigned short port, std::chrono::seconds timeout) : connection_{std::make_unique<Connection>()} {
  connection_->socket.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
  set_timeouts(connection_->socket, timeout);
}
Client::Client(Client&&) noexcept = default;
Client::~Client() = default;

Reply Client::request(const std::string& target, const std::string& method,
                      const std::vector<std::pair<std::string, std::string>>& headers, unsigned version) {
  return exchange(connection_->socket, connection_->buffer, method, target, headers, version);
}

Reply get(unsigned short port, const std::string& target) { return Client{port}.get(target); }

std::string raw_exchange(unsigned short port, const std::string& bytes, std::chrono::seconds timeout) {
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

}  // namespace parlab::test::brewery
