// The replica server over real sockets: keep-alive, HEAD, 1,000 concurrent connections, the rate
// limit, each injected fault, latency, 10,000 malformed requests (then still correct), slowloris,
// TLS, and start/stop errors.
#include "brewery/brewery_http.hpp"
#include "lab/brewery/replica_server.hpp"
#include "support/files.hpp"
#include "support/self_signed.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace parlab::brewery;
namespace tb = parlab::test::brewery;
namespace net = tb::net;
namespace http = tb::http;
using tb::tcp;
using Json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ReplicaServerTest : public tb::ReplicaTest {
 protected:
  static const tb::Row& row(std::size_t i) { return (*rows_)[i % rows_->size()]; }
};

std::string status_line(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

TEST_F(ReplicaServerTest, ServesTheApiOnAKeptAliveConnection) {
  auto server = start(quick());
  EXPECT_TRUE(server->running());
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(server->port()));
  tb::Client client{server->port()};
  const auto meta = client.get("/v1/breweries/meta?by_state=virginia");
  ASSERT_EQ(meta.status, 200U) << meta.body;
  EXPECT_EQ(meta.header("content-type"), "application/json");
  EXPECT_EQ(meta.header("content-length"), std::to_string(meta.body.size()));
  EXPECT_EQ(Json::parse(meta.body)["total"], 295);
  const auto one = client.get("/v1/breweries/" + row(42).at("id"));
  ASSERT_EQ(one.status, 200U);
  EXPECT_EQ(Json::parse(one.body)["name"], row(42).at("name"));
  EXPECT_EQ(client.get("/v1/breweries/nope").status, 404U);
  EXPECT_EQ(client.request("/v1/breweries", "DELETE").status, 405U);
  EXPECT_EQ(client.get("/v1/breweries?per_page=0").status, 422U);
  const auto stats = server->stats();
  EXPECT_EQ(stats.connections, 1U) << "keep-alive: one connection for five requests";
  EXPECT_EQ(stats.requests, 5U);
  server->stop();
  EXPECT_FALSE(server->running());
  server->stop();  // idempotent
}

TEST_F(ReplicaServerTest, AutocompleteRedirectsToSearchOnTheHostAsked) {
  auto server = start(quick());
  const std::string reply = tb::raw_exchange(
      server->port(), "GET /v1/breweries/autocomplete?query=dog HTTP/1.1\r\nHost: brewery.test:8080\r\n\r\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.1 307 Temporary Redirect");
  EXPECT_NE(reply.find("\r\nLocation: http://brewery.test:8080/v1/breweries/search?query=dog\r\n"),
            std::string::npos)
      << reply;
  EXPECT_NE(reply.find("\r\nContent-Type: text/html; charset=utf-8\r\n"), std::string::npos) << reply;
}

TEST_F(ReplicaServerTest, HeadSendsTheHeadersOfGetWithoutTheBody) {
  auto server = start(quick());
  const auto get = tb::get(server->port(), "/v1/breweries/meta");
  const auto reply = tb::raw_exchange(
      server->port(), "HEAD /v1/breweries/meta HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.1 200 OK");
  EXPECT_NE(reply.find("Content-Length: " + std::to_string(get.body.size()) + "\r\n"), std::string::npos)
      << reply;
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "") << "no body after HEAD";
  const auto old = tb::raw_exchange(server->port(), "GET /v1/breweries/random HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_line(old), "HTTP/1.0 200 OK");
  const auto no_host = tb::raw_exchange(server->port(), "GET /v1/breweries HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(no_host), "HTTP/1.1 400 Bad Request");
}

struct Crowd {
  unsigned short port = 0;
  std::size_t size = 0;
  std::vector<std::string> ids;
  std::size_t answered = 0;
  std::size_t correct = 0;
  std::vector<std::string> problems;
  std::uint64_t open_when_all_answered = 0;
  ReplicaServer* server = nullptr;
  std::unique_ptr<net::steady_timer> all_answered;
};

net::awaitable<void> one_client(Crowd* crowd, std::size_t i) {
  constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
  const auto executor = co_await net::this_coro::executor;
  tcp::socket socket{executor};
  auto [ec] = co_await socket.async_connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), crowd->port},
                                            use_tuple);
  if (ec) {
    crowd->problems.push_back("connect " + std::to_string(i) + ": " + ec.message());
  } else {
    http::request<http::empty_body> req{http::verb::get, "/v1/breweries/" + crowd->ids[i], 11};
    req.set(http::field::host, "127.0.0.1");
    auto [wec, wn] = co_await http::async_write(socket, req, use_tuple);
    tb::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(socket, buffer, res, use_tuple);
    if (wec || rec)
      crowd->problems.push_back("exchange " + std::to_string(i) + ": " + (wec ? wec : rec).message());
    else if (res.result_int() == 200 && Json::parse(res.body())["id"] == crowd->ids[i])
      ++crowd->correct;
    else
      crowd->problems.push_back("answer " + std::to_string(i) + ": " + std::to_string(res.result_int()));
  }
  // Every connection stays open until all have their answer: they are concurrent.
  if (++crowd->answered == crowd->size) {
    crowd->open_when_all_answered = crowd->server->stats().open_connections;
    crowd->all_answered->cancel();
  } else {
    co_await crowd->all_answered->async_wait(use_tuple);
  }
}

TEST_F(ReplicaServerTest, AThousandConcurrentConnectionsEachGetTheirOwnAnswer) {
  constexpr std::size_t n = 1000;
  if (raise_open_file_limit() < 2 * n + 100) GTEST_SKIP() << "the open-file limit is below " << 2 * n + 100;
  auto options = quick();
  options.latency = 20ms;
  options.jitter = 10ms;
  auto server = start(options);
  net::io_context io;
  Crowd crowd;
  crowd.port = server->port();
  crowd.size = n;
  crowd.server = server.get();
  crowd.all_answered = std::make_unique<net::steady_timer>(io, Clock::time_point::max());
  for (std::size_t i = 0; i < n; ++i)
    crowd.ids.push_back(row(i * 11).at("id"));
  for (std::size_t i = 0; i < n; ++i)
    net::co_spawn(io, one_client(&crowd, i), net::detached);
  io.run_for(300s);
  EXPECT_EQ(crowd.answered, n) << "did not finish in time";
  EXPECT_EQ(crowd.correct, n);
  for (std::size_t i = 0; i < crowd.problems.size() && i < 10; ++i)
    ADD_FAILURE() << crowd.problems[i];
  EXPECT_EQ(crowd.open_when_all_answered, n) << "all connections were open at once";
  EXPECT_GE(server->stats().peak_connections, n);
}

TEST_F(ReplicaServerTest, RateLimitAnswers429WithHeadersThenRecovers) {
  auto options = quick();
  options.rate_limit = RateLimit{5, std::chrono::seconds{2}};
  auto server = start(options);
  tb::Client client{server->port()};
  tb::Reply reply;
  int previous = 5;
  for (int i = 0; i < 100; ++i) {
    reply = client.get("/v1/breweries?per_page=1");
    EXPECT_EQ(reply.header("x-ratelimit-limit"), "5");
    if (reply.status == 429) break;
    ASSERT_EQ(reply.status, 200U);
    const int remaining = std::stoi(reply.header("x-ratelimit-remaining"));
    EXPECT_TRUE(remaining == previous - 1 || remaining == 4) << "one less, or a new window";
    previous = remaining;
  }
  ASSERT_EQ(reply.status, 429U);
  EXPECT_EQ(reply.header("x-ratelimit-remaining"), "0");
  const int retry_after = std::stoi(reply.header("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 2);
  EXPECT_EQ(Json::parse(reply.body)["message"], "Too Many Attempts.");
  EXPECT_FALSE(reply.header("x-ratelimit-reset").empty());
  EXPECT_EQ(tb::get(server->port(), "/v1/breweries").status, 429U) << "per client IP, not per connection";

  bool recovered = false;
  for (int attempt = 0; attempt < 10 && !recovered; ++attempt) {
    std::this_thread::sleep_for(std::chrono::seconds{retry_after});
    recovered = client.get("/v1/breweries?per_page=1").status == 200;
  }
  EXPECT_TRUE(recovered);
}

TEST_F(ReplicaServerTest, FailRateOneAnswers503WithRetryAfter) {
  auto options = quick();
  options.faults.fail_rate = 1.0;
  auto server = start(options);
  tb::Client client{server->port()};
  for (int i = 0; i < 3; ++i) {
    const auto r = client.get("/v1/breweries");
    EXPECT_EQ(r.status, 503U);
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_TRUE(Json::parse(r.body).contains("message"));
  }
  EXPECT_EQ(server->stats().failed, 3U);
}

TEST_F(ReplicaServerTest, DropRateOneClosesWithoutAnswering) {
  auto options = quick();
  options.faults.drop_rate = 1.0;
  auto server = start(options);
  const auto reply = tb::raw_exchange(server->port(), "GET /v1/breweries HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply, "");
  EXPECT_EQ(server->stats().dropped, 1U);
}

TEST_F(ReplicaServerTest, TruncateRateOneSendsTheFullLengthButHalfTheBody) {
  auto options = quick();
  options.faults.truncate_rate = 1.0;
  auto server = start(options);
  const auto reply =
      tb::raw_exchange(server->port(), "GET /v1/breweries?per_page=10 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.1 200 OK");
  const auto at = reply.find("Content-Length: ");
  ASSERT_NE(at, std::string::npos) << reply;
  const auto length = std::stoul(reply.substr(at + 16));
  const auto body = reply.substr(reply.find("\r\n\r\n") + 4);
  EXPECT_GT(length, 1000U);
  EXPECT_EQ(body.size(), length / 2);
  EXPECT_FALSE(Json::accept(body)) << "half a JSON array";
  tb::Client client{server->port()};
  EXPECT_THROW((void)client.get("/v1/breweries"), boost::system::system_error)
      << "a client sees the short body";
}

TEST_F(ReplicaServerTest, SlowRateOneAddsTheSlowDelay) {
  auto options = quick();
  options.faults.slow_rate = 1.0;
  options.faults.slow_delay = 500ms;
  auto server = start(options);
  tb::Client client{server->port()};
  const auto t0 = Clock::now();
  const auto r = client.get("/v1/breweries/" + row(3).at("id"));
  EXPECT_GE(Clock::now() - t0, 500ms);
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(Json::parse(r.body)["id"], row(3).at("id"));
  EXPECT_EQ(server->stats().slowed, 1U);
}

TEST_F(ReplicaServerTest, LatencyDelaysEveryResponseWithoutBlockingOthers) {
  auto options = quick();
  options.latency = 300ms;
  options.jitter = 0ms;
  options.threads = 1;
  auto server = start(options);
  // Eight clients at once on one server thread: each waits its latency, and they overlap (the
  // timer does not block the thread), so all finish; only the lower bound is asserted.
  std::vector<std::thread> clients;
  std::vector<Clock::duration> took(8);
  std::vector<unsigned> status(8);
  for (std::size_t i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      tb::Client c{server->port()};
      const auto t0 = Clock::now();
      status[i] = c.get("/v1/breweries/meta").status;
      took[i] = Clock::now() - t0;
    });
  for (auto& t : clients)
    t.join();
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(status[i], 200U);
    EXPECT_GE(took[i], 300ms);
  }
}

TEST_F(ReplicaServerTest, TheSeedFixesTheFaultSequence) {
  const auto statuses = [&](std::uint64_t seed) {
    auto options = quick();
    options.seed = seed;
    options.faults.fail_rate = 0.5;
    auto server = start(options);
    tb::Client client{server->port()};
    std::string seq;
    for (int i = 0; i < 40; ++i)
      seq += client.get("/v1/breweries/random").status == 200 ? '.' : 'F';
    return seq;
  };
  const auto a = statuses(42);
  EXPECT_EQ(a, statuses(42));
  EXPECT_NE(a, statuses(43));
  EXPECT_NE(a.find('F'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
}

TEST_F(ReplicaServerTest, LimitsAnswer431And413And400) {
  auto server = start(quick());
  const auto port = server->port();
  const auto huge = tb::raw_exchange(
      port, "GET /v1/breweries HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(status_line(huge), "HTTP/1.1 431 Request Header Fields Too Large");
  const auto body =
      tb::raw_exchange(port, "POST /v1/breweries HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
  EXPECT_EQ(status_line(body), "HTTP/1.1 413 Payload Too Large");
  const auto garbage = tb::raw_exchange(port, "\x16\x03\x01 hello\r\n\r\n");
  EXPECT_EQ(status_line(garbage), "HTTP/1.1 400 Bad Request");
  EXPECT_NE(garbage.find("{\"message\":\"Bad Request"), std::string::npos);
  EXPECT_EQ(server->stats().bad_requests, 3U);
}

/// Sends one request of kind `i % 10`; returns a description of what went wrong, or "".
std::string malformed_exchange(unsigned short port, std::size_t i, const std::string& id) {
  std::mt19937_64 rng{i};
  std::string bytes;
  std::vector<std::string> expected;  // acceptable status lines; empty: any 4xx or no answer
  switch (i % 10) {
    case 0:
    case 1: {
      bytes.resize(1 + rng() % 600);
      for (auto& c : bytes)
        c = static_cast<char>(rng() & 0xFF);
      break;
    }
    case 2:
      bytes = "GET /v1/breweries HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000 + rng() % 30000, 'h') +
              "\r\n\r\n";
      expected = {"HTTP/1.1 431 Request Header Fields Too Large"};
      break;
    case 3:
      bytes = "G\x01T /v1/breweries HTTP/1.1\r\nHost: x\r\n\r\n";
      expected = {"HTTP/1.1 400 Bad Request"};
      break;
    case 4:
      bytes = "BREW /v1/breweries HTTP/1.1\r\nHost: x\r\n\r\n";
      expected = {"HTTP/1.1 405 Method Not Allowed"};
      break;
    case 5: {
      const std::string full = "GET /v1/breweries?by_state=ohio HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
      bytes = full.substr(0, rng() % (full.size() - 1));
      break;
    }
    case 6:
      bytes = "GET /v1/breweries?by_state=%zz HTTP/1.1\r\nHost: x\r\n\r\n";
      expected = {"HTTP/1.1 400 Bad Request"};
      break;
    case 7:
      bytes = "POST /v1/breweries HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
      expected = {"HTTP/1.1 413 Payload Too Large"};
      break;
    case 8: {
      const char* bad[] = {"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                           "GET / HTTP/1.1\r\nBad Header\r\n\r\n"};
      bytes = bad[rng() % 4];
      expected = {"HTTP/1.1 400 Bad Request"};
      break;
    }
    default:
      bytes = "GET /v1/breweries/" + id + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      expected = {"HTTP/1.1 200 OK"};
      break;
  }
  const auto reply = tb::raw_exchange(port, bytes);
  const auto line = status_line(reply);
  if (expected.empty()) {
    if (!reply.empty() && !line.starts_with("HTTP/1.1 4"))
      return "kind " + std::to_string(i % 10) + ": " + line;
    return "";
  }
  if (std::find(expected.begin(), expected.end(), line) == expected.end())
    return "kind " + std::to_string(i % 10) + " #" + std::to_string(i) + ": got '" + line + "'";
  if (i % 10 == 9 && Json::parse(reply.substr(reply.find("\r\n\r\n") + 4))["id"] != id)
    return "a valid request got the wrong brewery";
  return "";
}

/// A client that sends a request one byte at a time, 100 ms apart; returns how long the server
/// took to close the connection (or nullopt if it did not within 30 s).
std::optional<Clock::duration> slowloris(unsigned short port) {
  net::io_context io;
  tcp::socket socket{io};
  socket.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
  const int fd = socket.native_handle();
  const std::string request = "GET /v1/breweries HTTP/1.1\r\nHost: x\r\n" + std::string(1000, 'X');
  const auto t0 = Clock::now();
  for (std::size_t i = 0; Clock::now() - t0 < 30s; ++i) {
    if (::send(fd, request.data() + i % request.size(), 1, MSG_NOSIGNAL) < 0) return Clock::now() - t0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char c;
      if (::recv(fd, &c, 1, 0) <= 0) return Clock::now() - t0;
    }
  }
  return std::nullopt;
}

TEST_F(ReplicaServerTest, TenThousandMalformedRequestsThenStillCorrect) {
  auto server = start(quick());
  auto slow_options = quick();
  slow_options.read_timeout = 1s;
  auto slow_server = start(slow_options);
  const auto port = server->port();
  constexpr std::size_t slow_clients = 20;
  constexpr std::size_t total = 10'000 - slow_clients;
  constexpr std::size_t workers = 8;

  std::vector<std::optional<Clock::duration>> slow_results(slow_clients);
  std::vector<std::thread> slow;
  for (std::size_t k = 0; k < slow_clients; ++k)
    slow.emplace_back([&, k] { slow_results[k] = slowloris(slow_server->port()); });

  std::mutex mutex;
  std::vector<std::string> problems;
  std::atomic<std::size_t> done{0};
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < total; i += workers) {
        std::string problem;
        try {
          problem = malformed_exchange(port, i, row(i).at("id"));
        } catch (const std::exception& e) {
          problem = "request " + std::to_string(i) + ": " + e.what();
        }
        ++done;
        if (!problem.empty()) {
          std::lock_guard lock{mutex};
          problems.push_back(problem);
        }
      }
    });
  for (auto& t : threads)
    t.join();
  for (auto& t : slow)
    t.join();

  EXPECT_EQ(done.load(), total);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, the first: " << problems.front();
  for (const auto& r : slow_results) {
    ASSERT_TRUE(r.has_value()) << "a slowloris client was never disconnected";
    EXPECT_GE(*r, 500ms) << "not long before the read timeout (1 s, counted from the server's accept)";
  }
  EXPECT_GT(server->stats().bad_requests, total / 2);

  // Both servers still answer, correctly.
  for (auto* s : {server.get(), slow_server.get()}) {
    ASSERT_TRUE(s->running());
    const auto r = tb::get(s->port(), "/v1/breweries/meta?by_state=new_york");
    ASSERT_EQ(r.status, 200U);
    EXPECT_EQ(Json::parse(r.body)["total"], 419);
  }
}

TEST_F(ReplicaServerTest, ServesHttpsWithTheGivenCertificateOnly) {
  parlab::test::TempDir dir;
  const auto files = parlab::test::make_self_signed(dir.path());
  auto options = quick();
  options.tls = TlsFiles{files.cert, files.key};
  auto server = start(options);
  EXPECT_EQ(server->url(), "https://127.0.0.1:" + std::to_string(server->port()));

  net::io_context io;
  net::ssl::context ctx{net::ssl::context::tls_client};
  ctx.load_verify_file(files.ca_cert.string());
  ctx.set_verify_mode(net::ssl::verify_peer);
  tb::beast::ssl_stream<tcp::socket> stream{io, ctx};
  stream.set_verify_callback(net::ssl::host_name_verification("localhost"));
  ASSERT_TRUE(SSL_set_tlsext_host_name(stream.native_handle(), "localhost"));
  stream.next_layer().connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), server->port()});
  tb::set_timeouts(stream.next_layer(), 60s);
  stream.handshake(net::ssl::stream_base::client);
  tb::beast::flat_buffer buffer;
  const auto r = tb::exchange(stream, buffer, "GET", "/v1/breweries/" + row(9).at("id"), {}, 11);
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(Json::parse(r.body)["id"], row(9).at("id"));
  const auto again = tb::exchange(stream, buffer, "GET", "/v1/breweries/meta?by_state=maryland", {}, 11);
  EXPECT_EQ(Json::parse(again.body)["total"], 158);
  boost::system::error_code ec;
  stream.shutdown(ec);

  const auto plain = tb::raw_exchange(server->port(), "GET /v1/breweries HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(plain.starts_with("HTTP/")) << "plain HTTP on the TLS port gets no HTTP answer";
}

TEST_F(ReplicaServerTest, StartFailsClearlyAndOptionsAreChecked) {
  auto first = start(quick());
  auto options = quick();
  options.port = first->port();
  ReplicaServer second{options};
  try {
    second.start();
    ADD_FAILURE() << "two servers on one port";
  } catch (const ServerError& e) {
    EXPECT_NE(std::string{e.what()}.find("cannot listen on 127.0.0.1:" + std::to_string(first->port())),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(second.running());
  EXPECT_THROW(first->start(), ServerError) << "already running";

  parlab::test::TempDir dir;
  auto tls = quick();
  tls.tls = TlsFiles{dir.path() / "missing-cert.pem", dir.path() / "missing-key.pem"};
  ReplicaServer bad_tls{tls};
  try {
    bad_tls.start();
    ADD_FAILURE() << "missing certificate";
  } catch (const ServerError& e) {
    EXPECT_NE(std::string{e.what()}.find("missing-cert.pem"), std::string::npos) << e.what();
  }

  auto bad = quick();
  bad.faults.fail_rate = 2;
  EXPECT_THROW(ReplicaServer{bad}, ServerError);
  bad = quick();
  bad.threads = 0;
  EXPECT_THROW(ReplicaServer{bad}, ServerError);
  bad = quick();
  bad.data = nullptr;
  EXPECT_THROW(ReplicaServer{bad}, ServerError);
  bad = quick();
  bad.host = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  EXPECT_THROW(ReplicaServer{bad}.start(), ServerError);

  first->stop();
  first->start();  // restartable
  EXPECT_EQ(tb::get(first->port(), "/v1/breweries/meta").status, 200U);
}

}  // namespace
