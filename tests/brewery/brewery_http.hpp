#pragma once
/// \file
/// The brewery tests' HTTP exchange over any Beast stream (plain or TLS), for the tests that drive
/// Beast themselves; brewery_support.hpp's Client and raw_exchange are built on it.

#include "brewery/brewery_support.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>

namespace parlab::test::brewery {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

/// Blocking socket operations fail after `timeout` instead of hanging the test.
inline void set_timeouts(tcp::socket& socket, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout.count());
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// Writes one request on `stream` and reads its response (the whole body, whatever its size).
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

}  // namespace parlab::test::brewery
