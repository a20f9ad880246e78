#pragma once
/// \file
/// A local replica of the Open Brewery DB v1 API over HTTP(S): the Api engine behind a Boost.Beast
/// server with its own io_context threads, latency, rate limit and fault injection.

#include "lab/brewery/api.hpp"
#include "lab/brewery/dataset.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace parlab::brewery {

/// Per-request fault probabilities (each 0..1, drawn from the server's seeded generator).
struct Faults {
  double fail_rate = 0;      ///< answer 503 with Retry-After: 1 instead of the real response
  double drop_rate = 0;      ///< close the connection without answering
  double truncate_rate = 0;  ///< send the headers (full Content-Length), half the body, then close
  double slow_rate = 0;      ///< add slow_delay to the response's latency
  std::chrono::milliseconds slow_delay{2000};
};

/// A PEM certificate chain and private key: the server then speaks HTTPS only.
struct TlsFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

/// How a ReplicaServer listens and behaves. The defaults are faithful to the real API:
/// 80 ms ± 20 ms latency and 120 requests per minute per client IP.
struct ServerOptions {
  std::shared_ptr<const Dataset> data;    ///< required
  std::string host = "127.0.0.1";         ///< address (or name) to bind
  std::uint16_t port = 0;                 ///< 0: an ephemeral port (see ReplicaServer::port())
  std::size_t threads = 1;                ///< io_context threads
  std::chrono::milliseconds latency{80};  ///< each response waits latency ± jitter (uniform)
  std::chrono::milliseconds jitter{20};
  std::uint64_t seed = 1;  ///< seeds latency, faults and /random: same seed, same sequence
  std::optional<RateLimit> rate_limit = RateLimit{};  ///< nullopt: off
  Faults faults;
  std::optional<TlsFiles> tls;
  std::size_t header_limit = 8 * 1024;  ///< larger request headers get 431
  std::size_t body_limit = 64 * 1024;   ///< larger request bodies get 413
  /// Time allowed to receive a whole request (and to wait for the next one on a kept-alive
  /// connection); a client slower than this (slowloris) is disconnected.
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{30'000};  ///< a client that does not read is disconnected
};

/// Counters since start(), for logs and tests.
struct ServerStats {
  std::uint64_t connections = 0;       ///< accepted
  std::uint64_t open_connections = 0;  ///< open now
  std::uint64_t peak_connections = 0;  ///< most open at once
  std::uint64_t requests = 0;          ///< complete requests read
  std::uint64_t bad_requests = 0;      ///< answered 400, 413 or 431 (malformed or too large)
  std::uint64_t dropped = 0;           ///< faults injected, by kind
  std::uint64_t failed = 0;
  std::uint64_t truncated = 0;
  std::uint64_t slowed = 0;
  std::uint64_t rate_limited = 0;  ///< answered 429 by the rate limit
};

/// The replica server could not start (bad options, address in use, unreadable TLS files).
class ServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The Open Brewery DB v1 API served over HTTP/1.1 (keep-alive) or HTTPS, in process:
/// `ReplicaServer server{options}; server.start(); ... server.port() ...; server.stop();`.
class ReplicaServer {
 public:
  /// Checks the options (throws ServerError); does not listen yet.
  explicit ReplicaServer(ServerOptions options);
  ReplicaServer(const ReplicaServer&) = delete;
  ReplicaServer& operator=(const ReplicaServer&) = delete;
  /// Stops the server if running.
  ~ReplicaServer();

  /// Binds, listens and starts the threads. Throws ServerError (e.g. address in use).
  void start();
  /// Closes the listener and every connection and joins the threads. Idempotent.
  void stop();
  /// Whether start() succeeded and stop() has not been called.
  [[nodiscard]] bool running() const;

  /// The port listened on (the chosen one when options.port was 0); 0 before start().
  [[nodiscard]] std::uint16_t port() const;
  /// "http://HOST:PORT" or "https://HOST:PORT" (IPv6 addresses in brackets).
  [[nodiscard]] std::string url() const;
  /// A snapshot of the counters.
  [[nodiscard]] ServerStats stats() const;
  /// The options in force.
  [[nodiscard]] const ServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Raises this process's soft limit on open files to its hard limit (a server with 1,000 clients
/// needs more than the usual 1,024). Returns the soft limit now in force.
std::uint64_t raise_open_file_limit();

}  // namespace parlab::brewery
