#include "parlab/http.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <deque>
#include <exception>
#include <map>
#include <system_error>

namespace parlab::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace urls = boost::urls;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string failure_message(ErrorKind kind, const std::string& url, int status, int attempts,
                            const std::string& detail) {
  return "http " + std::string(to_string(kind)) + " error: " + detail + " (url " + url + ", status " +
         std::to_string(status) + ", attempts " + std::to_string(attempts) + ")";
}

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::tls:
      return "tls";
    case ErrorKind::status:
      return "status";
    case ErrorKind::protocol:
      return "protocol";
    case ErrorKind::too_large:
      return "too_large";
    case ErrorKind::redirects:
      return "redirects";
  }
  return "unknown";
}

HttpError::HttpError(ErrorKind kind, std::string url, int status, int attempts, const std::string& detail)
    : std::runtime_error(failure_message(kind, url, status, attempts, detail)),
      ErrorDetails(kind, std::move(url), status, attempts) {}

TimeoutError::TimeoutError(std::string url, int status, int attempts, const std::string& detail)
    : parlab::TimeoutError(failure_message(ErrorKind::timeout, url, status, attempts, detail)),
      ErrorDetails(ErrorKind::timeout, std::move(url), status, attempts) {}

// ---------------------------------------------------------------------------------------------
// Headers, Response

void Headers::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void Headers::erase(std::string_view name) {
  std::erase_if(fields_, [name](const Field& f) { return beast::iequals(f.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (beast::iequals(n, name)) return std::string_view{v};
  }
  return std::nullopt;
}

const Response& Response::raise_for_status() const {
  if (!ok()) {
    throw HttpError(ErrorKind::status, url, status, attempts,
                    "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason));
  }
  return *this;
}

// ---------------------------------------------------------------------------------------------
// URLs, Retry-After, back-off

namespace {

urls::url parse_http_url(std::string_view text) {
  auto parsed = urls::parse_uri(text);
  if (!parsed) {
    throw std::invalid_argument("parlab: http: not an absolute URL: '" + std::string(text) + "' (" +
                                parsed.error().message() + ")");
  }
  urls::url url = *parsed;
  if (url.scheme_id() != urls::scheme::http && url.scheme_id() != urls::scheme::https) {
    throw std::invalid_argument("parlab: http: unsupported scheme in '" + std::string(text) +
                                "' (http or https only)");
  }
  if (!url.has_authority() || url.encoded_host().empty()) {
    throw std::invalid_argument("parlab: http: no host in '" + std::string(text) + "'");
  }
  url.remove_fragment();
  return url;
}

}  // namespace

std::string build_url(std::string_view url, const Params& params) {
  urls::url u = parse_http_url(url);
  for (const auto& [name, value] : params) {
    u.encoded_params().append(
        {urls::encode(name, urls::unreserved_chars), urls::encode(value, urls::unreserved_chars)});
  }
  return std::string(u.buffer());
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<int> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<unsigned> month_number(std::string_view s) {
  static constexpr std::array<std::string_view, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < names.size(); ++i) {
    if (names[i] == s) return i + 1;
  }
  return std::nullopt;
}

/// "hh:mm:ss" as seconds of the day.
std::optional<std::chrono::seconds> time_of_day(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = number(s.substr(0, 2)), m = number(s.substr(3, 2)), sec = number(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return std::chrono::hours{*h} + std::chrono::minutes{*m} + std::chrono::seconds{*sec};
}

std::optional<std::chrono::sys_seconds> make_time(int year, unsigned month, int day, std::string_view time) {
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  auto tod = time_of_day(time);
  if (!date.ok() || !tod) return std::nullopt;
  return std::chrono::sys_days{date} + *tod;
}

/// An HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime forms.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
  if (const auto comma = s.find(','); comma != std::string_view::npos) {
    std::string_view rest = trim(s.substr(comma + 1));
    if (rest.size() == 24 && rest[2] == ' ' && rest[6] == ' ' && rest[11] == ' ' &&
        rest.substr(20) == " GMT") {
      // IMF-fixdate: "06 Nov 1994 08:49:37 GMT"
      auto day = number(rest.substr(0, 2));
      auto month = month_number(rest.substr(3, 3));
      auto year = number(rest.substr(7, 4));
      if (!day || !month || !year) return std::nullopt;
      return make_time(*year, *month, *day, rest.substr(12, 8));
    }
    if (rest.size() == 22 && rest[2] == '-' && rest[6] == '-' && rest[9] == ' ' &&
        rest.substr(18) == " GMT") {
      // RFC 850: "06-Nov-94 08:49:37 GMT"; two-digit years 70..99 are 19xx.
      auto day = number(rest.substr(0, 2));
      auto month = month_number(rest.substr(3, 3));
      auto year = number(rest.substr(7, 2));
      if (!day || !month || !year) return std::nullopt;
      return make_time(*year < 70 ? 2000 + *year : 1900 + *year, *month, *day, rest.substr(10, 8));
    }
    return std::nullopt;
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ') return std::nullopt;
  auto month = month_number(s.substr(4, 3));
  auto day = number(trim(s.substr(8, 2)));
  auto year = number(s.substr(20, 4));
  if (!day || !month || !year) return std::nullopt;
  return make_time(*year, *month, *day, s.substr(11, 8));
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    constexpr std::uint64_t max_seconds = 365ULL * 24 * 3600;  // longer demands are absurd; clamp
    std::uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range || seconds > max_seconds) seconds = max_seconds;
    return std::chrono::duration_cast<milliseconds>(std::chrono::seconds{seconds});
  }
  const auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds{0};
  return std::chrono::ceil<milliseconds>(*date - now);
}

milliseconds backoff_delay(int retry, milliseconds base, milliseconds cap, std::mt19937_64& rng) {
  const int doublings = std::clamp(retry - 1, 0, 40);
  const double grown =
      static_cast<double>(std::max<milliseconds::rep>(base.count(), 0)) * std::ldexp(1.0, doublings);
  const auto full = static_cast<long long>(
      std::min(grown, static_cast<double>(std::max<milliseconds::rep>(cap.count(), 0))));
  std::uniform_int_distribution<long long> pick{full / 2, full};
  return milliseconds{pick(rng)};
}

// ---------------------------------------------------------------------------------------------
// The client's state: TLS context, per-host pools of connections, counters.

namespace detail {

/// One keep-alive connection, plain or TLS.
struct Connection {
  Connection(const asio::any_io_executor& executor, ssl::context* tls_context) {
    if (tls_context != nullptr) {
      tls.emplace(executor, *tls_context);
    } else {
      plain.emplace(executor);
    }
  }
  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }

  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
};

/// A request waiting for a free connection slot of its host.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  bool granted = false;
};

/// The connections of one (scheme, host, port): `in_use` slots out of the cap, idle connections
/// ready for reuse, and the FIFO of requests waiting for a slot.
struct HostPool {
  std::size_t in_use = 0;
  std::vector<std::unique_ptr<Connection>> idle;
  std::deque<std::shared_ptr<Waiter>> waiters;
};

struct ClientState {
  ClientState(asio::any_io_executor ex, ClientOptions opts)
      : executor(std::move(ex)), options(std::move(opts)) {
    if (options.max_attempts < 1) {
      throw std::invalid_argument("parlab: http: max_attempts must be at least 1");
    }
    if (options.max_connections_per_host < 1) {
      throw std::invalid_argument("parlab: http: max_connections_per_host must be at least 1");
    }
    if (options.max_redirects < 0) throw std::invalid_argument("parlab: http: max_redirects must be >= 0");
    if (!options.ca_file.empty()) (void)tls_context();  // a bad ca_file is an error now, not at first use
    rng.seed(options.jitter_seed ? *options.jitter_seed
                                 : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  }

  /// The TLS context, made at the first https request (loading the system's CA bundle costs
  /// milliseconds, which a client that only speaks http should not pay).
  ssl::context& tls_context() {
    if (tls) return *tls;
    ssl::context context{ssl::context::tls_client};
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      context.set_default_verify_paths(ec);
      if (ec) {
        throw std::runtime_error("parlab: http: cannot use the system's CA certificates: " + ec.message());
      }
    } else {
      context.load_verify_file(options.ca_file, ec);
      if (ec) {
        throw std::invalid_argument("parlab: http: cannot load ca_file '" + options.ca_file +
                                    "': " + ec.message());
      }
    }
    return tls.emplace(std::move(context));
  }

  HostPool& pool(const std::string& key) {
    auto& slot = pools[key];
    if (!slot) slot = std::make_unique<HostPool>();
    return *slot;
  }

  asio::any_io_executor executor;
  ClientOptions options;
  std::optional<ssl::context> tls;
  std::map<std::string, std::unique_ptr<HostPool>> pools;
  std::mt19937_64 rng;
  ClientStats stats;
};

}  // namespace detail

namespace {

using detail::ClientState;
using detail::Connection;
using detail::HostPool;
using detail::Waiter;
using Message = bhttp::response<bhttp::string_body>;
using OutRequest = bhttp::request<bhttp::empty_body>;

constexpr std::uint32_t header_limit = 64 * 1024;

/// Where a URL points: the pool key and what connecting needs.
struct Target {
  bool https = false;
  std::string host;  // without IPv6 brackets, lower case
  std::uint16_t port = 0;
  bool host_is_name = true;
  std::string key;
};

Target target_of(const urls::url& url) {
  Target t;
  t.https = url.scheme_id() == urls::scheme::https;
  t.host = url.host_address();
  std::transform(t.host.begin(), t.host.end(), t.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t.port = url.has_port() ? url.port_number() : static_cast<std::uint16_t>(t.https ? 443 : 80);
  t.host_is_name = url.host_type() == urls::host_type::name;
  t.key = (t.https ? "https://" : "http://") + t.host + ":" + std::to_string(t.port);
  return t;
}

/// When a request must be done, and the total timeout that set it (for messages).
struct Deadline {
  Clock::time_point at;
  milliseconds total;
};

/// Why one attempt failed, and whether another attempt may help.
struct Failure {
  ErrorKind kind = ErrorKind::connect;
  bool retryable = false;
  std::string detail;
};

/// An operation cancelled by the caller (aio::wait_for, a failing gather) ends the request at once.
void throw_if_aborted(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
}

// --- connection slots ---

void release_slot(HostPool& pool) {
  if (!pool.waiters.empty()) {
    auto waiter = std::move(pool.waiters.front());
    pool.waiters.pop_front();
    waiter->granted = true;  // the slot passes to the waiter; in_use stays
    waiter->timer.cancel();
    return;
  }
  --pool.in_use;
}

/// Ownership of one connection slot of a host; released on destruction.
class Slot {
 public:
  Slot() = default;
  Slot(std::shared_ptr<ClientState> state, HostPool* pool) : state_(std::move(state)), pool_(pool) {}
  Slot(Slot&& other) noexcept : state_(std::move(other.state_)), pool_(std::exchange(other.pool_, nullptr)) {}
  Slot& operator=(Slot&&) = delete;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() {
    if (pool_ != nullptr) release_slot(*pool_);
  }
  explicit operator bool() const noexcept { return pool_ != nullptr; }

 private:
  std::shared_ptr<ClientState> state_;
  HostPool* pool_ = nullptr;
};

/// Leaves the queue on every exit path; a slot granted but never taken is passed on.
struct WaiterGuard {
  WaiterGuard(HostPool* p, std::shared_ptr<Waiter> w) : pool(p), waiter(std::move(w)) {}
  HostPool* pool;
  std::shared_ptr<Waiter> waiter;
  bool taken = false;
  WaiterGuard(const WaiterGuard&) = delete;
  WaiterGuard& operator=(const WaiterGuard&) = delete;
  ~WaiterGuard() {
    if (taken) return;
    if (waiter->granted) {
      release_slot(*pool);
    } else {
      std::erase(pool->waiters, waiter);
    }
  }
};

/// A slot of `pool`, waiting in FIFO order until `deadline`; an empty Slot when the deadline passed.
asio::awaitable<Slot> acquire_slot(std::shared_ptr<ClientState> state, HostPool* pool,
                                   Clock::time_point deadline) {
  if (pool->in_use < state->options.max_connections_per_host && pool->waiters.empty()) {
    ++pool->in_use;
    co_return Slot{state, pool};
  }
  WaiterGuard guard{pool, std::make_shared<Waiter>(state->executor)};
  guard.waiter->timer.expires_at(deadline);
  pool->waiters.push_back(guard.waiter);
  boost::system::error_code ec;
  co_await guard.waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (guard.waiter->granted) {
    guard.taken = true;
    co_return Slot{state, pool};
  }
  throw_if_aborted(ec);
  co_return Slot{};
}

// --- connecting ---

struct Opened {
  std::unique_ptr<Connection> connection;
  Failure failure;
};

Failure timeout_failure(bool total, const std::string& what, milliseconds limit) {
  // A connect timeout is retryable; the total timeout ends the request.
  return Failure{
      ErrorKind::timeout, !total,
      what + " timed out (" + (total ? "total_timeout " : "connect_timeout ") + ms_text(limit) + ")"};
}

std::string tls_failure_detail(Connection& conn, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(conn.tls->native_handle());
  if (verify != X509_V_OK) {
    return std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
  }
  return "TLS handshake failed: " + ec.message();
}

asio::awaitable<Opened> open_connection(std::shared_ptr<ClientState> state, Target target,
                                        Deadline deadline) {
  const ClientOptions& options = state->options;
  const auto connect_deadline = std::min(deadline.at, Clock::now() + options.connect_timeout);
  const bool total = connect_deadline == deadline.at;
  const milliseconds limit = total ? deadline.total : options.connect_timeout;
  const std::string where = target.host + ":" + std::to_string(target.port);
  Opened out;
  boost::system::error_code ec;

  // getaddrinfo cannot be interrupted, so the lookup is not awaited directly: its handler signals
  // a timer that expires at the connect deadline, and a lookup still running then is abandoned.
  struct Lookup {
    explicit Lookup(const asio::any_io_executor& executor) : resolver(executor), signal(executor) {}
    tcp::resolver resolver;
    asio::steady_timer signal;
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec;
    bool done = false;
  };
  auto lookup = std::make_shared<Lookup>(state->executor);
  lookup->signal.expires_at(connect_deadline);
  const std::string service = std::to_string(target.port);
  lookup->resolver.async_resolve(
      target.host, service,
      [lookup](const boost::system::error_code& e, tcp::resolver::results_type results) {
        lookup->ec = e;
        lookup->endpoints = std::move(results);
        lookup->done = true;
        lookup->signal.cancel();
      });
  co_await lookup->signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!lookup->done) {
    lookup->resolver.cancel();
    throw_if_aborted(ec);  // cancelled by the caller, not by the lookup's handler
    out.failure = timeout_failure(total, "resolving " + target.host, limit);
    co_return out;
  }
  if (lookup->ec) {
    out.failure = Failure{ErrorKind::connect, lookup->ec != asio::error::host_not_found,
                          "cannot resolve " + target.host + ": " + lookup->ec.message()};
    co_return out;
  }

  auto conn = std::make_unique<Connection>(state->executor, target.https ? &state->tls_context() : nullptr);
  conn->tcp().expires_at(connect_deadline);
  co_await conn->tcp().async_connect(lookup->endpoints, asio::redirect_error(asio::use_awaitable, ec));
  throw_if_aborted(ec);
  if (ec) {
    out.failure = ec == beast::error::timeout
                      ? timeout_failure(total, "connecting to " + where, limit)
                      : Failure{ErrorKind::connect, true, "cannot connect to " + where + ": " + ec.message()};
    co_return out;
  }
  ++state->stats.connections_opened;
  conn->tcp().socket().set_option(tcp::no_delay(true), ec);

  if (target.https) {
    SSL* ssl_handle = conn->tls->native_handle();
    bool configured = true;
    if (target.host_is_name) {
      // SNI, and the certificate must name this host.
      configured = SSL_set_tlsext_host_name(ssl_handle, target.host.c_str()) == 1 &&
                   SSL_set1_host(ssl_handle, target.host.c_str()) == 1;
    } else {
      configured = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), target.host.c_str()) == 1;
    }
    if (!configured) {
      out.failure = Failure{ErrorKind::tls, false, "cannot set up TLS for " + target.host};
      co_return out;
    }
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl_handle), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    conn->tcp().expires_at(connect_deadline);
    co_await conn->tls->async_handshake(ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, ec));
    throw_if_aborted(ec);
    if (ec) {
      if (ec == beast::error::timeout) {
        out.failure = timeout_failure(total, "TLS handshake with " + where, limit);
      } else if (ec.category() == asio::error::get_ssl_category() && ec != ssl::error::stream_truncated) {
        out.failure = Failure{ErrorKind::tls, false, tls_failure_detail(*conn, ec)};
      } else {
        out.failure =
            Failure{ErrorKind::connect, true, "TLS handshake with " + where + " failed: " + ec.message()};
      }
      co_return out;
    }
  }
  out.connection = std::move(conn);
  co_return out;
}

// --- one exchange on a connection ---

struct Exchange {
  boost::system::error_code ec;
  bool got_some = false;  // some byte of a response arrived
  bool keep_alive = false;
  Message message;
};

template <class Stream>
asio::awaitable<Exchange> exchange(Stream* stream, Connection* conn, OutRequest request, bool head,
                                   std::size_t body_limit, Clock::time_point deadline) {
  Exchange out;
  conn->tcp().expires_at(deadline);
  co_await bhttp::async_write(*stream, request, asio::redirect_error(asio::use_awaitable, out.ec));
  throw_if_aborted(out.ec);
  if (out.ec) co_return out;
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    parser.skip(head);
    co_await bhttp::async_read(*stream, conn->buffer, parser,
                               asio::redirect_error(asio::use_awaitable, out.ec));
    throw_if_aborted(out.ec);
    out.got_some = out.got_some || parser.got_some();
    if (out.ec) co_return out;
    const unsigned status = parser.get().result_int();
    if (status >= 100 && status < 200 && status != 101) continue;  // interim response: the real one follows
    out.keep_alive = parser.keep_alive();
    out.message = parser.release();
    co_return out;
  }
}

const boost::system::error_category& http_category() {
  return bhttp::make_error_code(bhttp::error::bad_version).category();
}

Failure classify(const boost::system::error_code& ec, const ClientOptions& options, Deadline deadline) {
  if (ec == beast::error::timeout) return timeout_failure(true, "the request", deadline.total);
  if (ec == bhttp::error::body_limit) {
    return {ErrorKind::too_large, false,
            "response body larger than max_body_bytes (" + std::to_string(options.max_body_bytes) + ")"};
  }
  if (ec == bhttp::error::header_limit) {
    return {ErrorKind::too_large, false,
            "response header larger than " + std::to_string(header_limit) + " bytes"};
  }
  if (ec == bhttp::error::end_of_stream) {
    return {ErrorKind::connect, true, "connection closed before a response"};
  }
  if (ec == bhttp::error::partial_message) {
    return {ErrorKind::connect, true, "connection closed mid-response (truncated message)"};
  }
  if (ec.category() == http_category()) {
    return {ErrorKind::protocol, false, "malformed response: " + ec.message()};
  }
  if (ec == ssl::error::stream_truncated) return {ErrorKind::connect, true, "TLS stream truncated"};
  if (ec.category() == asio::error::get_ssl_category()) {
    return {ErrorKind::tls, false, "TLS error: " + ec.message()};
  }
  return {ErrorKind::connect, true, "connection failed: " + ec.message()};
}

/// A pooled connection the server closed while it sat idle: the write fails, or the read ends
/// before any byte of a response.
bool is_stale(const Exchange& ex) {
  if (ex.got_some) return false;
  return ex.ec == bhttp::error::end_of_stream || ex.ec == asio::error::eof ||
         ex.ec == asio::error::connection_reset || ex.ec == asio::error::broken_pipe ||
         ex.ec == asio::error::connection_aborted || ex.ec == ssl::error::stream_truncated;
}

/// What one attempt got: a response, or why there is none.
struct AttemptResult {
  std::optional<Message> response;
  Failure failure;
  bool reused = false;  // the response came on a pooled connection that had carried earlier ones
};

/// Whether a pooled connection can carry a request: nothing arrived on it while it sat idle. Bytes
/// that nobody asked for (an unsolicited response, which would be read as the next request's
/// answer) or the server's close make it unusable.
bool quiet_while_idle(Connection& conn) {
  if (conn.tls) {  // bytes the TLS layer has read already: decrypted, or not yet decrypted
    SSL* ssl = conn.tls->native_handle();
    if (SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0) return false;
  }
  char byte = 0;
  const ssize_t n = ::recv(conn.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/// A pooled connection fit for the next request, or null (the unfit ones are closed).
std::unique_ptr<Connection> take_idle(ClientState& state, HostPool& pool) {
  while (!pool.idle.empty()) {
    std::unique_ptr<Connection> conn = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (quiet_while_idle(*conn)) return conn;
    ++state.stats.idle_dropped;
  }
  return nullptr;
}

/// One attempt: a slot, a connection (pooled or new; always new with `new_connection`, which is
/// then closed after it), one request and its response. A pooled connection found stale is
/// replaced once by a fresh one within the same attempt.
asio::awaitable<AttemptResult> attempt(std::shared_ptr<ClientState> state, Target target, OutRequest request,
                                       bool head, bool new_connection, Deadline deadline) {
  HostPool* pool = &state->pool(target.key);
  Slot slot = co_await acquire_slot(state, pool, deadline.at);
  AttemptResult out;
  if (!slot) {
    out.failure = timeout_failure(true, "waiting for a free connection to " + target.key, deadline.total);
    co_return out;
  }
  std::unique_ptr<Connection> conn;
  if (!new_connection) conn = take_idle(*state, *pool);
  bool reused = conn != nullptr;
  bool stale_retried = false;
  for (;;) {
    if (!conn) {
      Opened opened = co_await open_connection(state, target, deadline);
      if (!opened.connection) {
        out.failure = std::move(opened.failure);
        co_return out;
      }
      conn = std::move(opened.connection);
    } else {
      ++state->stats.connections_reused;
    }
    ++state->stats.requests_sent;
    Exchange ex;
    if (conn->tls) {
      ex = co_await exchange(&*conn->tls, conn.get(), request, head, state->options.max_body_bytes,
                             deadline.at);
    } else {
      ex = co_await exchange(&*conn->plain, conn.get(), request, head, state->options.max_body_bytes,
                             deadline.at);
    }
    if (!ex.ec) {
      if (ex.keep_alive && conn->buffer.size() == 0 && !new_connection) {
        conn->tcp().expires_never();
        pool->idle.push_back(std::move(conn));
      }
      out.response = std::move(ex.message);
      out.reused = reused;
      co_return out;
    }
    if (reused && !stale_retried && is_stale(ex)) {
      stale_retried = true;
      reused = false;
      conn.reset();
      ++state->stats.stale_retries;
      continue;
    }
    out.failure = classify(ex.ec, state->options, deadline);
    co_return out;
  }
}

/// Adds `fields`; the first field of each name replaces every earlier field of that name.
void apply_fields(OutRequest& out, const Headers& fields) {
  std::vector<std::string_view> replaced;
  for (const auto& [name, value] : fields) {
    const auto same = [&name](std::string_view seen) { return beast::iequals(seen, name); };
    if (std::none_of(replaced.begin(), replaced.end(), same)) {
      out.erase(name);
      replaced.push_back(name);
    }
    out.insert(name, value);
  }
}

OutRequest make_request(const ClientOptions& options, const Request& request, const urls::url& url) {
  std::string target{url.encoded_path()};
  if (target.empty()) target = "/";
  if (url.has_query()) target += "?" + std::string(url.encoded_query());
  OutRequest req{request.method == Method::head ? bhttp::verb::head : bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, std::string(url.encoded_host_and_port()));
  req.set(bhttp::field::user_agent, options.user_agent);
  req.set(bhttp::field::accept, "*/*");
  apply_fields(req, options.headers);
  apply_fields(req, request.headers);
  return req;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool is_retryable_status(int status) { return status == 429 || (status >= 500 && status <= 599); }

Response to_response(Message&& message, int attempts, int redirects, bool reused, const urls::url& url) {
  Response r;
  r.status = static_cast<int>(message.result_int());
  r.reason = std::string(message.reason());
  for (const auto& field : message)
    r.headers.add(std::string(field.name_string()), std::string(field.value()));
  r.body = std::move(message.body());
  r.attempts = attempts;
  r.redirects = redirects;
  r.connection_reused = reused;
  r.url = std::string(url.buffer());
  return r;
}

asio::awaitable<void> sleep_for(std::shared_ptr<ClientState> state, milliseconds delay) {
  asio::steady_timer timer{state->executor, delay};
  co_await timer.async_wait(asio::use_awaitable);
}

/// The wait before the next attempt after a retryable status: Retry-After for 429 and 503 (capped
/// by max_retry_after), back-off otherwise.
milliseconds retry_wait(ClientState& state, const Message& message, int attempts) {
  const int status = static_cast<int>(message.result_int());
  if (status == 429 || status == 503) {
    if (auto it = message.find(bhttp::field::retry_after); it != message.end()) {
      if (auto wait = parse_retry_after(it->value())) return std::min(*wait, state.options.max_retry_after);
    }
  }
  return backoff_delay(attempts, state.options.backoff_base, state.options.backoff_cap, state.rng);
}

constexpr std::array<std::string_view, 3> credential_fields{"Authorization", "Proxy-Authorization", "Cookie"};

/// `location` resolved against `base` (RFC 3986), when it is a usable http(s) URL.
std::optional<urls::url> resolve_location(const urls::url& base, std::string_view location) {
  auto reference = urls::parse_uri_reference(location);
  if (!reference) return std::nullopt;
  urls::url next;
  if (!urls::resolve(base, *reference, next)) return std::nullopt;
  if (next.scheme_id() != urls::scheme::http && next.scheme_id() != urls::scheme::https) return std::nullopt;
  if (!next.has_authority() || next.encoded_host().empty()) return std::nullopt;
  next.remove_fragment();
  return next;
}

/// The value of field `name`, if the message has it.
std::optional<std::string_view> field_value(const Message& message, std::string_view name) {
  const auto it = message.find(name);
  if (it == message.end()) return std::nullopt;
  return std::string_view{it->value()};
}

/// Waits for the rate limiter's next slot, if there is a limiter; false (without waiting) when
/// that slot comes at or after `latest`.
asio::awaitable<bool> wait_for_slot(std::shared_ptr<ClientState> state, Clock::time_point latest) {
  RateLimiter* const limiter = state->options.rate_limiter.get();
  if (limiter == nullptr) co_return true;
  const auto send_at = limiter->reserve();
  if (send_at >= latest) co_return false;
  const auto now = Clock::now();
  if (send_at > now) co_await sleep_for(state, std::chrono::ceil<milliseconds>(send_at - now));
  co_return true;
}

asio::awaitable<Response> run_request(std::shared_ptr<ClientState> state, Request request) {
  const ClientOptions& options = state->options;
  const milliseconds total_timeout = request.total_timeout.value_or(options.total_timeout);
  // The first slot's wait comes before the request's clock starts.
  co_await wait_for_slot(state, Clock::time_point::max());
  const Deadline deadline{Clock::now() + total_timeout, total_timeout};
  urls::url url = parse_http_url(build_url(request.url, request.params));
  const bool head = request.method == Method::head;
  int redirects = 0;
  for (;;) {
    const Target target = target_of(url);
    const OutRequest out_request = make_request(options, request, url);
    const std::string url_text{url.buffer()};
    int last_status = 0;
    int attempts = 0;
    Message message;
    bool reused = false;
    for (;;) {
      ++attempts;
      if (attempts > 1) ++state->stats.retries;
      if (attempts > 1 || redirects > 0) {  // the first attempt's slot was taken above
        const bool in_time = co_await wait_for_slot(state, deadline.at);
        if (!in_time) {
          throw TimeoutError(url_text, last_status, attempts,
                             "the rate limit's next slot comes after the total timeout");
        }
      }
      AttemptResult result =
          co_await attempt(state, target, out_request, head, request.new_connection, deadline);
      milliseconds wait{0};
      if (result.response) {
        last_status = static_cast<int>(result.response->result_int());
        if (options.rate_limiter) {
          options.rate_limiter->observe(last_status, field_value(*result.response, "X-RateLimit-Remaining"),
                                        field_value(*result.response, "Retry-After"));
        }
        bool retry = is_retryable_status(last_status) && attempts < options.max_attempts;
        if (retry) {
          wait = retry_wait(*state, *result.response, attempts);
          retry = Clock::now() + wait < deadline.at;  // no time left to wait: this answer is final
        }
        if (!retry) {
          message = std::move(*result.response);
          reused = result.reused;
          break;
        }
      } else {
        const Failure& failure = result.failure;
        bool retry = failure.retryable && attempts < options.max_attempts;
        if (retry) {
          wait = backoff_delay(attempts, options.backoff_base, options.backoff_cap, state->rng);
          retry = Clock::now() + wait < deadline.at;
        }
        if (!retry) {
          if (failure.kind == ErrorKind::timeout) {
            throw TimeoutError(url_text, last_status, attempts, failure.detail);
          }
          throw HttpError(failure.kind, url_text, last_status, attempts, failure.detail);
        }
      }
      co_await sleep_for(state, wait);
    }

    const int status = static_cast<int>(message.result_int());
    const std::string_view location = message[bhttp::field::location];
    if (!is_redirect(status) || location.empty()) {
      co_return to_response(std::move(message), attempts, redirects, reused, url);
    }
    if (redirects >= options.max_redirects) {
      throw HttpError(ErrorKind::redirects, url_text, status, attempts,
                      "more than max_redirects (" + std::to_string(options.max_redirects) + ") redirects");
    }
    auto next = resolve_location(url, location);
    if (!next) {
      throw HttpError(ErrorKind::protocol, url_text, status, attempts,
                      "redirect to an unusable Location '" + std::string(location) + "'");
    }
    if (target_of(*next).key != target.key) {
      // Credentials stay with the origin they were meant for.
      for (std::string_view name : credential_fields)
        request.headers.erase(name);
    }
    url = std::move(*next);
    ++redirects;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RateLimiter

RateLimiter::RateLimiter(std::size_t limit, std::chrono::milliseconds window)
    : limit_(limit), window_(window) {
  if (limit == 0)
    throw std::invalid_argument("parlab: http: a rate limit needs at least 1 request per window");
  if (window <= milliseconds{0})
    throw std::invalid_argument("parlab: http: a rate limit's window must be positive");
}

RateLimiter::Clock::time_point RateLimiter::reserve() {
  std::lock_guard lock{mutex_};
  const auto now = Clock::now();
  auto at = std::max(now, hold_until_);
  if (slots_.size() >= limit_) {
    at = std::max(at, slots_.front() + window_);
    slots_.pop_front();
  }
  slots_.push_back(at);
  ++stats_.requests;
  if (at > now) {
    ++stats_.delayed;
    stats_.waited += std::chrono::ceil<milliseconds>(at - now);
  }
  return at;
}

void RateLimiter::observe(int status, std::optional<std::string_view> remaining,
                          std::optional<std::string_view> retry_after) {
  std::lock_guard lock{mutex_};
  const auto now = Clock::now();
  if (status == 429 || status == 503) {
    std::optional<milliseconds> pause;
    if (retry_after) pause = parse_retry_after(*retry_after);
    if (!pause && status == 429) pause = window_;
    if (pause) hold_until_ = std::max(hold_until_, now + *pause);
    return;
  }
  if (remaining && *remaining == "0") {
    const auto in_window =
        std::count_if(slots_.begin(), slots_.end(), [&](Clock::time_point t) { return t > now - window_; });
    if (static_cast<std::size_t>(in_window) < limit_) hold_until_ = std::max(hold_until_, now + window_);
  }
}

RateLimiter::Stats RateLimiter::stats() const {
  std::lock_guard lock{mutex_};
  return stats_;
}

// ---------------------------------------------------------------------------------------------
// Client, SyncClient

Client::Client(aio::Executor executor, ClientOptions options)
    : state_(std::make_shared<ClientState>(std::move(executor), std::move(options))) {}

Client::~Client() { close_idle(); }

aio::Task<Response> Client::get(std::string url, Params params, Headers headers) {
  return request(Request{Method::get, std::move(url), std::move(params), std::move(headers)});
}

aio::Task<Response> Client::head(std::string url, Params params, Headers headers) {
  return request(Request{Method::head, std::move(url), std::move(params), std::move(headers)});
}

aio::Task<Response> Client::request(Request request) {
  // Not a coroutine itself: the frame owns the state, so the Client may go before the request.
  return run_request(state_, std::move(request));
}

const ClientOptions& Client::options() const noexcept { return state_->options; }

ClientStats Client::stats() const noexcept { return state_->stats; }

void Client::close_idle() {
  for (auto& [key, pool] : state_->pools)
    pool->idle.clear();
}

struct SyncClient::Impl {
  explicit Impl(ClientOptions options) : client(io.get_executor(), std::move(options)) {}
  asio::io_context io;
  Client client;
};

SyncClient::SyncClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

SyncClient::~SyncClient() = default;

Response SyncClient::get(std::string url, Params params, Headers headers) {
  return request(Request{Method::get, std::move(url), std::move(params), std::move(headers)});
}

Response SyncClient::head(std::string url, Params params, Headers headers) {
  return request(Request{Method::head, std::move(url), std::move(params), std::move(headers)});
}

Response SyncClient::request(Request request) {
  std::optional<Response> response;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(impl_->io, impl_->client.request(std::move(request)),
                 [&response, &error, &done](std::exception_ptr e, Response r) {
                   if (e) {
                     error = std::move(e);
                   } else {
                     response = std::move(r);
                   }
                   done = true;
                 });
  impl_->io.restart();
  // Until this request is done, not until the loop is idle: an abandoned DNS lookup may linger.
  while (!done) {
    if (impl_->io.run_one() == 0) throw std::logic_error("parlab: http: SyncClient's loop ran out of work");
  }
  if (error) std::rethrow_exception(error);
  return std::move(*response);
}

ClientStats SyncClient::stats() const noexcept { return impl_->client.stats(); }

Response get(std::string url, Params params, Headers headers, ClientOptions options) {
  SyncClient client{std::move(options)};
  return client.get(std::move(url), std::move(params), std::move(headers));
}

}  // namespace parlab::http
