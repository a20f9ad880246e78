#include "brewery.hpp"

#include "cli_error.hpp"
#include "lab/brewery/client.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"
#include "lab/brewery/states.hpp"
#include "lab/console.hpp"
#include "lab/system.hpp"
#include "serve.hpp"

#include <parlab/http.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace parlab::cli {

namespace {

namespace brewery = parlab::brewery;
using lab::Align;
using lab::pad;
using namespace std::chrono_literals;

/// The replica that `--api embedded` starts: the real API's latency, no rate limit (see docs/brewery.md).
constexpr auto embedded_latency = 80ms;
constexpr auto embedded_jitter = 20ms;
constexpr std::size_t embedded_threads = 2;
/// The real API's rate limit (its AppServiceProvider: 120 a minute per client), which the client
/// keeps unless --rate-limit says otherwise.
constexpr brewery::RateLimit public_rate_limit{120, std::chrono::seconds{60}};
/// Per connection attempt; an unreachable API fails fast instead of hanging.
constexpr auto connect_timeout = 5s;
/// The probe before timing: bounded so that a wrong --api is a quick error.
constexpr auto probe_connect_timeout = 3s;
constexpr auto probe_total_timeout = 10s;

/// What the command will do, once the flags are checked.
struct Plan {
  std::vector<std::string> states;
  std::vector<brewery::Mode> modes;
  std::size_t concurrency = 0;
  bool embedded = false;
  std::optional<brewery::RateLimit> rate_limit;  ///< the server's, which the client keeps under
  brewery::CountOptions count;
  std::filesystem::path out;
};

std::vector<std::string> check_states(const BreweryOptions& o) {
  if (o.states.empty()) {
    if (o.command->count("--states") > 0) throw UsageError{"--states needs at least one state"};
    std::vector<std::string> states;
    for (const auto s : brewery::seed_states())
      states.emplace_back(s);
    return states;
  }
  std::vector<std::string> states;
  if (o.states.size() == 1 && o.states.front() == "all") {
    for (const auto s : brewery::us_states())
      states.emplace_back(s);
    return states;
  }
  for (const auto& name : o.states) {
    if (brewery::fold_state(name).empty()) throw UsageError{"--states has an empty state name"};
    if (brewery::is_us_state(name)) {
      states.push_back(brewery::fold_state(name));
      continue;
    }
    if (o.allow_unknown) {
      states.push_back(name);
      continue;
    }
    std::string message = "unknown state '" + name + "'";
    if (auto suggestion = brewery::suggest_state(name)) message += " (did you mean '" + *suggestion + "'?)";
    message +=
        ": --states takes US states and district_of_columbia, e.g. new_york or \"new york\" "
        "(--allow-unknown sends any by_state value as given)";
    throw UsageError{message};
  }
  return states;
}

std::vector<brewery::Mode> check_modes(const BreweryOptions& o) {
  if (o.modes.empty()) throw UsageError{"--modes needs at least one of serial, to_thread, async, process"};
  std::vector<brewery::Mode> modes;
  for (const auto& name : o.modes) {
    const auto mode = brewery::parse_mode(name);
    if (!mode)
      throw UsageError{"unknown mode '" + name +
                       "' in --modes (choose from serial, to_thread, async, process)"};
    if (std::find(modes.begin(), modes.end(), *mode) != modes.end())
      throw UsageError{"--modes lists '" + name + "' twice"};
    modes.push_back(*mode);
  }
  return modes;
}

/// The plan that the flags ask for, checked (nothing is created or started yet).
Plan make_plan(const BreweryOptions& o) {
  Plan plan;
  plan.states = check_states(o);
  plan.modes = check_modes(o);
  if (o.command->count("--concurrency") > 0 && o.concurrency < 1)
    throw UsageError{"--concurrency must be at least 1 (got " + std::to_string(o.concurrency) + ")"};
  plan.concurrency = static_cast<std::size_t>(o.concurrency);

  plan.embedded = o.api == "embedded";
  plan.count.exact = o.exact;
  plan.count.plan_from_meta = !o.one_by_one;
  plan.count.http.connect_timeout = connect_timeout;
  if (!plan.embedded) {
    plan.count.api = o.api.empty() ? std::string{brewery::public_api_url} : o.api;
    try {
      (void)http::build_url(plan.count.api);
    } catch (const std::invalid_argument&) {
      throw UsageError{"--api '" + plan.count.api +
                       "' is neither an http(s) URL nor 'embedded' (e.g. https://api.openbrewerydb.org/v1)"};
    }
    if (!o.data.empty())
      throw UsageError{"--data goes with --api embedded (it is the replica's breweries.csv)"};
  }
  if (!o.cacert.empty()) {
    if (plan.embedded || !plan.count.api.starts_with("https://"))
      throw UsageError{"--cacert applies to an https --api (got --api " +
                       (plan.embedded ? o.api : plan.count.api) + ")"};
    if (::access(o.cacert.c_str(), R_OK) != 0 || !std::filesystem::is_regular_file(o.cacert))
      throw UsageError{"--cacert " + o.cacert + ": no such readable file"};
    plan.count.http.ca_file = o.cacert;
  }
  if (!o.rate_limit.empty())
    plan.rate_limit = parse_rate_limit(o.rate_limit);
  else if (!plan.embedded)
    plan.rate_limit = public_rate_limit;
  if (plan.rate_limit)  // a window 5% longer than the server's: the time a request takes to reach it varies
    plan.count.http.rate_limiter = std::make_shared<http::RateLimiter>(
        plan.rate_limit->limit,
        std::chrono::duration_cast<std::chrono::milliseconds>(plan.rate_limit->window) * 21 / 20);
  plan.out = o.out;
  return plan;
}

/// "; paced to 120/min: 31 of 130 requests waited, 58.2 s in all" — what the rate limit did
/// between `before` and `after`; "" when no request had to wait.
std::string pacing(const Plan& plan, const http::RateLimiter::Stats& before,
                   const http::RateLimiter::Stats& after) {
  if (after.delayed == before.delayed) return "";
  return fmt::format("; paced to {}: {} of {} requests waited, {:.1f} s in all",
                     describe_rate_limit(plan.rate_limit), after.delayed - before.delayed,
                     after.requests - before.requests,
                     std::chrono::duration<double>(after.waited - before.waited).count());
}

/// "parlab: error: ..." advice for an API that cannot be used.
std::string unavailable_message(const brewery::ApiUnavailable& e, const Plan& plan) {
  const std::string& api = plan.count.api;
  switch (e.reason()) {
    case brewery::ProbeFailure::unreachable:
    case brewery::ProbeFailure::timeout:
      if (plan.embedded) return "the embedded replica at " + api + " does not answer: " + e.what();
      return "cannot reach the API at " + api + " (" + e.what() +
             "); without internet, --api embedded counts against a local replica of it";
    case brewery::ProbeFailure::tls:
      return "TLS with " + api + " failed (" + e.what() +
             "); a server with a private CA needs --cacert FILE, or use --api embedded";
    case brewery::ProbeFailure::not_the_api:
      break;
  }
  return api + " does not answer as the Open Brewery DB v1 API: " + e.what() +
         " (--api takes the v1 base URL, e.g. https://api.openbrewerydb.org/v1, or embedded)";
}

/// Loads the replica's data, creates --out and starts the replica that `--api embedded` counts
/// against; points plan.count.api at it. Throws UsageError (no data) or brewery::ServerError.
std::unique_ptr<brewery::ReplicaServer> start_embedded_replica(Plan& plan, const BreweryOptions& o) {
  auto search = brewery::DataSearch::from_environment();
  search.flag = o.data;
  std::shared_ptr<const brewery::Dataset> data;
  try {
    data = std::make_shared<const brewery::Dataset>(brewery::Dataset::load(brewery::locate_dataset(search)));
  } catch (const brewery::DatasetError& e) {
    std::string message = std::string{"--api embedded needs the Open Brewery DB data: "} + e.what();
    if (message.find("fetch-brewery-data") == std::string::npos)
      message += " (scripts/fetch-brewery-data downloads it)";
    throw UsageError{message};
  }
  lab::create_out_folder(plan.out);
  brewery::ServerOptions server_options;
  server_options.data = data;
  server_options.threads = embedded_threads;
  server_options.latency = embedded_latency;
  server_options.jitter = embedded_jitter;
  server_options.rate_limit = std::nullopt;
  ::signal(SIGPIPE, SIG_IGN);
  auto server = std::make_unique<brewery::ReplicaServer>(server_options);
  server->start();
  plan.count.api = server->url() + "/v1";
  std::cout << "parlab brewery: embedded replica at " << plan.count.api << " (" << data->size()
            << " breweries from " << data->source() << "; latency " << embedded_latency.count() << " ms ± "
            << embedded_jitter.count() << " ms, no rate limit)" << std::endl;
  return server;
}

/// One request before any timing, with short timeouts: a wrong --api is a quick error.
void probe(const Plan& plan) {
  brewery::CountOptions probe = plan.count;
  probe.http.connect_timeout =
      std::min<std::chrono::milliseconds>(probe.http.connect_timeout, probe_connect_timeout);
  probe.http.total_timeout = probe_total_timeout;
  brewery::probe_api(probe);
}

std::string mode_names(const Plan& plan, std::string_view separator) {
  std::vector<std::string_view> names;
  for (const auto mode : plan.modes)
    names.push_back(brewery::mode_name(mode));
  return fmt::format("{}", fmt::join(names, separator));
}

/// Whether `mode` plans a state's pages from /breweries/meta in `plan`.
bool plans_pages(brewery::Mode mode, const Plan& plan) {
  return plan.count.plan_from_meta && (mode == brewery::Mode::async || mode == brewery::Mode::process);
}

/// Every mode over every state, a line per mode; each failed state on stderr. `failed`: some did.
std::vector<brewery::ModeRun> run_modes(const Plan& plan, bool& failed) {
  std::vector<brewery::ModeRun> runs;
  const auto& limiter = plan.count.http.rate_limiter;
  for (const auto mode : plan.modes) {
    const auto paced_before = limiter ? limiter->stats() : http::RateLimiter::Stats{};
    auto run = brewery::run_mode(mode, plan.states, plan.count, plan.concurrency);
    const auto paced_after = limiter ? limiter->stats() : http::RateLimiter::Stats{};
    std::size_t errors = 0;
    for (const auto& r : run.results) {
      if (r.ok()) continue;
      ++errors;
      try {
        r.rethrow();
      } catch (const std::exception& e) {
        print_error(fmt::format("{}: {}", brewery::mode_name(mode), e.what()));
      }
    }
    std::cout << pad(brewery::mode_name(mode), 10)
              << pad(fmt::format("{:.3f} s", run.elapsed.count()), 10, Align::right) << "  (" << run.pages()
              << (run.pages() == 1 ? " page" : " pages");
    if (errors > 0) std::cout << "; " << errors << " of " << plan.states.size() << " states failed";
    if (plans_pages(mode, plan))
      std::cout << "; " << run.planned() << " of " << plan.states.size()
                << " states planned from /breweries/meta";
    std::cout << pacing(plan, paced_before, paced_after) << ")" << std::endl;
    failed = failed || errors > 0;
    runs.push_back(std::move(run));
  }
  return runs;
}

/// One table of counts: a state's count from the first mode that got it; the modes must agree
/// (`failed` when they do not).
void print_counts(const Plan& plan, const std::vector<brewery::ModeRun>& runs, bool exact, bool& failed) {
  std::cout << pad("state", 22) << pad(exact ? "by_state" : "breweries", 10, Align::right)
            << (exact ? "   exact" : "") << std::endl;
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const brewery::StateCount* first = nullptr;
    std::string_view first_mode;
    for (const auto& run : runs) {
      if (!run.results[i].ok()) continue;
      const auto& counted = run.results[i].value();
      if (first == nullptr) {
        first = &counted;
        first_mode = brewery::mode_name(run.mode);
      } else if (counted.brewery_count != first->brewery_count || counted.exact_count != first->exact_count) {
        print_error(fmt::format("the modes disagree on {}: {} counted {}, {} {}", plan.states[i], first_mode,
                                first->brewery_count, brewery::mode_name(run.mode), counted.brewery_count));
        failed = true;
      }
    }
    std::cout << pad(plan.states[i], 22);
    if (first == nullptr) {
      std::cout << pad("error", 10, Align::right) << std::endl;
      continue;
    }
    std::cout << pad(std::to_string(first->brewery_count), 10, Align::right);
    if (first->exact_count) std::cout << pad(std::to_string(*first->exact_count), 8, Align::right);
    std::cout << std::endl;
  }
}

/// The seed's sentence, serial against async, into async.json (with to_thread's on the terminal).
int write_async_json(const Plan& plan, const std::vector<brewery::ModeRun>& runs) {
  const auto find_run = [&](brewery::Mode mode) -> const brewery::ModeRun* {
    for (const auto& run : runs)
      if (run.mode == mode) return &run;
    return nullptr;
  };
  const auto* serial = find_run(brewery::Mode::serial);
  const auto* native = find_run(brewery::Mode::async);
  const auto* threaded = find_run(brewery::Mode::to_thread);
  if (serial == nullptr || native == nullptr) {
    std::cout << "async.json not written: it compares the serial and async modes (--modes "
              << mode_names(plan, ",") << ")" << std::endl;
    return 0;
  }
  const double serial_seconds = serial->elapsed.count();
  const std::string sentence = brewery::result_sentence(serial_seconds, native->elapsed.count());
  std::cout << sentence;
  if (threaded != nullptr)
    std::cout << fmt::format(" (to_thread, the seed's way: {:.2f}% faster)",
                             brewery::percent_faster(serial_seconds, threaded->elapsed.count()));
  std::cout << std::endl;
  const auto path = plan.out / "async.json";
  try {
    lab::write_file_atomically(path, brewery::async_json(sentence, lab::host_name()));
  } catch (const std::exception& e) {
    return report_error(1, e.what());
  }
  std::cout << "wrote " << path.string() << std::endl;
  return 0;
}

int run_brewery(const BreweryOptions& o) {
  Plan plan;
  std::unique_ptr<brewery::ReplicaServer> server;
  try {
    plan = make_plan(o);
    if (plan.embedded)
      server = start_embedded_replica(plan, o);
    else
      lab::create_out_folder(plan.out);
  } catch (const UsageError& e) {
    return report_error(2, e.what());
  } catch (const brewery::ServerError& e) {
    return report_error(1, std::string{"cannot start the embedded replica: "} + e.what());
  }
  try {
    probe(plan);
  } catch (const brewery::ApiUnavailable& e) {
    return report_error(1, unavailable_message(e, plan));
  } catch (const std::invalid_argument& e) {
    // The HTTP client refused its options: with ours, only a --cacert that holds no certificate.
    return report_error(2, (o.cacert.empty() ? std::string{} : "--cacert " + o.cacert + ": ") + e.what());
  }

  std::cout << "parlab brewery: " << plan.states.size() << " state" << (plan.states.size() == 1 ? "" : "s")
            << ", modes " << mode_names(plan, ", ") << ", against " << plan.count.api;
  if (plan.concurrency > 0) std::cout << " (async: at most " << plan.concurrency << " states at once)";
  std::cout << std::endl;
  bool failed = false;
  const auto runs = run_modes(plan, failed);
  print_counts(plan, runs, o.exact, failed);
  if (failed) return report_error(1, "some counts failed; async.json not written");
  return write_async_json(plan, runs);
}

}  // namespace

void add_brewery_command(CLI::App& app, BreweryOptions& o) {
  auto* cmd = app.add_subcommand(
      "brewery",
      "Count breweries per state through the Open Brewery DB API: serial, to_thread, async; async.json");
  o.command = cmd;
  cmd->add_option("--states", o.states,
                  "Comma-separated US states, or all: the 50 and district_of_columbia (default: "
                  "district_of_columbia,maryland,new_york,virginia)")
      ->delimiter(',');
  cmd->add_option(
      "--api", o.api,
      "The v1 API's URL (default https://api.openbrewerydb.org/v1), or 'embedded': a local replica "
      "started in-process");
  cmd->add_option("--modes", o.modes,
                  "Comma-separated modes: serial,to_thread,async,process (default: serial,to_thread,async)")
      ->delimiter(',');
  cmd->add_option("--concurrency", o.concurrency,
                  "At most N states in flight in the async mode (default: all)");
  cmd->add_flag("--exact", o.exact,
                "Also count only the rows whose state_province is the state (by_state is a substring match)");
  cmd->add_flag("--one-by-one", o.one_by_one,
                "In the async and process modes, fetch a state's pages one after another as the seed does, "
                "instead of all at once as its /breweries/meta total plans them");
  cmd->add_option("--cacert", o.cacert, "PEM file of the CAs to trust for an https --api (curl's --cacert)");
  cmd->add_flag("--allow-unknown", o.allow_unknown, "Accept --states that are not US states (sent as given)");
  cmd->add_option("--rate-limit", o.rate_limit,
                  "Requests the client sends at most, e.g. 120/min, 5/s, or off (default: 120/min, the "
                  "real API's limit; off with --api embedded, which has none)");
  cmd->add_option("--out", o.out, "Folder for async.json (default: the current folder)");
  cmd->add_option("--data", o.data,
                  "breweries.csv for --api embedded (default: $PARLAB_BREWERY_CSV, ./breweries.csv, "
                  "$XDG_DATA_HOME/parlab, ~/.local/share/parlab, <program's folder>/../share/parlab, "
                  "$XDG_DATA_DIRS/parlab, the build's copy)");
}

bool brewery_selected(const BreweryOptions& o) { return o.command != nullptr && o.command->parsed(); }

int run_brewery_command(const BreweryOptions& o) {
  try {
    return run_brewery(o);
  } catch (const std::exception& e) {
    return report_error(1, e.what());
  }
}

}  // namespace parlab::cli
