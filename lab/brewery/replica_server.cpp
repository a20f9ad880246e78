#include "lab/brewery/replica_server.hpp"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab::brewery {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// What happens to one response: how long it waits, and which fault (if any) it gets.
struct Plan {
  std::chrono::nanoseconds delay{};
  bool drop = false;
  bool fail = false;
  bool truncate = false;
  bool slow = false;
};

bool valid_rate(double p) { return p >= 0.0 && p <= 1.0; }  // false for NaN

/// Throws ServerError when `o` cannot make a server: no dataset, no thread, a negative delay, a
/// fault rate outside [0, 1], an empty rate limit window, limits or timeouts out of range.
void validate_server_options(const ServerOptions& o) {
  if (!o.data) throw ServerError{"the replica server needs a dataset"};
  if (o.threads < 1) throw ServerError{"threads must be at least 1"};
  if (o.latency.count() < 0 || o.jitter.count() < 0)
    throw ServerError{"latency and jitter must not be negative"};
  const std::pair<const char*, double> rates[] = {{"fail", o.faults.fail_rate},
                                                  {"drop", o.faults.drop_rate},
                                                  {"truncate", o.faults.truncate_rate},
                                                  {"slow", o.faults.slow_rate}};
  for (const auto& [name, p] : rates)
    if (!valid_rate(p))
      throw ServerError{std::string{name} + " rate must be between 0 and 1 (got " + std::to_string(p) + ")"};
  if (o.faults.slow_delay.count() < 0) throw ServerError{"slow delay must not be negative"};
  if (o.rate_limit && (o.rate_limit->limit < 1 || o.rate_limit->window.count() < 1))
    throw ServerError{"the rate limit needs at least 1 request per window of at least 1 s"};
  if (o.header_limit < 64 || o.header_limit > 0xFFFF'FFFFU) throw ServerError{"header limit out of range"};
  if (o.read_timeout.count() <= 0 || o.write_timeout.count() <= 0)
    throw ServerError{"read and write timeouts must be positive"};
}

/// Everything a running server shares between its threads and connections.
struct Core {
  explicit Core(ServerOptions o)
      : options{(validate_server_options(o), std::move(o))},
        api{options.data, ApiOptions{options.rate_limit, options.seed}},
        rng{options.seed ^ 0x9E37'79B9'7F4A'7C15ULL} {}

  ServerOptions options;
  Api api;
  std::mutex rng_mutex;
  std::mt19937_64 rng;

  std::mutex lifecycle;
  std::unique_ptr<net::ssl::context> ssl;
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> running{false};

  std::atomic<std::uint64_t> connections{0}, open{0}, peak{0}, requests{0}, bad{0};
  std::atomic<std::uint64_t> dropped{0}, failed{0}, truncated{0}, slowed{0}, rate_limited{0};

  Plan draw() {
    std::lock_guard lock{rng_mutex};
    const auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    Plan p;
    const double jitter =
        (2 * unit() - 1) * static_cast<double>(std::chrono::nanoseconds{options.jitter}.count());
    const double base = static_cast<double>(std::chrono::nanoseconds{options.latency}.count());
    p.delay = std::chrono::nanoseconds{static_cast<std::int64_t>(std::max(0.0, base + jitter))};
    p.drop = unit() < options.faults.drop_rate;
    p.fail = unit() < options.faults.fail_rate;
    p.truncate = unit() < options.faults.truncate_rate;
    p.slow = unit() < options.faults.slow_rate;
    if (p.slow) p.delay += options.faults.slow_delay;
    return p;
  }
};

/// Counts a connection as open for its lifetime.
class Tracked {
 public:
  explicit Tracked(Core& s) : s_{s} {
    ++s_.connections;
    const auto now = ++s_.open;
    auto peak = s_.peak.load();
    while (now > peak && !s_.peak.compare_exchange_weak(peak, now)) {
    }
  }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { --s_.open; }

 private:
  Core& s_;
};

template <bool Tls>
using Stream = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

template <bool Tls>
Stream<Tls> make_stream(tcp::socket socket, Core& self) {
  if constexpr (Tls)
    return Stream<Tls>{std::move(socket), *self.ssl};
  else
    return Stream<Tls>{std::move(socket)};
}

/// Ends a connection after its last response: TLS close_notify, or a TCP half-close followed by
/// reading (and discarding) what the client still sends, for a short while, so that closing with
/// unread input does not reset the connection before the client has read the response.
template <bool Tls>
net::awaitable<void> close_gracefully(Stream<Tls>* stream, const Core* self) {
  auto& lowest = beast::get_lowest_layer(*stream);
  lowest.expires_after(
      std::min<std::chrono::milliseconds>(self->options.read_timeout, std::chrono::seconds{2}));
  if constexpr (Tls) {
    co_await stream->async_shutdown(use_tuple);
  } else {
    error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> scratch;
    for (;;) {
      auto [rec, n] = co_await lowest.async_read_some(net::buffer(scratch), use_tuple);
      if (rec) break;
    }
  }
}

http::response<http::string_body> to_http(Response r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  for (auto& [name, value] : r.headers)
    res.set(name, value);
  res.set(http::field::server, "parlab-serve");
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

Response error_response(unsigned status, const std::string& message) {
  return Response{
      status,
      {{"Content-Type", "application/json"}},
      nlohmann::json{{"message", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

template <bool Tls>
net::awaitable<void> session(Core* self, tcp::socket socket) {
  try {
    Tracked tracked{*self};
    std::string client = "unknown";
    {
      error_code ec;
      const auto peer = socket.remote_endpoint(ec);
      if (!ec) client = peer.address().to_string();
    }
    auto stream = make_stream<Tls>(std::move(socket), *self);
    auto& lowest = beast::get_lowest_layer(stream);
    const auto& o = self->options;
    if constexpr (Tls) {
      lowest.expires_after(o.read_timeout);
      auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_tuple);
      if (ec) co_return;
    }
    const auto http_category = &http::make_error_code(http::error::bad_target).category();
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(o.header_limit));
      parser.body_limit(o.body_limit);
      lowest.expires_after(o.read_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (ec == http::error::end_of_stream) {
        co_await close_gracefully<Tls>(&stream, self);
        co_return;
      }
      if (ec) {
        Response r;
        if (ec == http::error::header_limit)
          r = error_response(431, "Request Header Fields Too Large");
        else if (ec == http::error::body_limit)
          r = error_response(413, "Payload Too Large");
        else if (&ec.category() == http_category)
          r = error_response(400, "Bad Request: " + ec.message());
        else
          co_return;  // timed out, reset, or a TLS failure: nobody to answer
        ++self->bad;
        auto res = to_http(std::move(r), 11, false);
        lowest.expires_after(o.write_timeout);
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        if (!wec) co_await close_gracefully<Tls>(&stream, self);
        co_return;
      }
      ++self->requests;
      const auto& req = parser.get();
      const bool head = req.method() == http::verb::head;
      const bool known_version = req.version() == 10 || req.version() == 11;
      bool keep_alive = req.keep_alive() && known_version;
      Response r;
      if (!known_version) {
        ++self->bad;
        r = error_response(400, "Bad Request: only HTTP/1.0 and HTTP/1.1 are served");
      } else if (req.version() == 11 && req.find(http::field::host) == req.end()) {
        ++self->bad;
        r = error_response(400, "Bad Request: HTTP/1.1 needs a Host header");
        keep_alive = false;
      } else {
        const auto host = req.find(http::field::host);
        r = self->api.handle(
            Request{std::string{req.method_string()}, std::string{req.target()}, client,
                    std::chrono::steady_clock::now(),
                    std::string{Tls ? "https://" : "http://"} +
                        (host == req.end() ? std::string{"localhost"} : std::string{host->value()}),
                    std::string{req[http::field::if_none_match]}});
        if (r.status == 429) ++self->rate_limited;
      }

      const Plan plan = self->draw();
      if (plan.slow) ++self->slowed;
      if (plan.delay.count() > 0) {
        net::steady_timer timer{stream.get_executor()};
        timer.expires_after(plan.delay);
        co_await timer.async_wait(use_tuple);
      }
      if (plan.drop) {
        ++self->dropped;
        error_code ignored;
        lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest.close();
        co_return;
      }
      if (plan.fail) {
        ++self->failed;
        Response failure = error_response(503, "Service Unavailable (fault injected by parlab serve)");
        for (auto& h : r.headers)
          if (h.first.starts_with("X-RateLimit")) failure.headers.push_back(std::move(h));
        failure.headers.emplace_back("Retry-After", "1");
        r = std::move(failure);
      }
      auto res = to_http(std::move(r), known_version ? req.version() : 11, keep_alive && !plan.truncate);
      if (head) res.body().clear();  // Content-Length stays that of the GET
      lowest.expires_after(o.write_timeout);
      if (plan.truncate) {
        ++self->truncated;
        std::ostringstream wire;
        wire << res.base();
        const auto& body = res.body();
        std::string bytes = wire.str() + body.substr(0, body.size() / 2);
        co_await net::async_write(stream, net::buffer(bytes), use_tuple);
        lowest.close();
        co_return;
      }
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec) co_return;
      if (!keep_alive) {
        co_await close_gracefully<Tls>(&stream, self);
        co_return;
      }
    }
  } catch (const std::exception&) {
    // A connection's failure ends that connection only.
  }
}

net::awaitable<void> accept_loop(Core* self) {
  for (;;) {
    auto [ec, socket] = co_await self->acceptor->async_accept(net::make_strand(*self->ioc), use_tuple);
    if (ec == net::error::operation_aborted || !self->acceptor->is_open()) co_return;
    if (ec) {  // e.g. out of file descriptors: wait instead of spinning
      net::steady_timer pause{self->acceptor->get_executor()};
      pause.expires_after(std::chrono::milliseconds{20});
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto executor = socket.get_executor();
    if (self->ssl)
      net::co_spawn(executor, session<true>(self, std::move(socket)), net::detached);
    else
      net::co_spawn(executor, session<false>(self, std::move(socket)), net::detached);
  }
}

}  // namespace

struct ReplicaServer::Impl : Core {
  using Core::Core;
};

ReplicaServer::ReplicaServer(ServerOptions options) : impl_{std::make_unique<Impl>(std::move(options))} {}

ReplicaServer::~ReplicaServer() { stop(); }

void ReplicaServer::start() {
  auto& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (s.running) throw ServerError{"the replica server is already running"};
  const auto& o = s.options;
  if (o.tls) {
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1);
    error_code ec;
    ctx->use_certificate_chain_file(o.tls->cert.string(), ec);
    if (ec)
      throw ServerError{"cannot load the TLS certificate " + o.tls->cert.string() + ": " + ec.message()};
    ctx->use_private_key_file(o.tls->key.string(), net::ssl::context::pem, ec);
    if (ec) throw ServerError{"cannot load the TLS private key " + o.tls->key.string() + ": " + ec.message()};
    s.ssl = std::move(ctx);
  }
  auto ioc = std::make_unique<net::io_context>(static_cast<int>(o.threads));
  error_code ec;
  tcp::resolver resolver{*ioc};
  const auto endpoints = resolver.resolve(o.host, std::to_string(o.port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw ServerError{"cannot resolve host '" + o.host + "': " + ec.message()};
  const std::string where = o.host + ":" + std::to_string(o.port);
  std::unique_ptr<tcp::acceptor> acceptor;
  for (const auto& entry : endpoints) {
    auto candidate = std::make_unique<tcp::acceptor>(*ioc);
    ec.clear();
    candidate->open(entry.endpoint().protocol(), ec);
    if (!ec) candidate->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) candidate->bind(entry.endpoint(), ec);
    if (!ec) candidate->listen(net::socket_base::max_listen_connections, ec);
    if (!ec) {
      acceptor = std::move(candidate);
      break;
    }
  }
  if (!acceptor)
    throw ServerError{"cannot listen on " + where + ": " + (ec ? ec.message() : "no address to bind")};
  s.port = acceptor->local_endpoint().port();
  s.acceptor = std::move(acceptor);
  s.ioc = std::move(ioc);
  net::co_spawn(*s.ioc, accept_loop(&s), net::detached);
  for (std::size_t i = 0; i < o.threads; ++i) {
    s.threads.emplace_back([io = s.ioc.get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception&) {
          // a handler escaped with an exception: keep serving the others
        }
      }
    });
  }
  s.running = true;
}

void ReplicaServer::stop() {
  auto& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (!s.ioc) return;
  s.running = false;
  s.ioc->stop();
  for (auto& t : s.threads)
    t.join();
  s.threads.clear();
  s.acceptor.reset();
  s.ioc.reset();  // destroys every pending connection
  s.ssl.reset();
}

bool ReplicaServer::running() const { return impl_->running; }

std::uint16_t ReplicaServer::port() const { return impl_->port; }

std::string ReplicaServer::url() const {
  const auto& host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return std::string{impl_->options.tls ? "https" : "http"} + "://" + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port());
}

ServerStats ReplicaServer::stats() const {
  const auto& s = *impl_;
  return ServerStats{s.connections, s.open,   s.peak,      s.requests, s.bad,
                     s.dropped,     s.failed, s.truncated, s.slowed,   s.rate_limited};
}

const ServerOptions& ReplicaServer::options() const { return impl_->options; }

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  const rlim_t ceiling = limit.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_max;
  if (limit.rlim_cur < ceiling) {
    rlimit raised = limit;
    raised.rlim_cur = ceiling;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace parlab::brewery
