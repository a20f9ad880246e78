// `parlab serve` as a user runs it: --port 0 prints the port and serves; SIGTERM and SIGINT stop it
// cleanly; bad input gets one line on stderr and exit status 2. And scripts/fetch-brewery-data.
#include "brewery/brewery_support.hpp"
#include "support/child.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/ports.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

namespace tb = parlab::test::brewery;
using parlab::test::one_line;
using parlab::test::read_file;
using parlab::test::TempDir;
using Json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// `parlab serve <args>`, running: stdout read line by line, stderr into a file in `dir`.
parlab::test::ChildProcess start_serve(std::vector<std::string> args, const fs::path& dir,
                                       const std::vector<std::pair<std::string, std::string>>& env = {}) {
  args.insert(args.begin(), "serve");
  return parlab::test::ChildProcess{PARLAB_CLI, args, dir / "serve-stderr.txt", env};
}

/// The port of "parlab serve: listening on http://127.0.0.1:PORT (N breweries from FILE)".
struct Listening {
  unsigned short port = 0;
  std::size_t breweries = 0;
  std::string source;
};
std::optional<Listening> parse_listening(const std::string& line) {
  static const std::regex re{
      R"(^parlab serve: listening on http://127\.0\.0\.1:(\d+) \((\d+) breweries from (.+)\)$)"};
  std::smatch m;
  if (!std::regex_match(line, m, re)) return std::nullopt;
  return Listening{static_cast<unsigned short>(std::stoul(m[1])), std::stoul(m[2]), m[3]};
}

class ServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto path = tb::csv_path();
    ASSERT_TRUE(path.has_value()) << tb::missing_csv();
    csv_ = path->string();
  }
  std::string csv_;
};

TEST_F(ServeCli, PortZeroPrintsThePortServesAndStopsOnSigterm) {
  TempDir dir;
  auto serve = start_serve({"--port", "0", "--data", csv_, "--latency", "0", "--jitter", "0ms",
                            "--rate-limit", "off", "--threads", "2"},
                           dir.path());
  const auto line = serve.read_line(120s);
  ASSERT_TRUE(line.has_value()) << serve.err();
  const auto listening = parse_listening(*line);
  ASSERT_TRUE(listening.has_value()) << *line;
  EXPECT_NE(listening->port, 0);
  EXPECT_EQ(listening->breweries, 11822U);
  EXPECT_EQ(listening->breweries, tb::read_rows(csv_).size());
  EXPECT_EQ(listening->source, csv_);

  const auto reply = tb::get(listening->port, "/v1/breweries/meta?by_state=district_of_columbia");
  ASSERT_EQ(reply.status, 200U);
  EXPECT_EQ(Json::parse(reply.body)["total"], 22);
  EXPECT_EQ(reply.header("x-ratelimit-limit"), "") << "--rate-limit off";

  serve.signal(SIGTERM);
  const auto status = serve.wait(60s);
  ASSERT_TRUE(status.has_value()) << "still running 60 s after SIGTERM";
  EXPECT_EQ(*status, 0) << serve.err();
  const auto last = serve.read_line(10s);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(
      *last,
      "parlab serve: stopped by SIGTERM after 1 requests on 1 connections, 0 answered 429 by the rate limit");
}

TEST_F(ServeCli, SigintStopsItTooAndTheDefaultsAreFaithful) {
  TempDir dir;
  auto serve = start_serve({"--port", "0"}, dir.path(), {{"PARLAB_BREWERY_CSV", csv_}});
  const auto line = serve.read_line(120s);
  ASSERT_TRUE(line.has_value()) << serve.err();
  const auto listening = parse_listening(*line);
  ASSERT_TRUE(listening.has_value()) << *line;
  EXPECT_EQ(listening->source, csv_) << "found through PARLAB_BREWERY_CSV";

  const auto t0 = Clock::now();
  const auto reply = tb::get(listening->port, "/v1/breweries?by_state=maryland&per_page=200");
  EXPECT_GE(Clock::now() - t0, 60ms) << "80 ms ± 20 ms latency by default";
  ASSERT_EQ(reply.status, 200U);
  EXPECT_EQ(Json::parse(reply.body).size(), 158U);
  EXPECT_EQ(reply.header("x-ratelimit-limit"), "120");
  EXPECT_EQ(reply.header("x-ratelimit-remaining"), "119");

  serve.signal(SIGINT);
  const auto status = serve.wait(60s);
  ASSERT_TRUE(status.has_value()) << "still running 60 s after SIGINT";
  EXPECT_EQ(*status, 0) << serve.err();
  const auto last = serve.read_line(10s);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->starts_with("parlab serve: stopped by SIGINT")) << *last;
}

TEST_F(ServeCli, APortInUseIsOneLineAndExitOne) {
  TempDir dir;
  const parlab::test::TakenPort taken;
  const auto port = std::to_string(taken.port());
  const auto run =
      parlab::test::run_program(PARLAB_CLI, {"serve", "--port", port, "--data", csv_}, dir.path());
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_NE(run.err.find("parlab: error: cannot listen on 127.0.0.1:" + port), std::string::npos) << run.err;
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

class ServeCliBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(ServeCliBadInput, OneLineOnStderrExitTwo) {
  TempDir dir;
  std::vector<std::string> args{"serve"};
  for (const auto& a : GetParam().args)
    args.push_back(a == "@DIR" ? dir.path().string() : a);
  // A missing file would be found first if it existed; the bad flags are checked before the data.
  const auto run = parlab::test::run_program(PARLAB_CLI, args, dir.path(),
                                             {{"PARLAB_BREWERY_CSV", "/nonexistent/parlab/breweries.csv"}});
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_TRUE(run.err.starts_with("parlab: error: ")) << run.err;
  EXPECT_NE(run.err.find(GetParam().message), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ServeCliBadInput,
    ::testing::Values(BadInput{{"--fail-rate", "2"}, "--fail-rate must be a probability between 0 and 1"},
                      BadInput{{"--drop-rate", "-0.5"}, "--drop-rate must be a probability"},
                      BadInput{{"--truncate-rate", "abc"}, "--truncate-rate"},
                      BadInput{{"--latency", "80xs"}, "--latency '80xs' is not a duration"},
                      BadInput{{"--jitter", "20"}, "--jitter '20' is not a duration"},
                      BadInput{{"--slow-delay", "fast"}, "--slow-delay 'fast'"},
                      BadInput{{"--rate-limit", "5/fortnight"}, "--rate-limit '5/fortnight' is not a rate"},
                      BadInput{{"--rate-limit", "0/min"}, "--rate-limit '0/min'"},
                      BadInput{{"--port", "70000"}, "--port must be from 0 to 65535"},
                      BadInput{{"--threads", "-1"}, "--threads must be from 1 to 1024"},
                      BadInput{{"--tls-cert", "cert.pem"}, "--tls-cert and --tls-key go together"},
                      BadInput{{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"},
                               "--tls-cert /nonexistent/c.pem: no such readable file"},
                      BadInput{{"--data", "/nonexistent/breweries.csv"},
                               "--data /nonexistent/breweries.csv: no such readable file"},
                      BadInput{{"--data", "@DIR"}, "no such readable file"},
                      BadInput{{},
                               "PARLAB_BREWERY_CSV=/nonexistent/parlab/breweries.csv: no such readable file"},
                      BadInput{{"--bogus"}, "--bogus"}));

TEST(ServeCliData, AFileThatIsNotTheDatasetIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "breweries.csv";
  std::ofstream{file} << "name,city\nx,y\n";
  const auto run =
      parlab::test::run_program(PARLAB_CLI, {"serve", "--port", "0", "--data", file.string()}, dir.path());
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_NE(run.err.find(file.string() + ":1: the header has no column 'id'"), std::string::npos) << run.err;
}

// ---------------------------------------------------------------------------------------------
// scripts/fetch-brewery-data, offline: a file:// URL stands in for GitHub.

parlab::test::Run fetch(const std::vector<std::string>& args, const fs::path& dir, const std::string& url) {
  std::vector<std::string> all{PARLAB_FETCH_SCRIPT};
  all.insert(all.end(), args.begin(), args.end());
  return parlab::test::run_program("/bin/bash", all, dir, {{"PARLAB_BREWERY_URL", url}});
}

TEST(FetchBreweryData, IsValidBash) {
  TempDir dir;
  const auto run = parlab::test::run_program("/bin/bash", {"-n", PARLAB_FETCH_SCRIPT}, dir.path());
  EXPECT_EQ(run.status, 0) << run.err;
}

TEST(FetchBreweryData, InstallsThePinnedFileAtomically) {
  const auto csv = tb::csv_path();
  ASSERT_TRUE(csv.has_value()) << tb::missing_csv();
  TempDir dir;
  const auto dest = dir.path() / "share" / "parlab";
  auto run = fetch({"--dest", dest.string()}, dir.path(), "file://" + csv->string());
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(read_file(dest / "breweries.csv") == read_file(*csv));
  EXPECT_EQ(std::distance(fs::directory_iterator{dest}, fs::directory_iterator{}), 1) << "no temporary left";
  EXPECT_NE(run.out.find("sha256 verified"), std::string::npos) << run.out;
  run = fetch({"--dest", dest.string()}, dir.path(), "file:///nonexistent");
  EXPECT_EQ(run.status, 0) << "already installed: nothing to download";
}

TEST(FetchBreweryData, RefusesAFileWithTheWrongHash) {
  const auto csv = tb::csv_path();
  ASSERT_TRUE(csv.has_value()) << tb::missing_csv();
  TempDir dir;
  const auto tampered = dir.path() / "tampered.csv";
  std::ofstream{tampered, std::ios::binary} << read_file(*csv) << "\nx";
  const auto dest = dir.path() / "dest";
  const auto run = fetch({"--dest", dest.string()}, dir.path(), "file://" + tampered.string());
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("sha256 mismatch"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dest / "breweries.csv"));
  EXPECT_TRUE(!fs::exists(dest) || fs::is_empty(dest)) << "no temporary left";
}

TEST(FetchBreweryData, ReportsAFailedDownloadAndBadArguments) {
  TempDir dir;
  auto run = fetch({"--dest", (dir.path() / "d").string()}, dir.path(), "file:///nonexistent/breweries.csv");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("fetch-brewery-data: error: cannot download file:///nonexistent/breweries.csv"),
            std::string::npos)
      << run.err;
  run = fetch({"--bogus"}, dir.path(), "file:///x");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("unknown argument '--bogus'"), std::string::npos);
}

}  // namespace
