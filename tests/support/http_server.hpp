#pragma once
/// \file
/// A scriptable HTTP/1.1 (and HTTPS) server for tests: 127.0.0.1, an ephemeral port, its own thread.
/// A handler decides each reply; faults (drop, truncated or garbage bytes, hang, close after the
/// reply) are replies too. The server counts connections and records every request it saw.
///
///   parlab::test::HttpServer server{[](const parlab::test::SeenRequest& r) {
///     if (r.path() == "/flaky")
///       return parlab::test::Reply{.status = 503, .headers = {{"Retry-After", "0"}}};
///     return parlab::test::Reply{.body = "hello"};
///   }};
///   client.get(server.url("/flaky")); ... server.connections(), server.requests()
///
/// Link the parlab_test_http_server library (tests/CMakeLists.txt).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parlab::test {

/// A request as the server received it.
struct SeenRequest {
  std::string method;                                        ///< e.g. "GET"
  std::string target;                                        ///< path and raw (encoded) query
  std::vector<std::pair<std::string, std::string>> headers;  ///< fields in order
  std::size_t connection = 0;                                ///< 1-based number of its connection
  std::string sni;  ///< TLS server name the client sent; "" without TLS or without SNI

  /// The first field called `name` (case-insensitive), "" if none.
  [[nodiscard]] std::string header(std::string_view name) const;
  /// The target up to '?'.
  [[nodiscard]] std::string path() const;
  /// The raw query after '?', "" if none.
  [[nodiscard]] std::string query() const;
};

/// What the server does with one request.
struct Reply {
  enum class Action {
    respond,            ///< send the response; keep the connection if both sides want keep-alive
    respond_and_close,  ///< send the response (it still says keep-alive), then close the socket
    raw,                ///< send `raw` verbatim, then close
    drop,               ///< close without a byte
    hang,               ///< never answer (until the server stops)
    respond_then_raw,   ///< send the response, then after `raw_delay` the bytes of `raw`, which nobody
                        ///< asked for (an unsolicited response), and go on serving the connection
    raw_then_respond,   ///< send `raw` first (a response nobody asked for, which the client takes as
                        ///< this request's answer), then the response, and go on serving
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};  ///< "Connection: close" closes after
  std::string body{};
  std::chrono::milliseconds delay{0};  ///< wait this long before acting
  Action action = Action::respond;
  std::string raw{};  ///< the bytes for Action::raw, respond_then_raw and raw_then_respond
  std::chrono::milliseconds raw_delay{0};  ///< Action::respond_then_raw: the wait before `raw`
};

/// The server. Its handler runs on the server's thread, one request at a time; it must not throw
/// (an exception becomes a 500 reply).
class HttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;
  /// Certificate (chain) and key PEM files for HTTPS.
  struct Tls {
    std::filesystem::path cert;
    std::filesystem::path key;
  };

  explicit HttpServer(Handler handler, std::optional<Tls> tls = std::nullopt);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  /// Stops the thread and drops every connection.
  ~HttpServer();

  [[nodiscard]] std::uint16_t port() const;
  /// "http://<host>:<port><path>" (https with TLS).
  [[nodiscard]] std::string url(std::string_view path = "/", std::string_view host = "127.0.0.1") const;

  [[nodiscard]] std::size_t connections() const;           ///< accepted so far
  [[nodiscard]] std::size_t open_connections() const;      ///< open now
  [[nodiscard]] std::size_t max_open_connections() const;  ///< most open at once
  [[nodiscard]] std::size_t closed_connections() const;    ///< closed so far (either side)
  [[nodiscard]] std::size_t handshake_failures() const;    ///< TLS handshakes that failed
  [[nodiscard]] std::size_t request_count() const;
  [[nodiscard]] std::size_t unasked_sent() const;  ///< `raw` bytes written by respond_then_raw so far
  [[nodiscard]] std::vector<SeenRequest> requests() const;
  /// TLS server names of the connections, in accept order ("" when none was sent).
  [[nodiscard]] std::vector<std::string> sni_names() const;

  /// Polls `condition` every few milliseconds until it holds or `timeout` passes; its last value.
  static bool wait_until(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout = std::chrono::seconds{20});

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace parlab::test
