#include "serve.hpp"

#include "cli_error.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"

#include <parlab/cpu.hpp>

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace parlab::cli {

namespace {

using parlab::brewery::ServerOptions;

constexpr std::int64_t max_threads = 1024;

/// "80ms", "1.5s", "2min" or "0" as milliseconds (rounded); throws UsageError naming `flag`.
std::chrono::milliseconds parse_duration(const std::string& flag, const std::string& text) {
  const auto bad = [&] {
    return UsageError{flag + " '" + text + "' is not a duration (use e.g. 80ms, 1.5s, 2min or 0)"};
  };
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
    ++digits;
  double value = 0;
  const auto* begin = text.data();
  auto [ptr, ec] = std::from_chars(begin, begin + digits, value);
  if (digits == 0 || ec != std::errc{} || ptr != begin + digits || !std::isfinite(value)) throw bad();
  const std::string_view unit{text.data() + digits, text.size() - digits};
  double ms = 0;
  if (unit == "ms")
    ms = value;
  else if (unit == "s")
    ms = value * 1e3;
  else if (unit == "min")
    ms = value * 60e3;
  else if (unit.empty() && value == 0)
    ms = 0;
  else
    throw bad();
  if (ms > 24 * 3600e3) throw UsageError{flag + " '" + text + "' is longer than a day"};
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(ms))};
}

double parse_rate(const std::string& flag, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw UsageError{fmt::format("{} must be a probability between 0 and 1 (got {:g})", flag, p)};
  return p;
}

ServerOptions make_options(const ServeOptions& o) {
  ServerOptions s;
  if (o.port < 0 || o.port > 65535)
    throw UsageError{"--port must be from 0 to 65535 (got " + std::to_string(o.port) + ")"};
  s.port = static_cast<std::uint16_t>(o.port);
  if (o.host.empty()) throw UsageError{"--host must not be empty"};
  s.host = o.host;
  if (o.threads < 0 || o.threads > max_threads)
    throw UsageError{"--threads must be from 1 to " + std::to_string(max_threads) + " (got " +
                     std::to_string(o.threads) + ")"};
  s.threads = o.threads == 0 ? std::max(1U, parlab::cpu_count()) : static_cast<std::size_t>(o.threads);
  s.latency = parse_duration("--latency", o.latency);
  s.jitter = parse_duration("--jitter", o.jitter);
  s.seed = o.seed;
  s.rate_limit = parse_rate_limit(o.rate_limit);
  s.faults.fail_rate = parse_rate("--fail-rate", o.fail_rate);
  s.faults.drop_rate = parse_rate("--drop-rate", o.drop_rate);
  s.faults.truncate_rate = parse_rate("--truncate-rate", o.truncate_rate);
  s.faults.slow_rate = parse_rate("--slow-rate", o.slow_rate);
  s.faults.slow_delay = parse_duration("--slow-delay", o.slow_delay);
  s.read_timeout = parse_duration("--read-timeout", o.read_timeout);
  if (s.read_timeout.count() <= 0) throw UsageError{"--read-timeout must be positive"};
  if (o.tls_cert.empty() != o.tls_key.empty()) throw UsageError{"--tls-cert and --tls-key go together"};
  if (!o.tls_cert.empty()) {
    for (const auto* f : {&o.tls_cert, &o.tls_key})
      if (::access(f->c_str(), R_OK) != 0)
        throw UsageError{std::string{f == &o.tls_cert ? "--tls-cert " : "--tls-key "} + *f +
                         ": no such readable file"};
    s.tls = parlab::brewery::TlsFiles{o.tls_cert, o.tls_key};
  }
  return s;
}

}  // namespace

std::optional<parlab::brewery::RateLimit> parse_rate_limit(const std::string& text) {
  if (text == "off") return std::nullopt;
  const auto bad = [&] {
    return UsageError{"--rate-limit '" + text + "' is not a rate (use e.g. 120/min, 5/s, 1000/h or off)"};
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad();
  std::uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + slash, n);
  if (slash == 0 || ec != std::errc{} || ptr != text.data() + slash || n == 0) throw bad();
  const std::string unit = text.substr(slash + 1);
  std::chrono::seconds window{};
  if (unit == "s" || unit == "sec" || unit == "second")
    window = std::chrono::seconds{1};
  else if (unit == "min" || unit == "minute")
    window = std::chrono::seconds{60};
  else if (unit == "h" || unit == "hour")
    window = std::chrono::seconds{3600};
  else
    throw bad();
  return parlab::brewery::RateLimit{n, window};
}

std::string describe_rate_limit(const std::optional<parlab::brewery::RateLimit>& limit) {
  if (!limit) return "off";
  const auto w = limit->window.count();
  return std::to_string(limit->limit) + "/" + (w == 1 ? "s" : w == 60 ? "min" : "h");
}

void add_serve_command(CLI::App& app, ServeOptions& o) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve a local replica of the Open Brewery DB v1 API (latency, rate limit and faults built in)");
  o.command = cmd;
  cmd->add_option("--data", o.data,
                  "breweries.csv (default: $PARLAB_BREWERY_CSV, ./breweries.csv, "
                  "$XDG_DATA_HOME/parlab, ~/.local/share/parlab, <program's folder>/../share/parlab, "
                  "$XDG_DATA_DIRS/parlab, the build's copy)");
  cmd->add_option("--host", o.host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o.port, "Port (default 8080; 0 picks a free one and prints it)");
  cmd->add_option("--latency", o.latency, "Delay before each response (default 80ms)");
  cmd->add_option("--jitter", o.jitter, "Latency varies uniformly by ± this (default 20ms)");
  cmd->add_option("--seed", o.seed, "Seed of latency, faults and /random (default 1)");
  cmd->add_option("--rate-limit", o.rate_limit,
                  "Requests per client IP: N/s, N/min, N/h or off (default 120/min)");
  cmd->add_option("--fail-rate", o.fail_rate, "Probability of a 503 with Retry-After: 1 (default 0)");
  cmd->add_option("--drop-rate", o.drop_rate, "Probability of closing the connection without answering");
  cmd->add_option("--truncate-rate", o.truncate_rate,
                  "Probability of sending the full Content-Length but half the body, then closing");
  cmd->add_option("--slow-rate", o.slow_rate, "Probability of an extra --slow-delay before answering");
  cmd->add_option("--slow-delay", o.slow_delay, "The extra delay of --slow-rate (default 2s)");
  cmd->add_option("--read-timeout", o.read_timeout,
                  "Time a client has to send a whole request, and idle keep-alive time (default 10s)");
  cmd->add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve HTTPS only (with --tls-key)");
  cmd->add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--threads", o.threads, "Server threads (default cpu_count())");
}

bool serve_selected(const ServeOptions& o) { return o.command != nullptr && o.command->parsed(); }

int run_serve_command(const ServeOptions& o) {
  ServerOptions options;
  std::shared_ptr<const parlab::brewery::Dataset> data;
  try {
    options = make_options(o);
    auto search = parlab::brewery::DataSearch::from_environment();
    search.flag = o.data;
    const auto file = parlab::brewery::locate_dataset(search);
    data = std::make_shared<const parlab::brewery::Dataset>(parlab::brewery::Dataset::load(file));
  } catch (const UsageError& e) {
    return report_error(2, e.what());
  } catch (const parlab::brewery::DatasetError& e) {
    return report_error(2, e.what());
  }
  options.data = data;

  // The signals are taken synchronously below; the server's threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  parlab::brewery::raise_open_file_limit();

  try {
    parlab::brewery::ReplicaServer server{options};
    server.start();
    std::cout << "parlab serve: listening on " << server.url() << " (" << data->size() << " breweries from "
              << data->source() << ")" << std::endl;
    std::cerr << "parlab serve: latency " << options.latency.count() << "ms ± " << options.jitter.count()
              << "ms, rate limit " << describe_rate_limit(options.rate_limit) << ", faults fail "
              << options.faults.fail_rate << " drop " << options.faults.drop_rate << " truncate "
              << options.faults.truncate_rate << " slow " << options.faults.slow_rate << ", seed "
              << options.seed << "; Ctrl-C stops" << std::endl;
    int signal = 0;
    while (sigwait(&stop_signals, &signal) != 0) {
    }
    server.stop();
    const auto stats = server.stats();
    std::cout << "parlab serve: stopped by " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << " after "
              << stats.requests << " requests on " << stats.connections << " connections, "
              << stats.rate_limited << " answered 429 by the rate limit" << std::endl;
  } catch (const std::exception& e) {  // e.g. brewery::ServerError: the port is taken
    return report_error(1, e.what());
  }
  return 0;
}

}  // namespace parlab::cli
