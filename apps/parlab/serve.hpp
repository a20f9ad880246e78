#pragma once
/// \file
/// `parlab serve`'s command line: a faithful local replica of the Open Brewery DB v1 API (see
/// docs/brewery.md).

#include "lab/brewery/api.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace parlab::cli {

/// The command line of `parlab serve`, as parsed (validated by run_serve_command).
struct ServeOptions {
  CLI::App* command = nullptr;  ///< the subcommand, to ask whether it was given
  std::string data;             ///< --data FILE; empty: the search order of docs/brewery.md
  std::string host = "127.0.0.1";
  std::int64_t port = 8080;  ///< 0: an ephemeral port, printed
  std::string latency = "80ms";
  std::string jitter = "20ms";
  std::uint64_t seed = 1;
  std::string rate_limit = "120/min";  ///< N/s, N/min, N/h or off
  double fail_rate = 0;
  double drop_rate = 0;
  double truncate_rate = 0;
  double slow_rate = 0;
  std::string slow_delay = "2s";
  std::string read_timeout = "10s";
  std::string tls_cert;
  std::string tls_key;
  std::int64_t threads = 0;  ///< 0: cpu_count()
};

/// --rate-limit's value: "120/min", "5/s", "1000/h" (also sec/second, minute, hour), or "off"
/// (nullopt); a UsageError for anything else. `parlab brewery --rate-limit` reads it too.
[[nodiscard]] std::optional<parlab::brewery::RateLimit> parse_rate_limit(const std::string& text);

/// A rate as --rate-limit writes it: "120/min", "5/s", "1000/h" or "off".
[[nodiscard]] std::string describe_rate_limit(const std::optional<parlab::brewery::RateLimit>& limit);

/// Adds the `serve` subcommand to `app`; CLI11 fills `options` when it parses.
void add_serve_command(CLI::App& app, ServeOptions& options);

/// Whether `parlab serve` was the subcommand given.
[[nodiscard]] bool serve_selected(const ServeOptions& options);

/// Runs `parlab serve` until SIGINT or SIGTERM: 0 after a clean shutdown, 1 when it cannot start
/// (e.g. the port is taken), 2 for bad input (one line on stderr), including unusable data.
[[nodiscard]] int run_serve_command(const ServeOptions& options);

}  // namespace parlab::cli
