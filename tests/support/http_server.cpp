#include "support/http_server.hpp"

#include <openssl/ssl.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

namespace parlab::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

std::string SeenRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (beast::iequals(n, name)) return v;
  }
  return "";
}

std::string SeenRequest::path() const { return target.substr(0, target.find('?')); }

std::string SeenRequest::query() const {
  const auto q = target.find('?');
  return q == std::string::npos ? "" : target.substr(q + 1);
}

// Members are destroyed in reverse order: the io_context (and with it every pending connection)
// goes before the TLS context and the counters the connections use.
struct HttpServer::State {
  mutable std::mutex mu;
  std::size_t connections = 0;
  std::size_t open = 0;
  std::size_t max_open = 0;
  std::size_t closed = 0;
  std::size_t handshake_failures = 0;
  std::size_t unasked_sent = 0;
  std::vector<SeenRequest> requests;
  std::vector<std::string> sni_names;

  Handler handler;
  std::optional<ssl::context> tls;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread thread;

  void connection_closed() {
    std::lock_guard lock{mu};
    --open;
    ++closed;
  }
};

namespace {

using State = HttpServer::State;

template <class Stream>
void close_stream(Stream& stream) {
  boost::system::error_code ec;
  auto& socket = beast::get_lowest_layer(stream).socket();
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

Reply call_handler(State* self, const SeenRequest& seen) {
  try {
    return self->handler(seen);
  } catch (const std::exception& e) {
    return Reply{.status = 500, .body = std::string("handler threw: ") + e.what()};
  }
}

template <class Stream>
asio::awaitable<void> serve(State* self, Stream stream, std::size_t id, std::string sni) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    bhttp::request<bhttp::string_body> request;
    co_await bhttp::async_read(stream, buffer, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    SeenRequest seen;
    seen.method = std::string(request.method_string());
    seen.target = std::string(request.target());
    for (const auto& field : request)
      seen.headers.emplace_back(field.name_string(), field.value());
    seen.connection = id;
    seen.sni = sni;
    {
      std::lock_guard lock{self->mu};
      self->requests.push_back(seen);
    }
    const Reply reply = call_handler(self, seen);
    if (reply.delay.count() > 0) {
      asio::steady_timer timer{self->io, reply.delay};
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (reply.action == Reply::Action::drop) break;
    if (reply.action == Reply::Action::hang) {
      asio::steady_timer timer{self->io, std::chrono::hours{24}};
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    if (reply.action == Reply::Action::raw) {
      co_await asio::async_write(stream, asio::buffer(reply.raw),
                                 asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    if (reply.action == Reply::Action::raw_then_respond) {
      co_await asio::async_write(stream, asio::buffer(reply.raw),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(reply.status), request.version()};
    bool close_requested = false;
    for (const auto& [name, value] : reply.headers) {
      response.insert(name, value);
      if (beast::iequals(name, "Connection") && beast::iequals(value, "close")) close_requested = true;
    }
    if (request.method() == bhttp::verb::head) {
      response.content_length(reply.body.size());
    } else {
      response.body() = reply.body;
      response.prepare_payload();
    }
    const bool keep = request.keep_alive() && !close_requested;
    response.keep_alive(keep);
    co_await bhttp::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && reply.action == Reply::Action::respond_then_raw) {
      asio::steady_timer timer{self->io, reply.raw_delay};
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_await asio::async_write(stream, asio::buffer(reply.raw),
                                 asio::redirect_error(asio::use_awaitable, ec));
      std::lock_guard lock{self->mu};
      ++self->unasked_sent;
    }
    if (ec || !keep || reply.action == Reply::Action::respond_and_close) break;
  }
  close_stream(stream);
  self->connection_closed();
}

asio::awaitable<void> serve_tls(State* self, tcp::socket socket, std::size_t id) {
  beast::ssl_stream<beast::tcp_stream> stream{beast::tcp_stream{std::move(socket)}, *self->tls};
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds{30});
  boost::system::error_code ec;
  co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  beast::get_lowest_layer(stream).expires_never();
  const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  std::string sni = name != nullptr ? name : "";
  {
    std::lock_guard lock{self->mu};
    self->sni_names.push_back(sni);
    if (ec) ++self->handshake_failures;
  }
  if (ec) {
    close_stream(stream);
    self->connection_closed();
    co_return;
  }
  co_await serve(self, std::move(stream), id, std::move(sni));
}

asio::awaitable<void> accept_loop(State* self) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) co_return;
    if (ec) continue;
    // Each write goes out at once (no Nagle wait for the client's delayed ACK), so that a test sees
    // bytes the server wrote back to back arrive together.
    socket.set_option(tcp::no_delay{true}, ec);
    std::size_t id = 0;
    {
      std::lock_guard lock{self->mu};
      id = ++self->connections;
      ++self->open;
      self->max_open = std::max(self->max_open, self->open);
    }
    auto ignore_errors = [](const std::exception_ptr&) {};
    if (self->tls) {
      asio::co_spawn(self->io, serve_tls(self, std::move(socket), id), ignore_errors);
    } else {
      asio::co_spawn(self->io, serve(self, beast::tcp_stream{std::move(socket)}, id, std::string{}),
                     ignore_errors);
    }
  }
}

}  // namespace

HttpServer::HttpServer(Handler handler, std::optional<Tls> tls) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.handler = std::move(handler);
  if (tls) {
    s.tls.emplace(ssl::context::tls_server);
    s.tls->use_certificate_chain_file(tls->cert.string());
    s.tls->use_private_key_file(tls->key.string(), ssl::context::pem);
  }
  const tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
  s.acceptor.open(endpoint.protocol());
  s.acceptor.bind(endpoint);
  s.acceptor.listen(asio::socket_base::max_listen_connections);
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.io, accept_loop(&s), [](const std::exception_ptr&) {});
  s.thread = std::thread([&s] { s.io.run(); });
}

HttpServer::~HttpServer() {
  state_->io.stop();
  state_->thread.join();
}

std::uint16_t HttpServer::port() const { return state_->port; }

std::string HttpServer::url(std::string_view path, std::string_view host) const {
  return std::string(state_->tls ? "https://" : "http://") + std::string(host) + ":" +
         std::to_string(port()) + std::string(path);
}

std::size_t HttpServer::connections() const {
  std::lock_guard lock{state_->mu};
  return state_->connections;
}

std::size_t HttpServer::open_connections() const {
  std::lock_guard lock{state_->mu};
  return state_->open;
}

std::size_t HttpServer::max_open_connections() const {
  std::lock_guard lock{state_->mu};
  return state_->max_open;
}

std::size_t HttpServer::unasked_sent() const {
  std::lock_guard lock{state_->mu};
  return state_->unasked_sent;
}

std::size_t HttpServer::closed_connections() const {
  std::lock_guard lock{state_->mu};
  return state_->closed;
}

std::size_t HttpServer::handshake_failures() const {
  std::lock_guard lock{state_->mu};
  return state_->handshake_failures;
}

std::size_t HttpServer::request_count() const {
  std::lock_guard lock{state_->mu};
  return state_->requests.size();
}

std::vector<SeenRequest> HttpServer::requests() const {
  std::lock_guard lock{state_->mu};
  return state_->requests;
}

std::vector<std::string> HttpServer::sni_names() const {
  std::lock_guard lock{state_->mu};
  return state_->sni_names;
}

bool HttpServer::wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

}  // namespace parlab::test
