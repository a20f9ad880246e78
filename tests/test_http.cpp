// parlab::http against the scriptable in-process server (tests/support/http_server.hpp) on
// 127.0.0.1: encoding, keep-alive and the per-host cap, stale connections, retries with back-off
// and Retry-After, faults (refused, dropped, truncated, malformed, oversized), redirects,
// timeouts, TLS verification with SNI and host names, and the blocking facade.

#include "support/files.hpp"
#include "support/http_server.hpp"
#include "support/ports.hpp"
#include "support/self_signed.hpp"

#include <parlab/aio.hpp>
#include <parlab/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace aio = parlab::aio;
namespace http = parlab::http;
using namespace std::chrono_literals;
using parlab::test::HttpServer;
using parlab::test::Reply;
using parlab::test::SeenRequest;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

/// One GET with a fresh client on a fresh event loop.
http::Response fetch(const std::string& url, const http::ClientOptions& options = {},
                     const http::Params& params = {}, const http::Headers& headers = {}) {
  return aio::run([&]() -> aio::Task<http::Response> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, options};
    co_return co_await client.get(url, params, headers);
  });
}

/// The exception of type E that `f` throws; a test failure (and nullopt) if it throws none.
template <class E, class F>
std::optional<E> thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  ADD_FAILURE() << "expected an exception";
  return std::nullopt;
}

/// Fast retries for tests.
http::ClientOptions quick(int max_attempts = 3) {
  http::ClientOptions o;
  o.max_attempts = max_attempts;
  o.backoff_base = 5ms;
  o.backoff_cap = 20ms;
  o.jitter_seed = 7;
  o.total_timeout = 60s;
  return o;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

using parlab::test::closed_port;

/// A listening socket that never accepts, with its accept queue filled: a connect to it hangs
/// (the kernel drops the SYN), which is a connect timeout without any network.
class Blackhole {
 public:
  Blackhole() {
    for (int i = 0; i < 4; ++i) {
      const int c = ::socket(AF_INET, SOCK_STREAM, 0);
      ::fcntl(c, F_SETFL, O_NONBLOCK);
      (void)::connect(c, reinterpret_cast<const sockaddr*>(&listening_.address()), sizeof(sockaddr_in));
      fillers_.push_back(c);
    }
  }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;
  ~Blackhole() {
    for (int c : fillers_)
      ::close(c);
  }
  [[nodiscard]] std::uint16_t port() const { return listening_.port(); }

 private:
  parlab::test::TakenPort listening_{0};
  std::vector<int> fillers_;
};

std::string http_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

Reply ok(std::string body) { return Reply{.body = std::move(body)}; }

// ---------------------------------------------------------------------------------------------
// URLs, headers, pure helpers

TEST(HttpUrl, ParamsArePercentEncodedAfterTheExistingQuery) {
  // Expected strings written by hand from RFC 3986: only unreserved characters stay as they are.
  EXPECT_EQ(http::build_url("http://h/p?x=1", {{"q", "a b&c=d"}, {"plus", "1+1"}, {"e", ""}}),
            "http://h/p?x=1&q=a%20b%26c%3Dd&plus=1%2B1&e=");
  EXPECT_EQ(http::build_url("https://h:8443/", {{"name", "caf\xC3\xA9 \xE2\x98\x95"}, {"t", "a/b?c#d~-._"}}),
            "https://h:8443/?name=caf%C3%A9%20%E2%98%95&t=a%2Fb%3Fc%23d~-._");
  EXPECT_EQ(http::build_url("http://h/p#frag"), "http://h/p");
}

TEST(HttpUrl, RejectsWhatIsNotAnAbsoluteHttpUrl) {
  for (const char* bad : {"not a url", "ftp://h/x", "/relative", "http://", "mailto:x@y"}) {
    auto e = thrown<std::invalid_argument>([&] { (void)http::build_url(bad); });
    ASSERT_TRUE(e) << bad;
    EXPECT_THAT(e->what(), HasSubstr(bad));
  }
  EXPECT_THROW(fetch("ftp://127.0.0.1/"), std::invalid_argument);
}

TEST(HttpHeaders, LookupIgnoresCaseAndSetReplaces) {
  http::Headers h{{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_EQ(h.get("X-A"), "1");
  EXPECT_FALSE(h.get("missing").has_value());
  h.set("x-A", "3");
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.get("X-a"), "3");
  h.erase("CONTENT-type");
  EXPECT_FALSE(h.contains("Content-Type"));
}

TEST(HttpRetryAfter, DeltaSecondsAndTheThreeDateForms) {
  using std::chrono::sys_days;
  using namespace std::chrono;
  // Sun, 06 Nov 1994 08:49:37 GMT (the RFC's example), taken 10 s before.
  const system_clock::time_point date = sys_days{year{1994} / November / 6} + 8h + 49min + 37s;
  const auto now = date - 10s;
  EXPECT_EQ(http::parse_retry_after("120", now), 120'000ms);
  EXPECT_EQ(http::parse_retry_after(" 0 ", now), 0ms);
  EXPECT_EQ(http::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 10'000ms);
  EXPECT_EQ(http::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 10'000ms);
  EXPECT_EQ(http::parse_retry_after("Sun Nov  6 08:49:37 1994", now), 10'000ms);
  EXPECT_EQ(http::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date + 1h), 0ms);  // past: now
  for (const char* bad :
       {"", "-1", "1.5", "soon", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT"}) {
    EXPECT_FALSE(http::parse_retry_after(bad, now).has_value()) << bad;
  }
}

TEST(HttpBackoff, SeededJitterIsRepeatableAndBounded) {
  std::mt19937_64 a{42};
  std::mt19937_64 b{42};
  for (int retry = 1; retry <= 12; ++retry) {
    const auto d = http::backoff_delay(retry, 100ms, 2s, a);
    EXPECT_EQ(d, http::backoff_delay(retry, 100ms, 2s, b));
    const auto full = std::min<std::chrono::milliseconds>(2s, 100ms * (1 << (retry - 1)));
    EXPECT_GE(d, full / 2) << retry;
    EXPECT_LE(d, full) << retry;
  }
}

TEST(HttpClient, RejectsNonsenseOptions) {
  boost::asio::io_context io;
  EXPECT_THROW(http::Client(io.get_executor(), {.max_attempts = 0}), std::invalid_argument);
  EXPECT_THROW(http::Client(io.get_executor(), {.max_connections_per_host = 0}), std::invalid_argument);
  parlab::test::TempDir dir;
  http::ClientOptions o;
  o.ca_file = (dir.path() / "missing.pem").string();
  auto e = thrown<std::invalid_argument>([&] { http::Client c{io.get_executor(), o}; });
  ASSERT_TRUE(e);
  EXPECT_THAT(e->what(), HasSubstr("missing.pem"));
}

// ---------------------------------------------------------------------------------------------
// Requests and responses

TEST(HttpGet, SendsEncodedParamsAndHeadersAndReadsTheResponse) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.headers = {{"Content-Type", "text/plain"}, {"X-Custom", "v1"}}, .body = "hello"};
  }};
  http::ClientOptions options;
  options.headers = {{"X-Default", "d"}, {"X-Override", "from-options"}};
  const auto r = fetch(server.url("/search?fixed=1"), options,
                       {{"q", "a b&c=d"}, {"name", "caf\xC3\xA9 \xE2\x98\x95"}, {"plus", "1+1"}},
                       {{"X-Test", "yes"},
                        {"X-Override", "from-request"},
                        {"accept", "text/plain"},
                        {"X-Twice", "1"},
                        {"X-Twice", "2"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("X-CUSTOM"), "v1");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.redirects, 0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.url, server.url("/search?fixed=1&q=a%20b%26c%3Dd&name=caf%C3%A9%20%E2%98%95&plus=1%2B1"));

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path(), "/search");
  EXPECT_EQ(seen[0].query(), "fixed=1&q=a%20b%26c%3Dd&name=caf%C3%A9%20%E2%98%95&plus=1%2B1");
  EXPECT_EQ(seen[0].header("x-test"), "yes");
  EXPECT_EQ(seen[0].header("X-Default"), "d");
  EXPECT_EQ(seen[0].header("X-Override"), "from-request");
  EXPECT_EQ(seen[0].header("User-Agent"), "parlab-http/0.1");
  EXPECT_EQ(seen[0].header("Accept"), "text/plain");  // replaces the default "*/*"
  int accepts = 0;
  int overrides = 0;
  std::vector<std::string> twice;
  for (const auto& [name, value] : seen[0].headers) {
    if (name == "Accept" || name == "accept") ++accepts;
    if (name == "X-Override") ++overrides;
    if (name == "X-Twice") twice.push_back(value);
  }
  EXPECT_EQ(accepts, 1);
  EXPECT_EQ(overrides, 1);
  EXPECT_EQ(twice, (std::vector<std::string>{"1", "2"}));  // a request may repeat a field
  EXPECT_EQ(seen[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(HttpGet, HeadGetsHeadersWithoutBody) {
  HttpServer server{[](const SeenRequest&) { return ok(std::string(50, 'x')); }};
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop};
    auto head = client.head(server.url("/h"));
    const auto r = co_await std::move(head);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.header("Content-Length"), "50");
    // The connection stays usable after a HEAD whose Content-Length announced a body.
    const auto g = co_await client.get(server.url("/g"));
    EXPECT_EQ(g.body, std::string(50, 'x'));
  });
  EXPECT_EQ(server.requests().at(0).method, "HEAD");
  EXPECT_EQ(server.connections(), 1u);
}

TEST(HttpGet, NonSuccessStatusIsReturnedAndRaiseForStatusThrows) {
  HttpServer server{[](const SeenRequest&) { return Reply{.status = 404, .body = "nope"}; }};
  const auto r = fetch(server.url("/missing"), quick());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "nope");
  EXPECT_EQ(r.attempts, 1);  // 4xx is not retried
  EXPECT_FALSE(r.ok());
  auto e = thrown<http::HttpError>([&] { r.raise_for_status(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::status);
  EXPECT_EQ(e->status(), 404);
  EXPECT_EQ(e->attempts(), 1);
  EXPECT_EQ(e->url(), server.url("/missing"));
  EXPECT_THAT(e->what(), HasSubstr(server.url("/missing")));
  EXPECT_THAT(e->what(), HasSubstr("404"));
}

// ---------------------------------------------------------------------------------------------
// Connection pool

TEST(HttpPool, SequentialRequestsReuseOneConnection) {
  HttpServer server{[](const SeenRequest& r) { return ok("n=" + r.query()); }};
  http::ClientStats stats;
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop};
    for (int i = 0; i < 10; ++i) {
      http::Params params{{"i", std::to_string(i)}};
      auto r = co_await client.get(server.url("/k"), std::move(params));
      EXPECT_EQ(r.body, "n=i=" + std::to_string(i));
    }
    stats = client.stats();
  });
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(server.request_count(), 10u);
  for (const auto& seen : server.requests())
    EXPECT_EQ(seen.connection, 1u);
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.connections_reused, 9u);
  EXPECT_EQ(stats.requests_sent, 10u);
}

TEST(HttpPool, ConnectionCloseFromTheServerIsHonoured) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.headers = {{"Connection", "close"}}, .body = "x"};
  }};
  http::ClientStats stats;
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop};
    for (int i = 0; i < 3; ++i) {
      const auto r = co_await client.get(server.url("/c"));
      EXPECT_EQ(r.body, "x");
    }
    stats = client.stats();
  });
  EXPECT_EQ(server.connections(), 3u);
  EXPECT_EQ(stats.connections_opened, 3u);
  EXPECT_EQ(stats.stale_retries, 0u);
}

TEST(HttpPool, ConcurrentRequestsShareAtMostTheCapOfConnections) {
  HttpServer server{[](const SeenRequest& r) { return Reply{.body = r.query(), .delay = 20ms}; }};
  constexpr int n = 50;
  http::ClientStats stats;
  const auto responses = aio::run([&]() -> aio::Task<std::vector<http::Response>> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, {.max_connections_per_host = 8}};
    std::vector<aio::Task<http::Response>> gets;
    for (int i = 0; i < n; ++i)
      gets.push_back(client.get(server.url("/g"), {{"i", std::to_string(i)}}));
    auto all = co_await aio::gather(std::move(gets));
    stats = client.stats();
    co_return all;
  });
  ASSERT_EQ(responses.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(responses[static_cast<std::size_t>(i)].body, "i=" + std::to_string(i));
  EXPECT_LE(server.max_open_connections(), 8u);
  EXPECT_EQ(server.connections(), 8u);  // 8 slots opened at once, then kept alive and reused
  EXPECT_EQ(stats.connections_opened, 8u);
  EXPECT_EQ(server.request_count(), static_cast<std::size_t>(n));
}

TEST(HttpPool, WaitingForASlotCountsAgainstTheTotalTimeout) {
  HttpServer server{[](const SeenRequest& r) {
    return r.path() == "/hang" ? Reply{.action = Reply::Action::hang} : ok("x");
  }};
  const auto outcomes = aio::run([&]() -> aio::Task<std::vector<aio::Outcome<http::Response>>> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, {.max_connections_per_host = 1}};
    std::vector<aio::Task<http::Response>> requests;
    requests.push_back(client.request({.url = server.url("/hang"), .total_timeout = 3s}));
    requests.push_back(client.request({.url = server.url("/quick"), .total_timeout = 200ms}));
    co_return co_await aio::gather(std::move(requests), aio::ReturnExceptions{});
  });
  ASSERT_EQ(outcomes.size(), 2u);
  ASSERT_FALSE(outcomes[0].ok());
  ASSERT_FALSE(outcomes[1].ok());
  EXPECT_THROW(outcomes[0].rethrow(), http::TimeoutError);
  try {
    outcomes[1].rethrow();
  } catch (const http::TimeoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("free connection"));
    EXPECT_EQ(e.kind(), http::ErrorKind::timeout);
  }
  EXPECT_EQ(server.request_count(), 1u);  // the queued request never reached the server
}

/// GET /a, then GET /b once `until` holds (the loop is blocked meanwhile; the server runs on its
/// own thread): /b's response and the client's counters. /a must answer "first".
std::pair<http::Response, http::ClientStats> get_twice(HttpServer& server,
                                                       const std::function<bool()>& until) {
  std::pair<http::Response, http::ClientStats> out;
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, {.max_attempts = 1}};
    const auto first = co_await client.get(server.url("/a"));
    EXPECT_EQ(first.body, "first");
    EXPECT_TRUE(HttpServer::wait_until(until));
    out.first = co_await client.get(server.url("/b"));
    out.second = client.stats();
  });
  return out;
}

TEST(HttpPool, AConnectionTheServerClosedWhileIdleIsNotReused) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    // The first reply says keep-alive, but the server closes the socket right after it.
    return ++calls == 1 ? Reply{.body = "first", .action = Reply::Action::respond_and_close} : ok("second");
  }};
  const auto [r, stats] = get_twice(server, [&] { return server.closed_connections() == 1; });
  EXPECT_EQ(r.body, "second");
  EXPECT_EQ(r.attempts, 1);  // max_attempts 1: not a retry, the closed connection was not used
  EXPECT_FALSE(r.connection_reused);
  EXPECT_EQ(stats.idle_dropped, 1u);
  EXPECT_EQ(stats.stale_retries, 0u);
  EXPECT_EQ(stats.connections_reused, 0u);
  EXPECT_EQ(server.connections(), 2u);
}

TEST(HttpPool, AConnectionFoundClosedWhenReusedIsRetriedOnceOnAFreshOne) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    // The second request, on the reused connection, is read and the connection closed unanswered,
    // as when the server's idle timeout fires just as the request is written.
    const int call = ++calls;
    return call == 2 ? Reply{.action = Reply::Action::drop} : ok(call == 1 ? "first" : "second");
  }};
  http::ClientStats stats;
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, {.max_attempts = 1}};
    const auto first = co_await client.get(server.url("/a"));
    EXPECT_EQ(first.body, "first");
    const auto r = co_await client.get(server.url("/b"));  // max_attempts 1: only the stale retry can save it
    EXPECT_EQ(r.body, "second");
    EXPECT_EQ(r.attempts, 1);
    stats = client.stats();
  });
  EXPECT_EQ(stats.stale_retries, 1u);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.connections_reused, 1u);
  EXPECT_EQ(server.connections(), 2u);
}

/// "HTTP/1.1 200 OK" with `body`, as raw bytes.
std::string raw_response(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
}

TEST(HttpPool, AResponseNobodyAskedForIsNotTakenForTheNextAnswer) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    // The stray answer comes 50 ms after the first one, so that it is not read with it.
    return ++calls == 1 ? Reply{.body = "first",
                                .action = Reply::Action::respond_then_raw,
                                .raw = raw_response("stray"),
                                .raw_delay = std::chrono::milliseconds{50}}
                        : ok("second");
  }};
  const auto [r, stats] = get_twice(server, [&] { return server.unasked_sent() == 1; });
  EXPECT_EQ(r.body, "second");
  EXPECT_FALSE(r.connection_reused);
  EXPECT_EQ(stats.idle_dropped, 1u);
  EXPECT_EQ(server.connections(), 2u);
}

TEST(HttpPool, AnUnaskedResponseAfterTheRequestIsWrittenCannotBeToldApart) {
  // HTTP/1.1 has no request ids: bytes that arrive after a request is written are its answer. What
  // the client can do is say the answer came on a reused connection, and ask again on a new one.
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    const int call = ++calls;
    if (call == 2)
      return Reply{.body = "second", .action = Reply::Action::raw_then_respond, .raw = raw_response("stray")};
    return ok(call == 1 ? "first" : "third");
  }};
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop};
    const auto first = co_await client.get(server.url("/a"));
    EXPECT_FALSE(first.connection_reused);
    const auto taken = co_await client.get(server.url("/b"));
    EXPECT_EQ(taken.body, "stray");
    EXPECT_TRUE(taken.connection_reused);
    // Not co_await client.request({...}): GCC 12 destroys such a temporary twice.
    auto asking_again = client.request({.url = server.url("/b"), .new_connection = true});
    const auto again = co_await std::move(asking_again);
    EXPECT_EQ(again.body, "third");
    EXPECT_FALSE(again.connection_reused);
    // The real answer to /b came on the first connection, after the stray one: that connection is
    // not used again (closed at once when the answer came in with the stray one, else dropped when
    // found not quiet), so /c is not answered with it.
    const auto next = co_await client.get(server.url("/c"));
    EXPECT_EQ(next.body, "third");
    EXPECT_FALSE(next.connection_reused);
  });
}

TEST(HttpPool, ANewConnectionRequestNeitherTakesNorLeavesAPooledOne) {
  HttpServer server{[](const SeenRequest&) { return ok("x"); }};
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop};
    (void)co_await client.get(server.url("/1"));
    auto fresh_request = client.request({.url = server.url("/2"), .new_connection = true});
    const auto fresh = co_await std::move(fresh_request);
    EXPECT_FALSE(fresh.connection_reused);
    EXPECT_EQ(server.connections(), 2u);
    const auto pooled = co_await client.get(server.url("/3"));  // the first connection, kept
    EXPECT_TRUE(pooled.connection_reused);
    EXPECT_EQ(server.connections(), 2u);
    EXPECT_TRUE(HttpServer::wait_until([&] { return server.closed_connections() == 1; }));  // the new one's
  });
}

TEST(HttpPool, ClientMayBeDestroyedWhileARequestRuns) {
  HttpServer server{[](const SeenRequest&) { return Reply{.body = "late", .delay = 50ms}; }};
  const auto r = aio::run([&]() -> aio::Task<http::Response> {
    const aio::Executor loop = co_await aio::this_loop();
    auto client = std::make_unique<http::Client>(loop);
    auto task = client->get(server.url("/"));
    client.reset();
    co_return co_await std::move(task);
  });
  EXPECT_EQ(r.body, "late");
}

TEST(HttpPool, CancelledRequestFreesItsSlot) {
  HttpServer server{[](const SeenRequest& r) {
    return r.path() == "/hang" ? Reply{.action = Reply::Action::hang} : ok("free");
  }};
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, {.max_connections_per_host = 1}};
    bool timed_out = false;
    try {
      auto hanging = client.get(server.url("/hang"));
      co_await aio::wait_for(std::move(hanging), 200ms);  // cancels the request
    } catch (const parlab::TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    // The only slot is free again, and the half-used connection was not pooled.
    http::Request next{.url = server.url("/next"), .total_timeout = 20s};
    const auto r = co_await client.request(std::move(next));
    EXPECT_EQ(r.body, "free");
    EXPECT_EQ(client.stats().connections_opened, 2u);
  });
}

// ---------------------------------------------------------------------------------------------
// Retries

TEST(HttpRetry, TooManyRequestsHonoursRetryAfterSeconds) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    return ++calls == 1 ? Reply{.status = 429, .headers = {{"Retry-After", "1"}}} : ok("done");
  }};
  const auto start = Clock::now();
  const auto r = fetch(server.url("/r"), quick());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_GE(seconds_since(start), 0.9);  // waited as told (back-off alone would be ~5 ms)
}

TEST(HttpRetry, RetryAfterAsHttpDate) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    if (++calls > 1) return ok("done");
    // Whole seconds: 2 s from now rounds down to at least 1 s from now.
    return Reply{.status = 503,
                 .headers = {{"Retry-After", http_date(std::chrono::system_clock::now() + 2s)}}};
  }};
  const auto start = Clock::now();
  const auto r = fetch(server.url("/d"), quick());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_GE(seconds_since(start), 0.9);
}

TEST(HttpRetry, RetryAfterIsCappedByMaxRetryAfter) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    return ++calls == 1 ? Reply{.status = 429, .headers = {{"Retry-After", "3600"}}} : ok("done");
  }};
  auto options = quick();
  options.max_retry_after = 50ms;
  const auto start = Clock::now();
  const auto r = fetch(server.url("/c"), options);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_LT(seconds_since(start), 60.0);  // did not wait the hour
}

TEST(HttpRetry, RetryAfterBeyondTheTotalTimeoutReturnsTheStatusAtOnce) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.status = 503, .headers = {{"Retry-After", "60"}}};
  }};
  auto options = quick();
  options.total_timeout = 30s;
  const auto start = Clock::now();
  const auto r = fetch(server.url("/busy"), options);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_LT(seconds_since(start), 20.0);  // neither the 60 s wait nor the 30 s timeout
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpRetry, ServiceUnavailableThenSuccess) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    return ++calls == 1 ? Reply{.status = 503, .body = "later"} : ok("ok now");
  }};
  http::ClientStats stats;
  const auto r = aio::run([&]() -> aio::Task<http::Response> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, quick()};
    auto response = co_await client.get(server.url("/s"));
    stats = client.stats();
    co_return response;
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok now");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(server.connections(), 1u);  // the 503 connection was kept alive and reused
}

TEST(HttpRetry, PersistentServerErrorEndsWithTheStatusAfterMaxAttempts) {
  HttpServer server{[](const SeenRequest&) { return Reply{.status = 500, .body = "boom"}; }};
  const auto r = fetch(server.url("/e"), quick(3));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "boom");
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(server.request_count(), 3u);
  auto e = thrown<http::HttpError>([&] { r.raise_for_status(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::status);
  EXPECT_EQ(e->status(), 500);
  EXPECT_EQ(e->attempts(), 3);
  EXPECT_THAT(e->what(), HasSubstr("status 500"));
  EXPECT_THAT(e->what(), HasSubstr("attempts 3"));
  EXPECT_THAT(e->what(), HasSubstr(server.url("/e")));
}

TEST(HttpRetry, ConnectionRefusedIsAConnectErrorAfterMaxAttempts) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
  http::ClientStats stats;
  auto e = thrown<http::HttpError>([&] {
    aio::run([&]() -> aio::Task<void> {
      const aio::Executor loop = co_await aio::this_loop();
      http::Client client{loop, quick(3)};
      try {
        co_await client.get(url);
      } catch (...) {
        stats = client.stats();
        throw;
      }
    });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::connect);
  EXPECT_EQ(e->attempts(), 3);
  EXPECT_EQ(e->status(), 0);
  EXPECT_EQ(e->url(), url);
  EXPECT_THAT(e->what(), HasSubstr("refused"));
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.connections_opened, 0u);
}

TEST(HttpRetry, UnknownHostIsAConnectError) {
  auto e = thrown<http::HttpError>([&] { fetch("http://no-such-host.invalid/", quick(2)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::connect);
  EXPECT_THAT(e->what(), HasSubstr("cannot resolve no-such-host.invalid"));
}

TEST(HttpRetry, DroppedMidBodyIsRetried) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    if (++calls == 1) {
      return Reply{.action = Reply::Action::raw,
                   .raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"};
    }
    return ok("hello world");
  }};
  const auto r = fetch(server.url("/chunks"), quick());
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.attempts, 2);
}

TEST(HttpRetry, TruncatedBodyIsRetriedThenSucceeds) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    if (++calls == 1) {
      return Reply{.action = Reply::Action::raw, .raw = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello"};
    }
    return ok("hello world");
  }};
  const auto r = fetch(server.url("/t"), quick());
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.attempts, 2);
}

TEST(HttpRetry, AlwaysTruncatedBodyIsAnErrorNeverAShortBody) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.action = Reply::Action::raw, .raw = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello"};
  }};
  auto e = thrown<http::HttpError>([&] { fetch(server.url("/t"), quick(3)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::connect);
  EXPECT_EQ(e->attempts(), 3);
  EXPECT_THAT(e->what(), HasSubstr("truncated"));
  EXPECT_EQ(server.request_count(), 3u);
}

TEST(HttpRetry, ConnectionClosedWithoutAnswerIsRetried) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
    return ++calls == 1 ? Reply{.action = Reply::Action::drop} : ok("fine");
  }};
  const auto r = fetch(server.url("/drop"), quick());
  EXPECT_EQ(r.body, "fine");
  EXPECT_EQ(r.attempts, 2);
}

// ---------------------------------------------------------------------------------------------
// Malformed and oversized responses

TEST(HttpProtocol, GarbageStatusLineIsAProtocolErrorNotRetried) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.action = Reply::Action::raw, .raw = "HTTX/1.1 2OO what\r\n\r\n"};
  }};
  auto e = thrown<http::HttpError>([&] { fetch(server.url("/bad"), quick()); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::protocol);
  EXPECT_EQ(e->attempts(), 1);
  EXPECT_THAT(e->what(), HasSubstr("malformed"));
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpProtocol, BodyOverTheLimitIsAnError) {
  HttpServer server{[](const SeenRequest& r) {
    if (r.path() == "/chunked") {
      return Reply{.action = Reply::Action::raw,
                   .raw =
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "40\r\n" +
                       std::string(64, 'a') + "\r\n40\r\n" + std::string(64, 'b') + "\r\n0\r\n\r\n"};
    }
    return ok(std::string(r.path() == "/exact" ? 100 : 1000, 'x'));
  }};
  auto options = quick();
  options.max_body_bytes = 100;
  EXPECT_EQ(fetch(server.url("/exact"), options).body.size(), 100u);
  for (const char* path : {"/big", "/chunked"}) {
    auto e = thrown<http::HttpError>([&] { fetch(server.url(path), options); });
    ASSERT_TRUE(e) << path;
    EXPECT_EQ(e->kind(), http::ErrorKind::too_large) << path;
    EXPECT_EQ(e->attempts(), 1) << path;
    EXPECT_THAT(e->what(), HasSubstr("max_body_bytes"));
  }
}

// ---------------------------------------------------------------------------------------------
// Redirects

TEST(HttpRedirect, RelativeAndAbsoluteLocationsAreFollowed) {
  std::string absolute_target;
  HttpServer server{[&absolute_target](const SeenRequest& r) {
    if (r.path() == "/start")
      return Reply{.status = 302, .headers = {{"Location", "dir/../next?from=start"}}};
    if (r.path() == "/next") return Reply{.status = 301, .headers = {{"Location", absolute_target}}};
    if (r.path() == "/see") return Reply{.status = 303, .headers = {{"Location", "/temp"}}};
    if (r.path() == "/temp") return Reply{.status = 307, .headers = {{"Location", "/perm"}}};
    if (r.path() == "/perm") return Reply{.status = 308, .headers = {{"Location", "/end#fragment"}}};
    return ok("arrived at " + r.target);
  }};
  absolute_target = server.url("/see");
  const auto r = fetch(server.url("/start"), quick());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "arrived at /end");
  EXPECT_EQ(r.redirects, 5);
  EXPECT_EQ(r.url, server.url("/end"));
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[1].target, "/next?from=start");
}

TEST(HttpRedirect, LoopIsAnErrorAfterMaxRedirects) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.status = 302, .headers = {{"Location", "/loop"}}};
  }};
  auto options = quick();
  options.max_redirects = 3;
  auto e = thrown<http::HttpError>([&] { fetch(server.url("/loop"), options); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::redirects);
  EXPECT_EQ(e->status(), 302);
  EXPECT_EQ(server.request_count(), 4u);
}

TEST(HttpRedirect, UnusableLocationIsAProtocolError) {
  HttpServer server{[](const SeenRequest&) {
    return Reply{.status = 302, .headers = {{"Location", "ftp://x/y"}}};
  }};
  auto e = thrown<http::HttpError>([&] { fetch(server.url("/r"), quick()); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::protocol);
}

TEST(HttpRedirect, CredentialsAreDroppedWhenTheOriginChanges) {
  HttpServer second{[](const SeenRequest&) { return ok("second"); }};
  HttpServer first{[&second](const SeenRequest&) {
    return Reply{.status = 302, .headers = {{"Location", second.url("/landing")}}};
  }};
  const auto r = fetch(first.url("/"), quick(), {}, {{"Authorization", "Bearer secret"}, {"X-Keep", "1"}});
  EXPECT_EQ(r.body, "second");
  EXPECT_EQ(first.requests().at(0).header("Authorization"), "Bearer secret");
  EXPECT_EQ(second.requests().at(0).header("Authorization"), "");
  EXPECT_EQ(second.requests().at(0).header("X-Keep"), "1");
}

// ---------------------------------------------------------------------------------------------
// Timeouts

TEST(HttpTimeout, ConnectTimeoutOnAFullBacklog) {
  Blackhole hole;
  auto options = quick(2);
  options.connect_timeout = 200ms;
  options.total_timeout = 30s;
  const auto start = Clock::now();
  auto e = thrown<http::TimeoutError>(
      [&] { fetch("http://127.0.0.1:" + std::to_string(hole.port()) + "/", options); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::timeout);
  EXPECT_EQ(e->attempts(), 2);
  EXPECT_THAT(e->what(), HasSubstr("connect_timeout"));
  EXPECT_LT(seconds_since(start), 20.0);  // long before the total timeout
}

TEST(HttpTimeout, TotalTimeoutOnAServerThatNeverAnswers) {
  HttpServer server{[](const SeenRequest&) { return Reply{.action = Reply::Action::hang}; }};
  auto options = quick();
  options.total_timeout = 500ms;
  const auto start = Clock::now();
  auto e = thrown<parlab::TimeoutError>([&] { fetch(server.url("/slow"), options); });
  ASSERT_TRUE(e);
  const double elapsed = seconds_since(start);
  EXPECT_GE(elapsed, 0.45);
  EXPECT_LT(elapsed, 20.0);
  EXPECT_THAT(e->what(), HasSubstr("total_timeout 500 ms"));
  EXPECT_EQ(server.request_count(), 1u);  // a timeout ends the request: no retry
}

TEST(HttpTimeout, TimeoutErrorIsCaughtAsEveryBase) {
  HttpServer server{[](const SeenRequest&) { return Reply{.action = Reply::Action::hang}; }};
  auto options = quick();
  options.total_timeout = 100ms;
  try {
    fetch(server.url("/"), options);
    ADD_FAILURE() << "no exception";
  } catch (const http::ErrorDetails& e) {
    EXPECT_EQ(e.kind(), http::ErrorKind::timeout);
    EXPECT_EQ(e.attempts(), 1);
  }
  EXPECT_THROW(fetch(server.url("/"), options), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// TLS

class HttpTls : public ::testing::Test {
 protected:
  parlab::test::TempDir dir_;
  parlab::test::TlsFiles good_ = parlab::test::make_self_signed(dir_.path());
  parlab::test::TlsFiles other_ = parlab::test::make_self_signed(
      dir_.path(), {.dns = {"other.invalid"}, .ips = {}, .common_name = "other.invalid"}, "other");

  static Reply hello(const SeenRequest&) { return ok("secret"); }
  http::ClientOptions trusting(const parlab::test::TlsFiles& files) {
    auto o = quick();
    o.ca_file = files.ca_cert.string();
    return o;
  }
};

TEST_F(HttpTls, SelfSignedCertificateIsRejectedByDefault) {
  HttpServer server{hello, HttpServer::Tls{good_.cert, good_.key}};
  auto e = thrown<http::HttpError>([&] { fetch(server.url("/", "localhost"), quick()); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::tls);
  EXPECT_EQ(e->attempts(), 1);  // verification failures are not retried
  EXPECT_THAT(e->what(), HasSubstr("certificate verification failed"));
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(HttpTls, TrustedWithCaFileSendsSniAndReusesTheConnection) {
  HttpServer server{hello, HttpServer::Tls{good_.cert, good_.key}};
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, trusting(good_)};
    for (int i = 0; i < 3; ++i) {
      const auto r = co_await client.get(server.url("/s", "localhost"));
      EXPECT_EQ(r.body, "secret");
    }
  });
  EXPECT_EQ(server.connections(), 1u);
  ASSERT_EQ(server.sni_names().size(), 1u);
  EXPECT_EQ(server.sni_names()[0], "localhost");
  EXPECT_EQ(server.requests().at(0).sni, "localhost");
}

TEST_F(HttpTls, IpAddressIsCheckedAgainstTheCertificateWithoutSni) {
  HttpServer server{hello, HttpServer::Tls{good_.cert, good_.key}};
  EXPECT_EQ(fetch(server.url("/ip"), trusting(good_)).body, "secret");
  ASSERT_EQ(server.sni_names().size(), 1u);
  EXPECT_EQ(server.sni_names()[0], "");  // RFC 6066: no SNI for an IP literal
}

TEST_F(HttpTls, HostNameMismatchIsRejected) {
  HttpServer server{hello, HttpServer::Tls{other_.cert, other_.key}};
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto e = thrown<http::HttpError>([&] { fetch(server.url("/", host), trusting(other_)); });
    ASSERT_TRUE(e) << host;
    EXPECT_EQ(e->kind(), http::ErrorKind::tls) << host;
    EXPECT_THAT(e->what(), HasSubstr("mismatch")) << host;
  }
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(HttpTls, ATlsConnectionTheServerClosedWhileIdleIsReplaced) {
  std::atomic<int> calls{0};
  HttpServer server{[&calls](const SeenRequest&) {
                      return ++calls == 1 ? Reply{.body = "1", .action = Reply::Action::respond_and_close}
                                          : ok("2");
                    },
                    HttpServer::Tls{good_.cert, good_.key}};
  auto options = trusting(good_);
  options.max_attempts = 1;
  http::ClientStats stats;
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, options};
    const auto first = co_await client.get(server.url("/", "localhost"));
    EXPECT_EQ(first.body, "1");
    EXPECT_TRUE(HttpServer::wait_until([&] { return server.closed_connections() == 1; }));
    const auto second = co_await client.get(server.url("/", "localhost"));
    EXPECT_EQ(second.body, "2");
    stats = client.stats();
  });
  EXPECT_EQ(stats.idle_dropped, 1u);
  EXPECT_EQ(stats.stale_retries, 0u);
  EXPECT_EQ(server.connections(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Rate limit

using Steady = std::chrono::steady_clock;

TEST(HttpRateLimiter, NoWindowHoldsMoreThanTheLimit) {
  http::RateLimiter limiter{3, std::chrono::milliseconds{200}};
  const auto start = Steady::now();
  std::vector<Steady::time_point> slots;
  for (int i = 0; i < 10; ++i)
    slots.push_back(limiter.reserve());
  for (int i = 0; i < 3; ++i)
    EXPECT_LT(slots[i] - start, std::chrono::milliseconds{100}) << "slot " << i << " is at once";
  for (std::size_t i = 3; i < slots.size(); ++i)
    EXPECT_GE(slots[i] - slots[i - 3], std::chrono::milliseconds{200}) << "slot " << i;
  const auto stats = limiter.stats();
  EXPECT_EQ(stats.requests, 10u);
  EXPECT_EQ(stats.delayed, 7u);
  EXPECT_GE(stats.waited, std::chrono::milliseconds{7 * 200});
}

TEST(HttpRateLimiter, TheServersPauseHoldsEveryone) {
  http::RateLimiter limiter{100, std::chrono::milliseconds{60'000}};
  limiter.observe(429, "0", "2");
  EXPECT_GE(limiter.reserve() - Steady::now(), std::chrono::milliseconds{1'900});
  http::RateLimiter no_retry_after{100, std::chrono::milliseconds{5'000}};
  no_retry_after.observe(429, std::nullopt, std::nullopt);  // a 429 without Retry-After: a window
  EXPECT_GE(no_retry_after.reserve() - Steady::now(), std::chrono::milliseconds{4'900});
  http::RateLimiter unavailable{100, std::chrono::milliseconds{5'000}};
  unavailable.observe(503, std::nullopt, std::nullopt);  // a 503 without Retry-After: no pause
  EXPECT_LT(unavailable.reserve() - Steady::now(), std::chrono::milliseconds{100});
}

TEST(HttpRateLimiter, ABudgetSpentBySomeoneElseHoldsForAWindow) {
  // The server says none is left while this limiter has used 1 of 5: another client spends it.
  http::RateLimiter shared{5, std::chrono::milliseconds{3'000}};
  (void)shared.reserve();
  shared.observe(200, "0", std::nullopt);
  EXPECT_GE(shared.reserve() - Steady::now(), std::chrono::milliseconds{2'900});
  // Its own fifth request spent it: the sliding window already waits as long as needed.
  http::RateLimiter alone{2, std::chrono::milliseconds{3'000}};
  (void)alone.reserve();
  (void)alone.reserve();
  alone.observe(200, "0", std::nullopt);
  alone.observe(200, "1", std::nullopt);
  const auto third = alone.reserve() - Steady::now();
  EXPECT_GT(third, std::chrono::milliseconds{2'500});
  EXPECT_LE(third, std::chrono::milliseconds{3'000});
}

TEST(HttpRateLimiter, RejectsAnEmptyRate) {
  EXPECT_THROW(http::RateLimiter(0, std::chrono::seconds{1}), std::invalid_argument);
  EXPECT_THROW(http::RateLimiter(1, std::chrono::seconds{0}), std::invalid_argument);
}

TEST(HttpRateLimiter, TheClientSendsNoMoreThanTheLimitInAnyWindow) {
  std::mutex mu;
  std::vector<Steady::time_point> seen;
  HttpServer server{[&](const SeenRequest&) {
    std::lock_guard lock{mu};
    seen.push_back(Steady::now());
    return ok("x");
  }};
  http::ClientOptions options;
  options.rate_limiter = std::make_shared<http::RateLimiter>(4, std::chrono::milliseconds{300});
  options.total_timeout = std::chrono::milliseconds{500};  // less than the last request's wait: the
                                                           // wait for its first slot is not counted
  aio::run([&]() -> aio::Task<void> {
    const aio::Executor loop = co_await aio::this_loop();
    http::Client client{loop, options};
    std::vector<aio::Task<http::Response>> gets;
    for (int i = 0; i < 12; ++i)
      gets.push_back(client.get(server.url("/" + std::to_string(i))));
    auto all = aio::gather(std::move(gets));
    const auto responses = co_await std::move(all);
    for (const auto& r : responses)
      EXPECT_EQ(r.status, 200);
  });
  ASSERT_EQ(seen.size(), 12u);
  std::sort(seen.begin(), seen.end());
  for (std::size_t i = 4; i < seen.size(); ++i)  // the server sees each request a little after it is sent
    EXPECT_GE(seen[i] - seen[i - 4], std::chrono::milliseconds{250}) << "request " << i;
  EXPECT_EQ(options.rate_limiter->stats().delayed, 8u);
}

TEST(HttpRateLimiter, RetriesTakeSlotsAndTheServersRetryAfterHoldsTheOthers) {
  std::atomic<int> calls{0};
  HttpServer server{[&](const SeenRequest&) {
    if (++calls == 1) return Reply{.status = 429, .headers = {{"Retry-After", "1"}}};
    return ok("x");
  }};
  http::ClientOptions options;
  options.rate_limiter = std::make_shared<http::RateLimiter>(100, std::chrono::milliseconds{1'000});
  options.max_retry_after = std::chrono::milliseconds{1'000};
  http::SyncClient client{options};
  const auto start = Steady::now();
  EXPECT_EQ(client.get(server.url("/a")).attempts, 2);
  EXPECT_EQ(client.get(server.url("/b")).attempts, 1);
  EXPECT_GE(Steady::now() - start, std::chrono::milliseconds{950});
  EXPECT_EQ(options.rate_limiter->stats().requests, 3u);
}

// ---------------------------------------------------------------------------------------------
// Blocking facade

TEST(HttpSync, SyncClientReusesItsConnectionBetweenCalls) {
  HttpServer server{[](const SeenRequest& r) { return ok(r.query()); }};
  http::SyncClient client{quick()};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(client.get(server.url("/q"), {{"page", std::to_string(i)}}).body, "page=" + std::to_string(i));
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(client.stats().requests_sent, 3u);
  EXPECT_EQ(client.head(server.url("/q")).status, 200);
}

TEST(HttpSync, OneShotGetReturnsAndThrows) {
  HttpServer server{[](const SeenRequest& r) { return ok("got " + r.query()); }};
  EXPECT_EQ(http::get(server.url("/x"), {{"a", "b c"}}).body, "got a=b%20c");
  const std::string refused = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto e = thrown<http::HttpError>([&] { http::get(refused, {}, {}, quick(2)); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), http::ErrorKind::connect);
  EXPECT_EQ(e->attempts(), 2);
}

}  // namespace
