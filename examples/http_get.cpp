// http_get: parlab::http, the async HTTP(S) client, against a small server that this program
// starts on 127.0.0.1, so it runs offline. It shows query parameters and header fields, keep-alive
// reuse, a 503 retried as Retry-After says, a final 404 turned into an HttpError, a gather of
// GETs through the per-host connection cap, and the blocking facade for serial code.
//
// Every line printed is fixed (the server's port is never printed), and the program checks its
// own results (exit 1 on a wrong one).

#include "check.hpp"

#include <parlab/aio.hpp>
#include <parlab/http.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace http = parlab::http;
namespace aio = parlab::aio;
using namespace std::chrono_literals;

namespace {

namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// The stand-in for a real API: HTTP/1.1 on 127.0.0.1 and a free port, on its own thread.
//   /breweries  200, echoes the request target and its Accept field as JSON
//   /flaky      503 with "Retry-After: 0" the first time, then 200
//   otherwise   404
class DemoServer {
 public:
  DemoServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept(), [](const std::exception_ptr&) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;
  ~DemoServer() {
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  bhttp::response<bhttp::string_body> answer(const bhttp::request<bhttp::string_body>& request) {
    const std::string target{request.target()};
    bhttp::response<bhttp::string_body> response{bhttp::status::ok, request.version()};
    if (target.starts_with("/breweries")) {
      response.set(bhttp::field::content_type, "application/json");
      response.body() = "{\"target\": \"" + target + "\", \"accept\": \"" +
                        std::string(request[bhttp::field::accept]) + "\"}";
    } else if (target == "/flaky" && ++flaky_calls_ == 1) {
      response.result(bhttp::status::service_unavailable);
      response.set(bhttp::field::retry_after, "0");
    } else if (target == "/flaky") {
      response.body() = "recovered";
    } else {
      response.result(bhttp::status::not_found);
      response.body() = "no such page";
    }
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
  }

  boost::asio::awaitable<void> serve(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
      bhttp::request<bhttp::string_body> request;
      co_await bhttp::async_read(socket, buffer, request,
                                 boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) co_return;
      auto response = answer(request);
      co_await bhttp::async_write(socket, response,
                                  boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec || !response.keep_alive()) co_return;
    }
  }

  boost::asio::awaitable<void> accept() {
    for (;;) {
      tcp::socket socket = co_await acceptor_.async_accept(boost::asio::use_awaitable);
      boost::asio::co_spawn(io_, serve(std::move(socket)), [](const std::exception_ptr&) {});
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  int flaky_calls_ = 0;  // used on the server's thread only
  std::thread thread_;
};

aio::Task<void> fetch_all(std::string base) {
  const aio::Executor loop = co_await aio::this_loop();
  http::ClientOptions options;
  options.total_timeout = 10s;  // per request, retries included
  options.max_attempts = 3;
  options.max_connections_per_host = 2;
  http::Client client{loop, options};

  // Python: requests.get(url, params={...}, headers={...}); the client percent-encodes the params.
  http::Params params{{"by_state", "new york"}, {"per_page", "3"}};
  http::Headers headers{{"Accept", "application/json"}};
  http::Response r = co_await client.get(base + "/breweries", std::move(params), std::move(headers));
  r.raise_for_status();  // a final non-2xx status is returned; this turns it into an HttpError
  std::cout << r.status << ' ' << r.header("Content-Type").value_or("?") << ' ' << r.body << '\n';

  // 503 with Retry-After: the client waits as told, then tries again (GET is idempotent).
  http::Response flaky = co_await client.get(base + "/flaky");
  std::cout << "/flaky: " << flaky.status << " after " << flaky.attempts << " attempts: " << flaky.body
            << '\n';

  // 404 is final: no retry, no exception until raise_for_status().
  http::Response missing = co_await client.get(base + "/missing");
  std::cout << "/missing: " << missing.status << " after " << missing.attempts << " attempt\n";
  try {
    missing.raise_for_status();
  } catch (const http::HttpError& e) {
    std::cout << "HttpError: kind " << http::to_string(e.kind()) << ", status " << e.status() << '\n';
  }

  // Keep-alive: the four requests so far went over one connection.
  const http::ClientStats stats = client.stats();
  std::cout << "requests sent: " << stats.requests_sent
            << ", connections opened: " << stats.connections_opened << '\n';
  check(r.body.find("by_state=new%20york&per_page=3") != std::string::npos, "encoded query");
  check(r.body.find("application/json") != std::string::npos, "Accept field");
  check(r.ok() && flaky.ok() && flaky.attempts == 2 && missing.status == 404, "statuses");
  check(stats.requests_sent == 4 && stats.connections_opened == 1, "keep-alive");

  // Python: asyncio.gather(*gets); at most max_connections_per_host (2) connections at a time.
  std::vector<aio::Task<http::Response>> pages;
  for (int page = 1; page <= 4; ++page) {
    pages.push_back(client.get(base + "/breweries", {{"page", std::to_string(page)}}));
  }
  std::vector<http::Response> responses = co_await aio::gather(std::move(pages));
  for (const http::Response& page : responses)
    std::cout << page.body << '\n';
  check(responses.size() == 4 && responses[3].body.find("page=4") != std::string::npos, "gather order");
  check(client.stats().connections_opened <= 2, "connection cap");
}

}  // namespace

int main() {
  DemoServer server;
  const std::string base = server.base_url();
  aio::run(fetch_all(base));

  // Serial code: SyncClient runs its own event loop during each call and keeps its connections.
  http::SyncClient sync;
  http::Response first = sync.get(base + "/breweries", {{"page", "1"}});
  http::Response second = sync.get(base + "/breweries", {{"page", "2"}});
  std::cout << "blocking: " << first.status << ' ' << second.status
            << ", connections opened: " << sync.stats().connections_opened << '\n';
  check(first.ok() && second.ok() && sync.stats().connections_opened == 1, "blocking facade");

  // One call, one connection: Python's requests.get(url).
  http::Response once = http::get(base + "/flaky");
  std::cout << "http::get: " << once.status << ' ' << once.body << '\n';
  check(once.body == "recovered", "http::get");
}
