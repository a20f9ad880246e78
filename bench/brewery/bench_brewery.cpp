// bench_brewery: the brewery task over all 51 states (50 + DC) against the in-process replica with
// the real API's latency (80 ms ± 20 ms, rate limit off): parlab serial, to_thread + gather (the
// seed's shape) and native async (pages planned from /breweries/meta, pages one after another, and
// capped), the slowest single state alone,
// the seed's Python (requests + run_in_executor) and Python's aiohttp; then the HTTP client's
// requests/s against wrk's on one endpoint of a replica without latency. Writes
// out/brewery-bench.json and out/brewery-bench.md. Reports the targets as met or missed; it asserts
// nothing (exit 0 unless it could not run, or the contenders disagree on a count).
#include "lab/brewery/client.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"
#include "lab/brewery/states.hpp"
#include "lab/system.hpp"

#include <parlab/aio.hpp>
#include <parlab/cpu.hpp>
#include <parlab/http.hpp>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace brewery = parlab::brewery;
namespace aio = parlab::aio;
namespace http = parlab::http;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Config {
  std::string out = "out";
  int reps = 3;
  std::int64_t concurrency = 8;
  std::string python = "/usr/bin/python3";
  std::string wrk = "wrk";
  std::string data;
  std::int64_t duration = 3;  ///< seconds per throughput run (wrk takes whole seconds)
  std::int64_t connections = 8;
  bool quick = false;
};

/// Counts per state.
using Counts = std::map<std::string, std::size_t>;

/// One contender's timings over the repetitions.
struct Row {
  std::string key;
  std::string label;
  std::vector<double> seconds;
  std::string note;  ///< why there are no timings, if none
};

/// The HTTP client's requests/s against wrk's.
struct Throughput {
  std::string endpoint;
  std::size_t connections = 0;
  std::vector<double> client_rps;
  std::vector<double> wrk_rps;
  std::string wrk_note;  ///< why wrk has no figure, if none
};

/// A target of the benchmark (reported, never asserted).
struct Target {
  std::string name;
  std::optional<double> value;
  std::string unit;
  std::string goal;
  bool met = false;
};

/// Everything one run measured: what the JSON and the markdown report.
struct Results {
  std::vector<std::string> states;
  std::size_t pages_per_run = 0;
  std::vector<Row> rows;
  Throughput throughput;
  std::vector<Target> targets;
  std::array<double, 3> load_start{};
  std::array<double, 3> load_end{};
  bool disagree = false;  ///< some contender counted differently from the reference run
};

/// The reference counts, and the state with the longest page chain.
struct Reference {
  Counts counts;
  std::size_t pages = 0;  ///< pages of the whole run
  std::string slowest;
  std::size_t slowest_pages = 0;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::array<double, 3> load_average() {
  std::array<double, 3> load{};
  if (::getloadavg(load.data(), 3) != 3) load = {-1, -1, -1};
  return load;
}

std::string load_text(const std::array<double, 3>& load) {
  return fmt::format("{:.2f}, {:.2f}, {:.2f}", load[0], load[1], load[2]);
}

/// "bench_brewery: error: <message>" on stderr: the one form of its error lines.
void print_error(const std::string& message) {
  std::cerr << "bench_brewery: error: " << message << std::endl;
}

/// Runs a shell command; its stdout and exit status.
std::pair<std::string, int> capture(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  char buf[4096];
  while (const auto n = std::fread(buf, 1, sizeof buf, pipe))
    output.append(buf, n);
  const int status = ::pclose(pipe);
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

/// Counts of a run by state; throws if a state failed.
Counts counts_of(const brewery::ModeRun& run) {
  Counts counts;
  for (const auto& r : run.results)
    counts[r.value().state] = r.value().brewery_count;
  return counts;
}

Row& row(std::vector<Row>& rows, const std::string& key) {
  return *std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.key == key; });
}

/// The median of a row's timings, or nullopt when it has none.
std::optional<double> median_of(const std::vector<Row>& rows, const std::string& key) {
  const auto& r = *std::find_if(rows.begin(), rows.end(), [&](const Row& x) { return x.key == key; });
  if (r.seconds.empty()) return std::nullopt;
  return median(r.seconds);
}

/// Flags `who`'s counts when they differ from the reference run's.
void compare_with_reference(const std::string& who, const Counts& counts, const Reference& reference,
                            bool& disagree) {
  if (counts != reference.counts) {
    print_error(who + " counted differently from the reference run");
    disagree = true;
  }
}

// --- throughput ---

aio::Task<void> hammer(http::Client* client, std::string url, Clock::time_point end, std::size_t* done,
                       std::size_t* failed) {
  while (Clock::now() < end) {
    auto get = client->get(url);
    const http::Response response = co_await std::move(get);
    ++*(response.ok() ? done : failed);
  }
}

/// Requests per second of one http::Client on the loop: `connections` requests in flight, each
/// connection kept alive (what wrk -c does), for `duration`.
aio::Task<double> client_throughput(std::string url, std::size_t connections,
                                    std::chrono::milliseconds duration) {
  http::ClientOptions options;
  options.max_connections_per_host = connections;
  http::Client client{co_await aio::this_loop(), options};
  std::size_t done = 0;
  std::size_t failed = 0;
  const auto start = Clock::now();
  std::vector<aio::Task<void>> workers;
  for (std::size_t i = 0; i < connections; ++i)
    workers.push_back(hammer(&client, url, start + duration, &done, &failed));
  auto all = aio::gather(std::move(workers));
  co_await std::move(all);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed > 0)
    throw std::runtime_error(std::to_string(failed) + " requests failed during the throughput run");
  co_return static_cast<double>(done) / elapsed;
}

std::optional<double> wrk_throughput(const Config& config, const std::string& url, std::string* note) {
  const auto [out, status] =
      capture(shell_quote(config.wrk) + " -t1 -c" + std::to_string(config.connections) + " -d" +
              std::to_string(config.duration) + "s " + shell_quote(url) + " 2>&1");
  std::smatch m;
  static const std::regex rps{R"(Requests/sec:\s+([0-9.]+))"};
  if (status != 0 || !std::regex_search(out, m, rps)) {
    *note = status == 127
                ? "wrk not found (apt-get install wrk)"
                : "wrk failed (status " + std::to_string(status) + "): " + out.substr(0, out.find('\n'));
    return std::nullopt;
  }
  if (out.find("Non-2xx") != std::string::npos) {
    *note = "wrk saw non-2xx answers";
    return std::nullopt;
  }
  return std::stod(m[1]);
}

std::unique_ptr<brewery::ReplicaServer> start_replica(std::shared_ptr<const brewery::Dataset> data,
                                                      std::chrono::milliseconds latency,
                                                      std::chrono::milliseconds jitter) {
  brewery::ServerOptions o;
  o.data = std::move(data);
  o.threads = 2;
  o.latency = latency;
  o.jitter = jitter;
  o.rate_limit = std::nullopt;
  auto server = std::make_unique<brewery::ReplicaServer>(std::move(o));
  server->start();
  return server;
}

// --- the brewery task ---

std::vector<Row> contender_rows(std::size_t concurrency) {
  return {
      {"cpp_serial", "parlab serial: count() one state after the other", {}, ""},
      {"cpp_to_thread", "parlab to_thread + gather (the seed's shape)", {}, ""},
      {"cpp_async", "parlab native async, all states at once, pages planned from /breweries/meta", {}, ""},
      {"cpp_async_one_by_one", "parlab native async, all states at once, pages one after another", {}, ""},
      {"cpp_async_capped", "parlab native async, --concurrency " + std::to_string(concurrency), {}, ""},
      {"cpp_slowest_state", "", {}, ""},
      {"py_serial", "Python serial (the seed: requests)", {}, ""},
      {"py_to_thread", "Python run_in_executor + gather (the seed)", {}, ""},
      {"py_aiohttp", "Python aiohttp + gather", {}, ""},
  };
}

/// The reference counts (native async, all states), or nullopt when a state failed.
std::optional<Reference> reference_run(const std::vector<std::string>& states,
                                       const brewery::CountOptions& options) {
  const auto run = brewery::run_mode(brewery::Mode::async, states, options);
  if (!run.ok()) return std::nullopt;
  Reference reference{counts_of(run), run.pages(), states.front(), 0};
  for (const auto& r : run.results) {
    if (r.value().pages > reference.slowest_pages) {
      reference.slowest_pages = r.value().pages;
      reference.slowest = r.value().state;
    }
  }
  return reference;
}

/// One repetition of parlab's rows; false (and a line on stderr) when a contender had failures.
bool measure_parlab(const std::vector<std::string>& states, const brewery::CountOptions& options,
                    std::size_t concurrency, const Reference& reference, Results& results) {
  auto one_by_one = options;
  one_by_one.plan_from_meta = false;
  for (const auto& [mode, key, cap, planned] :
       {std::tuple{brewery::Mode::serial, "cpp_serial", std::size_t{0}, true},
        std::tuple{brewery::Mode::to_thread, "cpp_to_thread", std::size_t{0}, true},
        std::tuple{brewery::Mode::async, "cpp_async", std::size_t{0}, true},
        std::tuple{brewery::Mode::async, "cpp_async_one_by_one", std::size_t{0}, false},
        std::tuple{brewery::Mode::async, "cpp_async_capped", concurrency, true}}) {
    const auto run_result = brewery::run_mode(mode, states, planned ? options : one_by_one, cap);
    if (!run_result.ok()) {
      print_error(std::string{key} + " had failures");
      return false;
    }
    compare_with_reference(key, counts_of(run_result), reference, results.disagree);
    row(results.rows, key).seconds.push_back(run_result.elapsed.count());
  }
  const auto alone = brewery::run_mode(brewery::Mode::async, {reference.slowest}, options);
  row(results.rows, "cpp_slowest_state").seconds.push_back(alone.elapsed.count());
  return true;
}

/// One repetition of the seed's Python (requests + run_in_executor) and of aiohttp.
void measure_python(const Config& config, const std::string& api, const Reference& reference,
                    Results& results) {
  auto& rows = results.rows;
  if (::access(config.python.c_str(), X_OK) != 0) {
    row(rows, "py_serial").note = row(rows, "py_to_thread").note = config.python + " not found";
    return;
  }
  const std::string state_list = fmt::format("{}", fmt::join(results.states, ","));
  const auto [out, status] = capture(shell_quote(config.python) + " " +
                                     shell_quote(std::string{PARLAB_BENCH_BREWERY_DIR} + "/seed_brewery.py") +
                                     " " + shell_quote(api) + " " + shell_quote(state_list));
  const auto parsed = Json::parse(out, nullptr, false);
  if (status != 0 || parsed.is_discarded()) {
    row(rows, "py_serial").note = row(rows, "py_to_thread").note =
        "seed_brewery.py failed (status " + std::to_string(status) + ")";
  } else {
    row(rows, "py_serial").seconds.push_back(parsed["serial"].get<double>());
    row(rows, "py_to_thread").seconds.push_back(parsed["to_thread"].get<double>());
    compare_with_reference("the seed's Python", parsed["counts"].get<Counts>(), reference, results.disagree);
  }
  const auto [aio_out, aio_status] =
      capture(shell_quote(config.python) + " " +
              shell_quote(std::string{PARLAB_BENCH_BREWERY_DIR} + "/aiohttp_brewery.py") + " " +
              shell_quote(api) + " " + shell_quote(state_list) + " 0");
  const auto aio_parsed = Json::parse(aio_out, nullptr, false);
  if (aio_status == 3) {
    row(rows, "py_aiohttp").note = "aiohttp not installed (python3-aiohttp)";
  } else if (aio_status != 0 || aio_parsed.is_discarded()) {
    row(rows, "py_aiohttp").note = "aiohttp_brewery.py failed (status " + std::to_string(aio_status) + ")";
  } else {
    row(rows, "py_aiohttp").seconds.push_back(aio_parsed["async"].get<double>());
    compare_with_reference("Python aiohttp", aio_parsed["counts"].get<Counts>(), reference, results.disagree);
  }
}

/// The client vs wrk, same endpoint, same number of kept-alive connections, on a replica without
/// latency.
Throughput measure_throughput(const Config& config, std::shared_ptr<const brewery::Dataset> data) {
  Throughput t;
  const std::string first_id = data->breweries().front().id;
  auto fast = start_replica(std::move(data), 0ms, 0ms);
  t.endpoint = "/v1/breweries/" + first_id;
  t.connections = static_cast<std::size_t>(config.connections);
  const std::string url = fast->url() + t.endpoint;
  std::cerr << "  throughput: GET " << t.endpoint << ", " << t.connections << " connections, "
            << config.duration << " s per run" << std::endl;
  (void)aio::run(client_throughput(url, t.connections, 300ms));  // warm-up
  for (int rep = 0; rep < config.reps; ++rep) {
    t.client_rps.push_back(
        aio::run(client_throughput(url, t.connections, std::chrono::seconds{config.duration})));
    if (t.wrk_note.empty()) {
      if (const auto w = wrk_throughput(config, url, &t.wrk_note)) t.wrk_rps.push_back(*w);
    }
  }
  fast->stop();
  return t;
}

std::vector<Target> evaluate_targets(const Results& results) {
  std::vector<Target> targets;
  const auto& rows = results.rows;
  {
    const auto a = median_of(rows, "cpp_async");
    const auto s = median_of(rows, "cpp_slowest_state");
    Target t{"native async over " + std::to_string(results.states.size()) +
                 " states / the slowest state's chain alone",
             std::nullopt, "x", "<= 1.5x"};
    if (a && s) t.value = *a / *s;
    t.met = t.value && *t.value <= 1.5;
    targets.push_back(t);
  }
  for (const auto& [seed_way, name] :
       {std::pair{"cpp_to_thread", "parlab to_thread + gather (the seed's way) / parlab native async"},
        std::pair{"py_to_thread", "the seed's Python to_thread / parlab native async"}}) {
    const auto a = median_of(rows, "cpp_async");
    const auto p = median_of(rows, seed_way);
    Target t{name, std::nullopt, "x", ">= 5x"};
    if (a && p) t.value = *p / *a;
    t.met = t.value && *t.value >= 5;
    targets.push_back(t);
  }
  {
    const auto& tp = results.throughput;
    Target t{"parlab http::Client requests/s / wrk's", std::nullopt, "", ">= 50%"};
    if (!tp.client_rps.empty() && !tp.wrk_rps.empty())
      t.value = 100 * median(tp.client_rps) / median(tp.wrk_rps);
    t.unit = "%";
    t.met = t.value && *t.value >= 50;
    targets.push_back(t);
  }
  return targets;
}

const char* target_status(const Target& t) { return !t.value ? "not measured" : t.met ? "met" : "MISSED"; }

/// out/brewery-bench.json
Json to_json(const Config& config, const Results& results, const std::string& host) {
  Json json;
  json["host"] = host;
  json["cpu_count"] = parlab::cpu_count();
  json["load_average_start"] = results.load_start;
  json["load_average_end"] = results.load_end;
  json["replica"] = {{"latency_ms", 80}, {"jitter_ms", 20}, {"rate_limit", "off"}, {"threads", 2}};
  json["states"] = results.states.size();
  json["pages_per_run"] = results.pages_per_run;
  json["repetitions"] = config.reps;
  Json contenders = Json::array();
  const double serial_median = median_of(results.rows, "cpp_serial").value_or(0);
  for (const auto& r : results.rows) {
    Json c{{"key", r.key}, {"label", r.label}, {"seconds", r.seconds}};
    if (!r.seconds.empty()) {
      c["median"] = median(r.seconds);
      if (serial_median > 0 && r.key != "cpp_slowest_state")
        c["speedup_vs_cpp_serial"] = serial_median / median(r.seconds);
    } else {
      c["median"] = nullptr;
      c["note"] = r.note;
    }
    contenders.push_back(c);
  }
  json["contenders"] = contenders;
  const auto& tp = results.throughput;
  json["throughput"] = {{"endpoint", tp.endpoint},
                        {"connections", tp.connections},
                        {"seconds_per_run", config.duration},
                        {"parlab_requests_per_second", tp.client_rps},
                        {"wrk_requests_per_second", tp.wrk_rps}};
  if (!tp.wrk_note.empty()) json["throughput"]["wrk_note"] = tp.wrk_note;
  Json target_json = Json::array();
  for (const auto& t : results.targets)
    target_json.push_back({{"name", t.name},
                           {"value", t.value ? Json(*t.value) : Json(nullptr)},
                           {"target", t.goal},
                           {"status", target_status(t)}});
  json["targets"] = target_json;
  json["counts_agree"] = !results.disagree;
  return json;
}

/// A throughput table row: the median requests/s and every run's.
std::string rps_row(const std::string& label, const std::vector<double>& v, const std::string& note) {
  if (v.empty()) return "| " + label + " | n/a | " + note + " |\n";
  return fmt::format("| {} | {:.0f} | {:.0f} |\n", label, median(v), fmt::join(v, ", "));
}

/// out/brewery-bench.md
std::string to_markdown(const Config& config, const Results& results, const std::string& host) {
  const auto& tp = results.throughput;
  std::string md = "Brewery task, " + std::to_string(results.states.size()) + " states (" +
                   std::to_string(results.pages_per_run) +
                   " pages per run), replica 80 ms ± 20 ms latency, no rate limit; median of " +
                   std::to_string(config.reps) + " runs on " + host + " (" +
                   std::to_string(parlab::cpu_count()) + " CPUs, load average " +
                   load_text(results.load_start) + " at the start, " + load_text(results.load_end) +
                   " at the end).\n\n";
  md += "| contender | median | runs | vs parlab serial |\n| --- | ---: | --- | ---: |\n";
  const double serial_median = median_of(results.rows, "cpp_serial").value_or(0);
  for (const auto& r : results.rows) {
    if (r.seconds.empty()) {
      md += "| " + r.label + " | n/a | " + r.note + " | |\n";
      continue;
    }
    const bool comparable = serial_median > 0 && r.key != "cpp_slowest_state";  // one state, not 51
    md += fmt::format("| {} | {:.3f} s | {:.3f} | {} |\n", r.label, median(r.seconds),
                      fmt::join(r.seconds, ", "),
                      comparable ? fmt::format("{:.2f}x", serial_median / median(r.seconds)) : "");
  }
  md += "\nThroughput, GET " + tp.endpoint + " on a replica without latency, " +
        std::to_string(tp.connections) + " kept-alive connections, " + std::to_string(config.duration) +
        " s per run:\n\n";
  md += "| client | requests/s (median) | runs |\n| --- | ---: | --- |\n";
  md += rps_row("parlab http::Client (one event loop)", tp.client_rps, "");
  md += rps_row("wrk -t1 -c" + std::to_string(tp.connections), tp.wrk_rps, tp.wrk_note);
  md += "\n| target | measured | goal | status |\n| --- | ---: | --- | --- |\n";
  for (const auto& t : results.targets)
    md += "| " + t.name + " | " + (t.value ? fmt::format("{:.2f}", *t.value) + t.unit : std::string{"n/a"}) +
          " | " + t.goal + " | " + target_status(t) + " |\n";
  if (results.disagree)
    md += "\n**The contenders disagreed on some counts** (see the messages of the run).\n";
  return md;
}

/// Writes both files into --out and prints the report.
void write_outputs(const Config& config, const Json& json, const std::string& md) {
  std::filesystem::create_directories(config.out);
  const auto json_path = std::filesystem::path{config.out} / "brewery-bench.json";
  const auto md_path = std::filesystem::path{config.out} / "brewery-bench.md";
  parlab::lab::write_file_atomically(json_path, json.dump(2) + "\n");
  parlab::lab::write_file_atomically(md_path, md);
  std::cout << md << "\n(" << json_path.string() << ", " << md_path.string() << ")" << std::endl;
}

int run(const Config& config) {
  ::signal(SIGPIPE, SIG_IGN);
  Results results;
  results.load_start = load_average();
  auto search = brewery::DataSearch::from_environment();
  search.flag = config.data;
  const auto data =
      std::make_shared<const brewery::Dataset>(brewery::Dataset::load(brewery::locate_dataset(search)));
  results.states.assign(brewery::us_states().begin(), brewery::us_states().end());
  const auto concurrency = static_cast<std::size_t>(config.concurrency);

  auto server = start_replica(data, 80ms, 20ms);
  brewery::CountOptions options;
  options.api = server->url() + "/v1";
  std::cerr << "bench_brewery: " << results.states.size() << " states against the replica at " << options.api
            << " (80 ms ± 20 ms, no rate limit), " << config.reps << " repetitions; load average "
            << load_text(results.load_start) << std::endl;
  results.rows = contender_rows(concurrency);
  const auto reference = reference_run(results.states, options);
  if (!reference) {
    print_error("the reference run failed");
    return 1;
  }
  results.pages_per_run = reference->pages;
  row(results.rows, "cpp_slowest_state").label = "parlab native async, the slowest single state alone (" +
                                                 reference->slowest + ", " +
                                                 std::to_string(reference->slowest_pages) + " pages)";
  for (int rep = 0; rep < config.reps; ++rep) {
    std::cerr << "  repetition " << rep + 1 << "/" << config.reps << std::endl;
    if (!measure_parlab(results.states, options, concurrency, *reference, results)) return 1;
    measure_python(config, options.api, *reference, results);
  }
  server->stop();

  results.throughput = measure_throughput(config, data);
  results.load_end = load_average();
  results.targets = evaluate_targets(results);
  const std::string host = parlab::lab::host_name();
  write_outputs(config, to_json(config, results, host), to_markdown(config, results, host));
  return results.disagree ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bench_brewery: the brewery task over 51 states, parlab vs the seed's Python, and the HTTP "
      "client vs wrk"};
  Config config;
  app.add_option("--out", config.out, "Folder for brewery-bench.json and brewery-bench.md (default out)");
  app.add_option("--reps", config.reps, "Repetitions of every contender (default 3)")
      ->check(CLI::Range(1, 100));
  app.add_option("--concurrency", config.concurrency, "States in flight of the capped async row (default 8)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--python", config.python,
                 "Python for the seed and aiohttp rows (default /usr/bin/python3)");
  app.add_option("--wrk", config.wrk, "wrk for the throughput row (default: wrk in PATH)");
  app.add_option("--data", config.data, "breweries.csv (default: the search order of docs/brewery.md)");
  app.add_option("--duration", config.duration, "Whole seconds per throughput run (default 3)")
      ->check(CLI::Range(1, 600));
  app.add_option("--connections", config.connections, "Connections of the throughput runs (default 8)")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--quick", config.quick, "One repetition and 1 s throughput runs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (config.quick) {
    config.reps = 1;
    config.duration = 1;
  }
  try {
    return run(config);
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
}
