#pragma once
/// \file
/// parlab::http: an asynchronous HTTP/1.1 and HTTPS client for one event loop (Boost.Beast,
/// OpenSSL, Boost.URL), with a keep-alive connection pool per host, timeouts, retries with
/// backoff and Retry-After, redirects and a body size limit; plus a blocking facade.

#include "parlab/aio.hpp"
#include "parlab/errors.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parlab::http {

/// What made a request fail.
enum class ErrorKind {
  connect,    ///< could not connect (refused, unreachable, DNS), or the connection broke mid-exchange
  timeout,    ///< the total timeout, or the connect timeout of the last attempt, ran out
  tls,        ///< TLS handshake or certificate verification failed
  status,     ///< a non-2xx status (only from Response::raise_for_status)
  protocol,   ///< the server's reply is not valid HTTP/1.1, or a redirect's Location is no URL
  too_large,  ///< the body exceeds ClientOptions::max_body_bytes (or the header 64 KiB)
  redirects,  ///< more than ClientOptions::max_redirects redirects
};

/// "connect", "timeout", "tls", "status", "protocol", "too_large" or "redirects".
[[nodiscard]] std::string_view to_string(ErrorKind kind) noexcept;

/// What both HttpError and TimeoutError tell about the failed request; `catch (const
/// parlab::http::ErrorDetails&)` catches either.
class ErrorDetails {
 public:
  /// Why the request failed.
  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
  /// The URL of the failing hop (after redirects), with the query.
  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  /// The last HTTP status received for that URL, 0 if none.
  [[nodiscard]] int status() const noexcept { return status_; }
  /// Attempts made for that URL (a stale pooled connection retried once does not count).
  [[nodiscard]] int attempts() const noexcept { return attempts_; }

 protected:
  ErrorDetails(ErrorKind kind, std::string url, int status, int attempts)
      : kind_(kind), url_(std::move(url)), status_(status), attempts_(attempts) {}

 private:
  ErrorKind kind_;
  std::string url_;
  int status_;
  int attempts_;
};

/// A request failed for any reason but time. what() reads
/// "http <kind> error: <detail> (url <url>, status <status>, attempts <n>)".
class HttpError : public std::runtime_error, public ErrorDetails {
 public:
  HttpError(ErrorKind kind, std::string url, int status, int attempts, const std::string& detail);
};

/// A request ran out of time; kind() is ErrorKind::timeout. Derives from parlab::TimeoutError, so
/// one handler catches the timeouts of AsyncResult::get and of HTTP alike.
class TimeoutError : public parlab::TimeoutError, public ErrorDetails {
 public:
  TimeoutError(std::string url, int status, int attempts, const std::string& detail);
};

/// HTTP header fields in order; names compare case-insensitively.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;
  Headers() = default;
  /// Fields in order, e.g. {{"Accept", "application/json"}}.
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  /// Appends a field (a name may repeat).
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  /// Replaces every field called `name` by one with `value`.
  void set(std::string name, std::string value);
  /// Removes every field called `name`.
  void erase(std::string_view name);
  /// The value of the first field called `name`.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  /// Whether a field called `name` exists.
  [[nodiscard]] bool contains(std::string_view name) const { return get(name).has_value(); }

  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return fields_.begin(); }
  [[nodiscard]] auto end() const noexcept { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

/// Query parameters in order: (name, value) as text; the client percent-encodes every byte that is
/// not an RFC 3986 unreserved character (so ' ' is %20, '+' is %2B, UTF-8 is %XX per byte).
using Params = std::vector<std::pair<std::string, std::string>>;

/// A final response: whatever status the server gave once retries and redirects were done.
struct Response {
  int status = 0;        ///< e.g. 200
  std::string reason{};  ///< e.g. "OK"
  Headers headers{};     ///< the response's fields
  std::string body{};    ///< complete body (empty for HEAD)
  int attempts = 0;      ///< attempts made for the final URL (1 when the first one answered)
  int redirects = 0;     ///< redirects followed
  /// The answer came on a pooled keep-alive connection that had carried earlier responses. HTTP/1.1
  /// cannot tell such an answer from one the server sent unasked just before it (the client checks
  /// the connection for unasked bytes before it reuses it, but one may arrive after the request is
  /// written); a caller that must be sure asks again with Request::new_connection.
  bool connection_reused = false;
  std::string url{};  ///< final URL, after redirects

  /// Whether the status is 2xx.
  [[nodiscard]] bool ok() const noexcept { return status >= 200 && status < 300; }
  /// The first header field called `name` (case-insensitive).
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    return headers.get(name);
  }
  /// Returns *this if ok(); otherwise throws HttpError{ErrorKind::status} with url, status and attempts.
  const Response& raise_for_status() const;
};

/// The methods the client sends; both are idempotent, so both are retried.
enum class Method { get, head };

/// One request: method, URL (http or https, parsed with Boost.URL), query parameters appended to
/// the URL's own query, and header fields (they replace ClientOptions::headers of the same name).
struct Request {
  Method method = Method::get;
  std::string url{};
  Params params{};
  Headers headers{};
  /// This request's total timeout instead of ClientOptions::total_timeout.
  std::optional<std::chrono::milliseconds> total_timeout{};
  /// Send it on a connection opened for it and closed after it, never a pooled one.
  bool new_connection = false;
};

/// A client-side rate limit, shared by every Client, SyncClient and thread that holds it (through
/// ClientOptions::rate_limiter): at most `limit` requests go out in any `window`. The window
/// slides, so that no fixed window of the server's, wherever it starts, counts more. Requests
/// also wait while the server has asked for a pause (Retry-After on a 429 or 503, or a window when
/// a 429 has none) and, for a window, after an X-RateLimit-Remaining: 0 that comes before this
/// limiter's own count is spent (someone else spends the same budget). Each attempt takes a slot,
/// retries included; the wait before a request's first attempt is not part of its total_timeout,
/// the waits before later attempts are (like back-off). Thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// What the limiter has done so far.
  struct Stats {
    std::size_t requests = 0;             ///< slots handed out
    std::size_t delayed = 0;              ///< of them, those that had to wait
    std::chrono::milliseconds waited{0};  ///< their waits, added up
  };

  /// At most `limit` requests in any `window`; throws std::invalid_argument unless both are positive.
  RateLimiter(std::size_t limit, std::chrono::milliseconds window);

  /// Takes the next slot: the time at which the caller may send (now, or later).
  [[nodiscard]] Clock::time_point reserve();
  /// What a response said: its status and its X-RateLimit-Remaining and Retry-After fields (nullopt
  /// when absent). The Client calls it for each response it reads.
  void observe(int status, std::optional<std::string_view> remaining,
               std::optional<std::string_view> retry_after);

  [[nodiscard]] Stats stats() const;
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
  [[nodiscard]] std::chrono::milliseconds window() const noexcept { return window_; }

 private:
  mutable std::mutex mutex_;
  std::size_t limit_;
  std::chrono::milliseconds window_;
  std::deque<Clock::time_point> slots_;  // the send times of the last `limit_` slots, in order
  Clock::time_point hold_until_{};
  Stats stats_{};
};

/// Every knob of the client, with its default. Durations accept any std::chrono unit (e.g. 5s).
struct ClientOptions {
  /// Per attempt: DNS + TCP connect + TLS handshake. Counts as a retryable connection failure.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{10}};
  /// Per request, across attempts, back-off waits and redirects; then TimeoutError.
  std::chrono::milliseconds total_timeout{std::chrono::seconds{30}};
  /// Attempts per URL, first one included (1 = no retries).
  int max_attempts = 4;
  /// Back-off before retry n: d = min(backoff_cap, backoff_base * 2^(n-1)), waiting a uniformly
  /// random time in [d/2, d].
  std::chrono::milliseconds backoff_base{200};
  /// Upper bound of one back-off wait.
  std::chrono::milliseconds backoff_cap{std::chrono::seconds{10}};
  /// Upper bound of one wait demanded by Retry-After (429, 503); longer demands wait this long.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds{60}};
  /// Seed of the back-off jitter; unset: seeded from std::random_device.
  std::optional<std::uint64_t> jitter_seed{};
  /// Largest accepted body; a larger one fails with ErrorKind::too_large, never truncated.
  std::size_t max_body_bytes = std::size_t{64} << 20;
  /// Redirects (301, 302, 303, 307, 308) followed per request; one more is ErrorKind::redirects.
  int max_redirects = 10;
  /// Open connections per host (scheme, host, port); further requests wait in FIFO order.
  std::size_t max_connections_per_host = 8;
  /// PEM file of the CAs to trust instead of the system's (curl's --cacert). Certificates are
  /// always verified, with the host name; there is no insecure mode.
  std::string ca_file{};
  /// The User-Agent field sent unless a request sets its own.
  std::string user_agent = "parlab-http/0.1";
  /// Fields sent with every request (a request's field of the same name wins).
  Headers headers{};
  /// A rate limit to keep (none by default); share one between clients to share the budget.
  std::shared_ptr<RateLimiter> rate_limiter{};
};

/// Counters of a client since it was made (for benchmarks and tests).
struct ClientStats {
  std::size_t requests_sent = 0;       ///< HTTP requests written, retries and redirects included
  std::size_t connections_opened = 0;  ///< TCP connections established
  std::size_t connections_reused = 0;  ///< requests sent on a pooled keep-alive connection
  std::size_t stale_retries = 0;       ///< pooled connections found closed and replaced
  std::size_t idle_dropped = 0;        ///< pooled connections not reused: the server closed them or
                                       ///< sent bytes nobody asked for while they sat idle
  std::size_t retries = 0;             ///< attempts after the first, all URLs together
};

namespace detail {
struct ClientState;
}

/// An HTTP(S) client bound to one event loop. Not thread-safe: make it, call it and destroy it on
/// the thread that runs its executor (a single-threaded io_context, or a strand); many coroutines
/// on that loop may use it at once. Destroy it before its io_context. Requests already running
/// keep the shared state alive until they finish.
///
/// A final non-2xx status is returned, not thrown (call raise_for_status()); HttpError and
/// TimeoutError report requests that produced no final response.
class Client {
 public:
  /// A client whose connections and timers run on `executor`.
  explicit Client(aio::Executor executor, ClientOptions options = {});
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  /// Closes the idle pooled connections.
  ~Client();

  /// GET `url` with `params` appended to its query and extra header fields.
  [[nodiscard]] aio::Task<Response> get(std::string url, Params params = {}, Headers headers = {});
  /// HEAD: as get, without a body.
  [[nodiscard]] aio::Task<Response> head(std::string url, Params params = {}, Headers headers = {});
  /// Any request.
  [[nodiscard]] aio::Task<Response> request(Request request);

  /// The options in force.
  [[nodiscard]] const ClientOptions& options() const noexcept;
  /// Counters so far.
  [[nodiscard]] ClientStats stats() const noexcept;
  /// Closes every idle pooled connection.
  void close_idle();

 private:
  std::shared_ptr<detail::ClientState> state_;
};

/// A blocking client for serial code: owns an io_context and a Client, and runs the loop during
/// each call, so keep-alive connections are reused between calls. Not thread-safe; not for use
/// inside a coroutine (it would block the loop).
class SyncClient {
 public:
  explicit SyncClient(ClientOptions options = {});
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;
  ~SyncClient();

  /// Blocking GET; throws as Client::get.
  Response get(std::string url, Params params = {}, Headers headers = {});
  /// Blocking HEAD.
  Response head(std::string url, Params params = {}, Headers headers = {});
  /// Blocking request.
  Response request(Request request);
  /// Counters so far.
  [[nodiscard]] ClientStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One blocking GET on a fresh connection (Python's requests.get).
Response get(std::string url, Params params = {}, Headers headers = {}, ClientOptions options = {});

/// `url` with `params` appended to its query, each name and value percent-encoded as Params says.
/// Throws std::invalid_argument when `url` is not an absolute http or https URL.
[[nodiscard]] std::string build_url(std::string_view url, const Params& params = {});

/// The wait a Retry-After value asks for: delta-seconds ("120") or an HTTP-date (IMF-fixdate,
/// RFC 850 or asctime form) relative to `now`; a past date is zero; std::nullopt if malformed.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// The back-off before retry `retry` (1 for the first retry): uniform in [d/2, d] with
/// d = min(cap, base * 2^(retry-1)).
[[nodiscard]] std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds base,
                                                      std::chrono::milliseconds cap, std::mt19937_64& rng);

}  // namespace parlab::http
