// `parlab brewery` as a user runs it: the embedded replica and async.json, --exact, HTTPS with and
// without --cacert, and every error path (unknown state with a suggestion, --allow-unknown, an
// unreachable --api that names --api embedded, bad flags, an unusable --out, missing data, a state
// that fails): one line on stderr, the right exit status, and no async.json unless all went well.
#include "brewery/brewery_support.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"
#include "lab/brewery/states.hpp"
#include "lab/py_json.hpp"
#include "lab/system.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/ports.hpp"
#include "support/self_signed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

namespace tb = parlab::test::brewery;
using parlab::test::one_line;
using parlab::test::read_file;
using parlab::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using parlab::test::closed_port;

/// The files in `dir` (names only).
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// The count a stdout table gives for `state` ("maryland    158"), or -1.
long table_count(const std::string& out, const std::string& state) {
  const std::regex re{"(^|\\n)" + state + " +(\\d+)"};
  std::smatch m;
  if (!std::regex_search(out, m, re)) return -1;
  return std::stol(m[2]);
}

class BreweryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto path = tb::csv_path();
    ASSERT_TRUE(path.has_value()) << tb::missing_csv();
    csv_ = path->string();
  }
  /// `parlab brewery ARGS` with PARLAB_BREWERY_CSV set to the tests' CSV.
  parlab::test::Run brewery(std::vector<std::string> args,
                            std::vector<std::pair<std::string, std::string>> env = {}) {
    args.insert(args.begin(), "brewery");
    env.emplace_back("PARLAB_BREWERY_CSV", csv_);
    return parlab::test::run_program(PARLAB_CLI, args, work_.path(), env);
  }
  /// An in-process replica without latency (plain HTTP, or HTTPS with `tls`).
  std::unique_ptr<parlab::brewery::ReplicaServer> replica(
      std::optional<parlab::brewery::TlsFiles> tls = std::nullopt,
      std::optional<parlab::brewery::RateLimit> rate_limit = std::nullopt) {
    parlab::brewery::ServerOptions o;
    o.data = std::make_shared<const parlab::brewery::Dataset>(parlab::brewery::Dataset::load(csv_));
    o.threads = 2;
    o.latency = 0ms;
    o.jitter = 0ms;
    o.rate_limit = rate_limit;
    o.tls = std::move(tls);
    auto server = std::make_unique<parlab::brewery::ReplicaServer>(std::move(o));
    server->start();
    return server;
  }

  std::string csv_;
  TempDir work_;
  TempDir out_;
};

TEST_F(BreweryCli, EmbeddedRunCountsTheSeedsStatesAndWritesAsyncJson) {
  const auto run = brewery({"--api", "embedded", "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_EQ(run.err, "");
  const auto rows = tb::read_rows(csv_);
  for (const std::string state : {"district_of_columbia", "maryland", "new_york", "virginia"})
    EXPECT_EQ(table_count(run.out, state), static_cast<long>(tb::count_like(rows, "state_province", state)))
        << state << "\n"
        << run.out;
  EXPECT_EQ(table_count(run.out, "virginia"), 295);
  for (const std::string mode : {"serial", "to_thread"})
    EXPECT_TRUE(std::regex_search(run.out, std::regex{"\\n" + mode + " +\\d+\\.\\d{3} s  \\(7 pages\\)\\n"}))
        << mode << "\n"
        << run.out;
  EXPECT_TRUE(std::regex_search(
      run.out,
      std::regex{"\\nasync +\\d+\\.\\d{3} s  \\(7 pages; 4 of 4 states planned from /breweries/meta\\)\\n"}))
      << run.out;
  EXPECT_THAT(run.out, HasSubstr("embedded replica at http://127.0.0.1:"));
  EXPECT_THAT(run.out, HasSubstr("latency 80 ms"));

  const auto json = read_file(out_.path() / "async.json");
  const std::regex format{
      R"(^\{"result": "async version was (-?\d+\.\d{2})% faster than the serial version", )"
      R"("host": (".*")\}$)"};
  std::smatch m;
  ASSERT_TRUE(std::regex_match(json, m, format)) << json;
  EXPECT_EQ(m[2].str(), parlab::lab::py_json_string(parlab::lab::host_name()));
  EXPECT_THAT(run.out,
              HasSubstr("async version was " + m[1].str() + "% faster than the serial version (to_thread"));
  EXPECT_THAT(run.out, HasSubstr("wrote " + (out_.path() / "async.json").string()));
  EXPECT_EQ(listing(out_.path()), std::vector<std::string>{"async.json"}) << "no temporary file left";
}

TEST_F(BreweryCli, TheProcessModeCountsOnAProcessPoolAndAgreesWithAsync) {
  auto server = replica();
  const auto run =
      brewery({"--api", server->url() + "/v1", "--modes", "async,process", "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_EQ(run.err, "");  // the modes agree (a disagreement is an error line)
  EXPECT_TRUE(std::regex_search(
      run.out,
      std::regex{
          "\\nprocess +\\d+\\.\\d{3} s  \\(7 pages; 4 of 4 states planned from /breweries/meta\\)\\n"}))
      << run.out;
  // --one-by-one: the seed's paging, no plan, no mention of one.
  const auto seeds_way = brewery(
      {"--api", server->url() + "/v1", "--modes", "async", "--one-by-one", "--out", out_.path().string()});
  ASSERT_EQ(seeds_way.status, 0) << seeds_way.out << seeds_way.err;
  EXPECT_TRUE(std::regex_search(seeds_way.out, std::regex{"\\nasync +\\d+\\.\\d{3} s  \\(7 pages\\)\\n"}))
      << seeds_way.out;
  EXPECT_EQ(table_count(seeds_way.out, "new_york"), 419);
  EXPECT_EQ(table_count(run.out, "maryland"), 158);
  EXPECT_EQ(table_count(run.out, "virginia"), 295);
}

TEST_F(BreweryCli, TheClientPacesItselfToTheRateLimitAndCollectsNo429) {
  // The seed's four states take 9 or more requests a mode (serial: a last page that came on a
  // reused connection is asked again; async: a /breweries/meta per state and 7 pages); a server that allows 3
  // a second answers some with 429 to a client that does not pace itself.
  auto server = replica(std::nullopt, parlab::brewery::RateLimit{3, std::chrono::seconds{1}});
  const auto run = brewery({"--api", server->url() + "/v1", "--rate-limit", "3/s", "--modes", "serial,async",
                            "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_EQ(server->stats().rate_limited, 0U);
  for (const auto& [mode, planned] :
       {std::pair{"serial", ""}, std::pair{"async", "; 4 of 4 states planned from /breweries/meta"}})
    EXPECT_TRUE(std::regex_search(
        run.out, std::regex{"\\n" + std::string{mode} + " +\\d+\\.\\d{3} s  \\(7 pages" + planned +
                            "; paced to 3/s: \\d+ of "
                            "\\d+ requests waited, \\d+\\.\\d s in all\\)\\n"}))
        << mode << "\n"
        << run.out;
  EXPECT_EQ(table_count(run.out, "new_york"), 419);
  const auto bad = brewery({"--api", server->url() + "/v1", "--rate-limit", "3/fortnight"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("--rate-limit '3/fortnight' is not a rate"));
}

TEST_F(BreweryCli, AllStatesIsTheFiftyAndDistrictOfColumbia) {
  auto server = replica();
  const auto run = brewery({"--api", server->url() + "/v1", "--rate-limit", "off", "--states", "all",
                            "--modes", "async", "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("51 states"));
  const auto rows = tb::read_rows(csv_);
  for (const auto state : parlab::brewery::us_states())
    EXPECT_EQ(table_count(run.out, std::string{state}),
              static_cast<long>(tb::count_like(rows, "state_province", std::string{state})))
        << state;
}

TEST_F(BreweryCli, ExactModeReportsBothNumbers) {
  auto server = replica();
  const auto run = brewery({"--api", server->url() + "/v1", "--states", "virginia,New York", "--exact",
                            "--modes", "async", "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_TRUE(std::regex_search(run.out, std::regex{"\\nvirginia +295 +255\\n"})) << run.out;
  EXPECT_TRUE(std::regex_search(run.out, std::regex{"\\nnew_york +419 +419\\n"})) << run.out;
  EXPECT_THAT(run.out,
              HasSubstr("async.json not written: it compares the serial and async modes (--modes async)"));
  EXPECT_TRUE(listing(out_.path()).empty());
}

TEST_F(BreweryCli, HttpsNeedsTheCaOfASelfSignedServer) {
  TempDir certs;
  const auto tls = parlab::test::make_self_signed(certs.path());
  auto server = replica(parlab::brewery::TlsFiles{tls.cert, tls.key});
  const std::string api = server->url() + "/v1";
  ASSERT_TRUE(api.starts_with("https://"));

  const auto refused = brewery({"--api", api, "--modes", "serial,async", "--out", out_.path().string()});
  EXPECT_EQ(refused.status, 1) << refused.out;
  EXPECT_TRUE(one_line(refused.err)) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("parlab: error: TLS with " + api));
  EXPECT_THAT(refused.err, HasSubstr("certificate"));
  EXPECT_THAT(refused.err, HasSubstr("--cacert"));
  EXPECT_TRUE(listing(out_.path()).empty());

  const auto accepted = brewery({"--api", api, "--cacert", tls.ca_cert.string(), "--modes", "serial,async",
                                 "--out", out_.path().string()});
  ASSERT_EQ(accepted.status, 0) << accepted.out << accepted.err;
  EXPECT_EQ(table_count(accepted.out, "maryland"), 158);
  EXPECT_EQ(listing(out_.path()), std::vector<std::string>{"async.json"});
}

TEST_F(BreweryCli, AnUnknownStateIsAnErrorWithASuggestion) {
  const auto run =
      brewery({"--api", "embedded", "--states", "maryland,marylnd", "--out", out_.path().string()});
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_THAT(run.err, HasSubstr("parlab: error: unknown state 'marylnd' (did you mean 'maryland'?)"));
  EXPECT_THAT(run.err, HasSubstr("--allow-unknown"));
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(listing(out_.path()).empty());
  const auto far = brewery({"--states", "narnia", "--out", out_.path().string()});
  EXPECT_EQ(far.status, 2);
  EXPECT_THAT(far.err, HasSubstr("unknown state 'narnia':"));
  EXPECT_THAT(far.err, Not(HasSubstr("did you mean")));
}

TEST_F(BreweryCli, AllowUnknownSendsTheNameAsGiven) {
  auto server = replica();
  const auto run = brewery({"--api", server->url() + "/v1", "--states", "marylnd,Maryland", "--allow-unknown",
                            "--out", out_.path().string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_EQ(table_count(run.out, "marylnd"), 0) << run.out;
  EXPECT_EQ(table_count(run.out, "maryland"), 158) << "a known state is folded: " << run.out;
  EXPECT_EQ(listing(out_.path()), std::vector<std::string>{"async.json"});
}

TEST_F(BreweryCli, AStateThatFailsIsReportedAndNothingIsWritten) {
  auto server = replica();
  // by_state needs 3 to 255 characters: "ny" gets 422 in every mode.
  const auto run = brewery({"--api", server->url() + "/v1", "--states", "ny,maryland", "--allow-unknown",
                            "--out", out_.path().string()});
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_THAT(run.err, HasSubstr("parlab: error: serial: ny: page 1: HTTP 422"));
  EXPECT_THAT(run.err, HasSubstr("parlab: error: to_thread: ny: page 1: HTTP 422"));
  EXPECT_THAT(run.err, HasSubstr("parlab: error: async: ny: page 1: HTTP 422"));
  EXPECT_THAT(run.err, HasSubstr("async.json not written"));
  EXPECT_TRUE(std::regex_search(run.out, std::regex{"\\nny +error\\n"})) << run.out;
  EXPECT_EQ(table_count(run.out, "maryland"), 158) << "the other state is still counted";
  EXPECT_TRUE(listing(out_.path()).empty());
}

TEST_F(BreweryCli, AnUnreachableApiIsOneQuickLineNamingEmbedded) {
  const std::string api = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  const auto start = Clock::now();
  const auto run = brewery({"--api", api, "--out", out_.path().string()});
  EXPECT_LT(Clock::now() - start, 60s) << "did not hang";
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_THAT(run.err, HasSubstr("parlab: error: cannot reach the API at " + api));
  EXPECT_THAT(run.err, HasSubstr("--api embedded"));
  EXPECT_TRUE(listing(out_.path()).empty());
}

TEST_F(BreweryCli, TheDefaultPublicApiFailsClearlyOffline) {
  const auto start = Clock::now();
  const auto run = brewery({"--modes", "serial,async", "--out", out_.path().string()});
  EXPECT_LT(Clock::now() - start, 60s) << "the connect timeout bounds it";
  if (run.status == 0) GTEST_SKIP() << "this machine reaches api.openbrewerydb.org";
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_THAT(run.err, HasSubstr("https://api.openbrewerydb.org/v1"));
  EXPECT_THAT(run.err, HasSubstr("--api embedded"));
  EXPECT_TRUE(listing(out_.path()).empty());
}

TEST_F(BreweryCli, BadFlagsAreOneLineAndExitTwo) {
  const auto not_pem = work_.path() / "not-a-ca.pem";
  std::ofstream{not_pem} << "this is no certificate\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--modes", "serial,fast"},
       "unknown mode 'fast' in --modes (choose from serial, to_thread, async, process)"},
      {{"--modes", "async,async"}, "--modes lists 'async' twice"},
      {{"--concurrency", "0"}, "--concurrency must be at least 1"},
      {{"--concurrency", "many"}, "--concurrency"},
      {{"--api", "ftp://example.org/v1"},
       "--api 'ftp://example.org/v1' is neither an http(s) URL nor 'embedded'"},
      {{"--api", "embedded", "--cacert", "/etc/hostname"}, "--cacert applies to an https --api"},
      {{"--api", "https://example.invalid/v1", "--cacert", "/no/such/ca.pem"}, "--cacert /no/such/ca.pem"},
      {{"--api", "https://127.0.0.1:1/v1", "--cacert", not_pem.string()}, "cannot load ca_file"},
      {{"--data", "x.csv"}, "--data goes with --api embedded"},
      {{"--states", ""}, "--states"},
      {{"--bogus"}, "--bogus"},
  };
  for (const auto& [args, expected] : cases) {
    auto with_out = args;
    with_out.insert(with_out.end(), {"--out", out_.path().string()});
    const auto run = brewery(with_out);
    EXPECT_EQ(run.status, 2) << args[0] << ": " << run.err;
    EXPECT_TRUE(one_line(run.err)) << run.err;
    EXPECT_THAT(run.err, HasSubstr("parlab: error: "));
    EXPECT_THAT(run.err, HasSubstr(expected));
    EXPECT_EQ(run.out, "") << args[0];
  }
  EXPECT_TRUE(listing(out_.path()).empty());
}

TEST_F(BreweryCli, AnUnusableOutFolderIsRefusedBeforeAnyWork) {
  const auto file = out_.path() / "a-file";
  std::ofstream{file} << "x";
  for (const auto& out : {file, file / "sub"}) {
    const auto run = brewery({"--api", "embedded", "--out", out.string()});
    EXPECT_EQ(run.status, 2) << out;
    EXPECT_TRUE(one_line(run.err)) << run.err;
    EXPECT_THAT(run.err, HasSubstr("parlab: error: --out " + out.string() + ": cannot create the folder"));
    EXPECT_EQ(run.out, "") << "nothing ran";
  }
  EXPECT_EQ(listing(out_.path()), std::vector<std::string>{"a-file"});
  EXPECT_EQ(read_file(file), "x");
}

TEST_F(BreweryCli, MissingDataNamesTheFetchScript) {
  for (const auto& [args, env] :
       std::vector<std::pair<std::vector<std::string>, std::vector<std::pair<std::string, std::string>>>>{
           {{"--api", "embedded", "--data", "/no/such/breweries.csv"}, {}},
           {{"--api", "embedded"}, {{"PARLAB_BREWERY_CSV", "/no/such/breweries.csv"}}}}) {
    auto with_out = args;
    with_out.insert(with_out.end(), {"--out", out_.path().string()});
    auto run_env = env;
    std::vector<std::string> full{"brewery"};
    full.insert(full.end(), with_out.begin(), with_out.end());
    if (run_env.empty()) run_env.emplace_back("PARLAB_BREWERY_CSV", csv_);
    const auto run = parlab::test::run_program(PARLAB_CLI, full, work_.path(), run_env);
    EXPECT_EQ(run.status, 2);
    EXPECT_TRUE(one_line(run.err)) << run.err;
    EXPECT_THAT(run.err, HasSubstr("/no/such/breweries.csv"));
    EXPECT_THAT(run.err, HasSubstr("scripts/fetch-brewery-data"));
  }
  EXPECT_TRUE(listing(out_.path()).empty());
}

}  // namespace
