// The brewery client (lab/brewery/client.hpp) and the state names (states.hpp) against the in-process
// replica and the scriptable test server: counts checked against an independent reading of the CSV,
// exact mode, pagination at multiples of 200, every fault (503, 429, 500, drops, truncated and
// malformed bodies) giving the exact count or an explicit error and never a wrong number, TLS, the
// probe, and async.json's text compared with what Python itself prints.
#include "brewery/brewery_support.hpp"
#include "lab/brewery/client.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"
#include "lab/brewery/states.hpp"
#include "lab/system.hpp"
#include "support/files.hpp"
#include "support/http_server.hpp"
#include "support/ports.hpp"
#include "support/self_signed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace aio = parlab::aio;
namespace http = parlab::http;
namespace tb = parlab::test::brewery;
using namespace parlab::brewery;
using namespace std::chrono_literals;
using parlab::test::HttpServer;
using parlab::test::Reply;
using parlab::test::SeenRequest;
using ::testing::HasSubstr;

const std::vector<std::string> seed_four{"district_of_columbia", "maryland", "new_york", "virginia"};

using parlab::test::closed_port;

/// Fast retries: the replica's Retry-After: 1 and back-off shrink to milliseconds.
http::ClientOptions quick_http(int max_attempts = 4) {
  http::ClientOptions o;
  o.max_attempts = max_attempts;
  o.backoff_base = 2ms;
  o.backoff_cap = 10ms;
  o.max_retry_after = 10ms;
  o.jitter_seed = 3;
  o.connect_timeout = 20s;
  o.total_timeout = 60s;
  return o;
}

CountOptions options_for(const std::string& api, bool exact = false, http::ClientOptions h = quick_http()) {
  CountOptions o;
  o.api = api;
  o.exact = exact;
  o.http = std::move(h);
  return o;
}

/// The oracle's exact match: ASCII-lower-cased state_province equals the state with `_` as space.
std::size_t count_exact(const std::vector<tb::Row>& rows, const std::string& state) {
  std::string want = state;
  std::replace(want.begin(), want.end(), '_', ' ');
  std::size_t n = 0;
  for (const auto& row : rows) {
    std::string have = row.at("state_province");
    std::transform(have.begin(), have.end(), have.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (have == want) ++n;
  }
  return n;
}

/// A JSON array of `n` breweries in `state_province`, as page `page` has them (ids "p<page>-<i>",
/// unique across pages).
std::string page_body(std::size_t n, const std::string& state_province = "Maryland", std::size_t page = 1) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i)
    out += std::string{i == 0 ? "" : ","} + "{\"id\":\"p" + std::to_string(page) + "-" + std::to_string(i) +
           "\",\"state_province\":\"" + state_province + "\"}";
  return out + "]";
}

/// The page number of a request's query ("...&page=3" -> 3), 0 if none.
std::size_t page_of(const SeenRequest& r) {
  static const std::regex re{R"((?:^|&)page=(\d+))"};
  std::smatch m;
  const std::string query = r.query();
  if (!std::regex_search(query, m, re)) return 0;
  return std::stoul(m[1]);
}

/// The CSV text of `counts` breweries per state_province (every other column filled minimally).
std::string synthetic_csv(const std::vector<std::pair<std::string, std::size_t>>& counts) {
  std::string csv =
      "id,name,brewery_type,address_1,address_2,address_3,city,state_province,postal_code,country,"
      "longitude,latitude,phone,website_url\n";
  std::size_t id = 0;
  for (const auto& [state, n] : counts)
    for (std::size_t i = 0; i < n; ++i, ++id)
      csv += "syn-" + std::to_string(id) + ",Brewery " + std::to_string(id) + ",micro,,,,Town," + state +
             ",12345,United States,,,,\n";
  return csv;
}

// --- the state names ---

TEST(BreweryStates, FiftyStatesAndDcSortedInTheSeedsSpelling) {
  const auto states = us_states();
  ASSERT_EQ(states.size(), 51U);
  EXPECT_TRUE(std::is_sorted(states.begin(), states.end()));
  EXPECT_EQ(std::adjacent_find(states.begin(), states.end()), states.end());
  for (const auto s : seed_states())
    EXPECT_TRUE(is_us_state(s)) << s;
  EXPECT_EQ(seed_states().size(), 4U);
  for (const auto s : states) {
    EXPECT_EQ(fold_state(s), s);
    EXPECT_EQ(s.find(' '), std::string_view::npos);
  }
}

TEST(BreweryStates, FoldingIgnoresCaseBlanksAndUnderscores) {
  EXPECT_EQ(fold_state("  New  York "), "new_york");
  EXPECT_EQ(fold_state("NEW_YORK"), "new_york");
  EXPECT_EQ(fold_state("district of columbia"), "district_of_columbia");
  EXPECT_EQ(fold_state("__ohio__"), "ohio");
  EXPECT_TRUE(is_us_state("New York"));
  EXPECT_TRUE(is_us_state("west_virginia"));
  EXPECT_FALSE(is_us_state("york"));
  EXPECT_FALSE(is_us_state("newyork"));
  EXPECT_FALSE(is_us_state(""));
  EXPECT_FALSE(is_us_state("ontario"));
}

TEST(BreweryStates, SuggestsTheClosestStateForATypo) {
  EXPECT_EQ(edit_distance("marylnd", "maryland"), 1U);
  EXPECT_EQ(edit_distance("", "ohio"), 4U);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
  EXPECT_EQ(suggest_state("marylnd"), "maryland");
  EXPECT_EQ(suggest_state("Virgina"), "virginia");
  EXPECT_EQ(suggest_state("newyork"), "new_york");
  EXPECT_EQ(suggest_state("new yrok"), "new_york");
  EXPECT_EQ(suggest_state("ohi"), "ohio");
  EXPECT_EQ(suggest_state("xylophone"), std::nullopt);
  EXPECT_EQ(suggest_state("ab"), std::nullopt);
  EXPECT_EQ(suggest_state(""), std::nullopt);
}

TEST(BreweryStates, SameStateIsExactAfterFolding) {
  EXPECT_TRUE(same_state("Virginia", "virginia"));
  EXPECT_TRUE(same_state("New York", "new_york"));
  EXPECT_TRUE(same_state("DISTRICT OF COLUMBIA", "district_of_columbia"));
  EXPECT_FALSE(same_state("West Virginia", "virginia"));
  EXPECT_FALSE(same_state("Arkansas", "kansas"));
}

// --- one page's body ---

TEST(BreweryPage, CountsBreweriesAndExactRows) {
  EXPECT_EQ(count_page("[]", "maryland").rows, 0U);
  const auto page =
      count_page(R"([{"id":"1","state_province":"Virginia","x":{"state_province":"Virginia"}},)"
                 R"({"id":"2","state_province":"West Virginia"},{"id":"3","state_province":null},)"
                 R"({"id":"4","state_province":"virginia","tags":[1,{"a":2}]}])",
                 "virginia");
  EXPECT_EQ(page.rows, 4U);
  EXPECT_EQ(page.exact_rows, 2U) << "nested keys do not count; West Virginia is not virginia";
  EXPECT_EQ(count_page(page_body(200), "maryland").rows, 200U);
  EXPECT_EQ(count_page(page_body(200), "maryland").exact_rows, 200U);
}

TEST(BreweryPage, RejectsWhatIsNotAnArrayOfBreweries) {
  const auto error = [](const std::string& body) -> std::string {
    try {
      (void)count_page(body, "maryland");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_THAT(error("[{\"id\":"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error(""), HasSubstr("malformed JSON"));
  EXPECT_THAT(error("[{}] trailing"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error(R"({"message":"Too many requests"})"),
              HasSubstr("the body is an object, not a JSON array"));
  EXPECT_THAT(error("null"), HasSubstr("the body is null"));
  EXPECT_THAT(error("[{},1]"), HasSubstr("element 2 of the array is a number"));
  EXPECT_THAT(error("[[]]"), HasSubstr("element 1 of the array is an array"));
  EXPECT_THAT(error(R"([{"state_province":7}])"), HasSubstr("state_province that is a number"));
  EXPECT_THAT(error(R"([{"state_province":{}}])"), HasSubstr("state_province that is an object"));
}

// --- against the replica ---

class BreweryClientTest : public tb::ReplicaTest {
 protected:
  static std::string api(const ReplicaServer& server) { return server.url() + "/v1"; }
  /// The oracle: rows whose state_province is LIKE '%state%'.
  static std::size_t like_count(const std::string& state) {
    return tb::count_like(*rows_, "state_province", state);
  }
  static std::size_t exact_count(const std::string& state) { return count_exact(*rows_, state); }
  /// Every outcome is the oracle's count or a CountError naming its state; the number of errors.
  static std::size_t expect_exact_or_error(const std::vector<parlab::Outcome<StateCount>>& results,
                                           const std::vector<std::string>& states,
                                           const std::string& context) {
    EXPECT_EQ(results.size(), states.size()) << context;
    std::size_t errors = 0;
    for (std::size_t i = 0; i < results.size() && i < states.size(); ++i) {
      if (results[i].ok()) {
        EXPECT_EQ(results[i].value().state, states[i]) << context;
        EXPECT_EQ(results[i].value().brewery_count, like_count(states[i])) << context << ": " << states[i];
        EXPECT_EQ(results[i].value().pages, like_count(states[i]) / page_size + 1)
            << context << ": " << states[i];
        continue;
      }
      ++errors;
      try {
        results[i].rethrow();
      } catch (const CountError& e) {
        EXPECT_EQ(e.state(), states[i]) << context;
        EXPECT_GE(e.page(), 1U) << context;
        EXPECT_THAT(e.what(), HasSubstr(states[i] + ": page ")) << context;
      } catch (const std::exception& e) {
        ADD_FAILURE() << context << ": " << states[i]
                      << " failed with something else than CountError: " << e.what();
      }
    }
    return errors;
  }
};

TEST_F(BreweryClientTest, TheSeedsFourStatesMatchTheCsvAndTheKnownFacts) {
  auto server = start(quick());
  const auto options = options_for(api(*server));
  const std::map<std::string, std::size_t> facts{
      {"district_of_columbia", 22}, {"maryland", 158}, {"new_york", 419}, {"virginia", 295}};
  for (const auto& state : seed_four) {
    const StateCount c = count(state, options);
    EXPECT_EQ(c.state, state);
    EXPECT_EQ(c.brewery_count, like_count(state)) << state << " vs the CSV";
    EXPECT_EQ(c.brewery_count, facts.at(state)) << state << " vs SEED.md";
    EXPECT_EQ(c.pages, c.brewery_count / 200 + 1);
    EXPECT_FALSE(c.exact_count.has_value()) << "exact mode is off";
  }
  EXPECT_EQ(server->stats().requests, 1U + 1 + (3 + 1) + (2 + 1))
      << "22, 158: one page; 419: three; 295: two; a last page after others is asked again";
}

TEST_F(BreweryClientTest, BlockingNativeAsyncAndTheSeedsGatherAgree) {
  auto server = start(quick());
  const auto options = options_for(api(*server));
  std::vector<StateCount> blocking;
  for (const auto& state : seed_four)
    blocking.push_back(count(state, options));

  const auto native = aio::run(count_states_async(seed_four, options));
  const auto seed_shape = aio::run(get_brewery_counts_for_states(seed_four, options));
  const auto one = aio::run(count_async("new_york", options));
  ASSERT_EQ(native.size(), 4U);
  ASSERT_EQ(seed_shape.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(native[i].value(), blocking[i]);
    EXPECT_EQ(seed_shape[i], blocking[i]);
  }
  EXPECT_EQ(one, blocking[2]);
  const auto threaded = aio::run(async_get_brewery_count("maryland", options));
  EXPECT_EQ(threaded, blocking[1]);
}

TEST_F(BreweryClientTest, TheThreeModesAgreeWithTheCsv) {
  auto server = start(quick());
  const auto options = options_for(api(*server), true);
  std::vector<ModeRun> runs;
  for (const Mode mode : {Mode::serial, Mode::to_thread, Mode::async}) {
    runs.push_back(run_mode(mode, seed_four, options));
    EXPECT_EQ(runs.back().mode, mode);
    EXPECT_TRUE(runs.back().ok()) << mode_name(mode);
    EXPECT_EQ(expect_exact_or_error(runs.back().results, seed_four, std::string{mode_name(mode)}), 0U);
    EXPECT_EQ(runs.back().pages(), 7U);
    EXPECT_GT(runs.back().elapsed.count(), 0.0);
  }
  for (std::size_t i = 0; i < seed_four.size(); ++i) {
    EXPECT_EQ(runs[0].results[i].value(), runs[1].results[i].value());
    EXPECT_EQ(runs[0].results[i].value(), runs[2].results[i].value());
  }
  const auto capped = run_mode(Mode::async, seed_four, options, 1);
  for (std::size_t i = 0; i < seed_four.size(); ++i)
    EXPECT_EQ(capped.results[i].value(), runs[0].results[i].value());
}

TEST_F(BreweryClientTest, TheProcessModeCountsEachPageOnAProcessPool) {
  auto server = start(quick());
  const auto options = options_for(api(*server), true);
  const auto native = run_mode(Mode::async, seed_four, options);
  const auto process = run_mode(Mode::process, seed_four, options);
  EXPECT_EQ(process.mode, Mode::process);
  EXPECT_TRUE(process.ok());
  EXPECT_EQ(expect_exact_or_error(process.results, seed_four, "process"), 0U);
  EXPECT_EQ(process.pages(), 7U);
  for (std::size_t i = 0; i < seed_four.size(); ++i)
    EXPECT_EQ(process.results[i].value(), native.results[i].value());
  EXPECT_EQ(parse_mode("process"), Mode::process);
  EXPECT_EQ(mode_name(Mode::process), "process");
}

TEST_F(BreweryClientTest, ExactModeKeepsOnlyTheStateItself) {
  auto server = start(quick());
  const auto c = count("virginia", options_for(api(*server), true));
  EXPECT_EQ(c.brewery_count, 295U) << "by_state is a substring: West Virginia too";
  ASSERT_TRUE(c.exact_count.has_value());
  EXPECT_EQ(*c.exact_count, 255U);
  EXPECT_EQ(*c.exact_count, exact_count("virginia"));
  const auto kansas = aio::run(count_async("kansas", options_for(api(*server), true)));
  EXPECT_EQ(kansas.brewery_count, like_count("kansas")) << "Arkansas contains kansas";
  EXPECT_EQ(*kansas.exact_count, exact_count("kansas"));
  EXPECT_LT(*kansas.exact_count, kansas.brewery_count);
  const auto spaced = count("New York", options_for(api(*server), true));
  EXPECT_EQ(spaced.brewery_count, like_count("new_york"));
  EXPECT_EQ(*spaced.exact_count, exact_count("new_york"));
}

TEST_F(BreweryClientTest, AllFiftyOneStatesMatchTheCsv) {
  auto server = start(quick());
  std::vector<std::string> states(us_states().begin(), us_states().end());
  const auto results = aio::run(count_states_async(states, options_for(api(*server), true), 8));
  EXPECT_EQ(expect_exact_or_error(results, states, "51 states"), 0U);
  std::uint64_t pages = 0;
  for (std::size_t i = 0; i < states.size(); ++i) {
    EXPECT_EQ(results[i].value().exact_count, exact_count(states[i])) << states[i];
    EXPECT_TRUE(results[i].value().planned) << states[i] << ": the meta's by_state, summed as LIKE matches";
    pages += results[i].value().pages;
  }
  EXPECT_EQ(server->stats().requests, 1 + pages) << "one /breweries/meta for all 51 states, each page once";
}

TEST_F(BreweryClientTest, PagesEndOnAnEmptyPageAfterAMultipleOf200) {
  const auto data = std::make_shared<const Dataset>(Dataset::parse(
      synthetic_csv({{"Maryland", 400}, {"Ohio", 399}, {"Iowa", 200}, {"Utah", 201}, {"Maine", 1}}),
      "synthetic"));
  auto o = quick();
  o.data = data;
  auto server = start(o);
  const auto options = options_for(api(*server), true);
  struct Want {
    std::string state;
    std::size_t rows, pages;
  };
  std::uint64_t requests = 0;
  for (const auto& want : {Want{"maryland", 400, 3}, Want{"ohio", 399, 2}, Want{"iowa", 200, 2},
                           Want{"utah", 201, 2}, Want{"maine", 1, 1}, Want{"wyoming", 0, 1}}) {
    const auto c = count(want.state, options);
    EXPECT_EQ(c.brewery_count, want.rows) << want.state;
    EXPECT_EQ(c.exact_count, want.rows) << want.state;
    EXPECT_EQ(c.pages, want.pages) << want.state;
    // One request per page, and one more for a last page that came on a reused connection: it is
    // asked again on a new one (see count).
    const std::size_t confirmation = want.pages > 1 ? 1 : 0;
    requests += want.pages + confirmation;
    EXPECT_EQ(server->stats().requests, requests) << want.state << ": one request per page, no more";
    // Natively async: the meta's total plans the pages, all of them fetched at once and none asked
    // again (each is checked against the total instead).
    const auto native = aio::run(count_async(want.state, options));
    EXPECT_EQ(native, c) << want.state;
    EXPECT_TRUE(native.planned) << want.state;
    EXPECT_FALSE(c.planned) << want.state << ": count() pages one by one, as the seed";
    requests += 1 + want.pages;
    EXPECT_EQ(server->stats().requests, requests) << want.state << ": the meta and each page once";
  }
}

TEST_F(BreweryClientTest, RandomFaultsGiveTheExactCountOrAnErrorNeverAWrongNumber) {
  std::size_t errors = 0;
  std::size_t counted = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto o = quick();
    o.seed = seed;
    o.faults.fail_rate = 0.3;
    o.faults.drop_rate = 0.1;
    o.faults.truncate_rate = 0.05;
    auto server = start(o);
    auto h = quick_http(4);
    h.jitter_seed = seed;
    const Mode mode = std::array{Mode::serial, Mode::to_thread, Mode::async}[seed % 3];
    const auto run = run_mode(mode, seed_four, options_for(api(*server), false, h));
    const std::size_t e = expect_exact_or_error(
        run.results, seed_four, "seed " + std::to_string(seed) + ", " + std::string{mode_name(mode)});
    errors += e;
    counted += seed_four.size() - e;
    const auto stats = server->stats();
    EXPECT_GT(stats.failed + stats.dropped + stats.truncated, 0U)
        << "seed " << seed << ": faults were injected";
  }
  RecordProperty("states_failed", static_cast<int>(errors));
  EXPECT_GT(counted, 40U) << "with 4 attempts most states get through";
}

TEST_F(BreweryClientTest, WithoutRetriesFaultsBecomeErrorsNotSmallerCounts) {
  std::size_t errors = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto o = quick();
    o.seed = 100 + seed;
    o.faults.fail_rate = 0.3;
    o.faults.drop_rate = 0.1;
    auto server = start(o);
    const auto run = run_mode(seed % 2 == 0 ? Mode::async : Mode::serial, seed_four,
                              options_for(api(*server), false, quick_http(1)));
    errors += expect_exact_or_error(run.results, seed_four, "seed " + std::to_string(100 + seed));
  }
  EXPECT_GT(errors, 0U) << "140 single attempts at a 37% failure rate: some states must fail";
}

TEST_F(BreweryClientTest, RateLimitedRequestsAreRetriedAsRetryAfterSays) {
  auto o = quick();
  o.rate_limit = RateLimit{3, std::chrono::seconds{1}};
  auto server = start(o);
  auto h = quick_http(8);
  h.max_retry_after = 2s;
  const auto options = options_for(api(*server), false, h);
  const auto [results, retries] =
      aio::run([&]() -> aio::Task<std::pair<std::vector<StateCount>, std::size_t>> {
        http::Client client{co_await aio::this_loop(), options.http};
        std::vector<aio::Task<StateCount>> tasks;
        for (const auto& state : seed_four)
          tasks.push_back(count_async(state, &client, options));
        auto all = aio::gather(std::move(tasks));
        auto counts = co_await std::move(all);
        co_return std::pair{std::move(counts), client.stats().retries};
      });
  ASSERT_EQ(results.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(results[i].brewery_count, like_count(seed_four[i]));
  EXPECT_GT(retries, 0U) << "7 requests at 3 per second: some got 429 and were retried";
}

TEST_F(BreweryClientTest, AClientThatPacesItselfCollectsNo429) {
  // The same server as above, 3 requests a second; the limiter keeps 3 in any 1.1 s (the margin
  // covers the time a request takes to reach the server), shared by every thread of to_thread.
  auto o = quick();
  o.rate_limit = RateLimit{3, std::chrono::seconds{1}};
  auto server = start(o);
  auto options = options_for(api(*server), false, quick_http(1));  // a 429 would be an error
  options.http.rate_limiter = std::make_shared<http::RateLimiter>(3, 1100ms);
  for (const Mode mode : {Mode::to_thread, Mode::async}) {
    const auto run = run_mode(mode, seed_four, options);
    EXPECT_EQ(expect_exact_or_error(run.results, seed_four, std::string{mode_name(mode)}), 0U);
  }
  EXPECT_EQ(server->stats().rate_limited, 0U);
  EXPECT_GT(options.http.rate_limiter->stats().delayed, 0U) << "18 requests at 3 per 1.1 s: most waited";
}

TEST_F(BreweryClientTest, ARateLimitThatOutlastsTheRetriesIsAnError) {
  auto o = quick();
  o.rate_limit = RateLimit{1, std::chrono::seconds{60}};
  auto server = start(o);
  const auto options = options_for(api(*server), false, quick_http(2));
  EXPECT_EQ(count("maryland", options).brewery_count, 158U) << "the first request is within the limit";
  try {
    (void)count("virginia", options);
    FAIL() << "expected a CountError";
  } catch (const CountError& e) {
    EXPECT_EQ(e.state(), "virginia");
    EXPECT_EQ(e.page(), 1U);
    EXPECT_THAT(e.what(), HasSubstr("HTTP 429"));
    EXPECT_THAT(e.what(), HasSubstr("after 2 attempts"));
  }
}

TEST_F(BreweryClientTest, TheSeedsGatherRaisesTheFirstErrorRunModeReportsEachState) {
  auto server = start(quick());
  const auto options = options_for(api(*server));
  const std::vector<std::string> states{"maryland", "ny", "virginia"};  // by_state needs 3+ characters: 422
  try {
    (void)aio::run(get_brewery_counts_for_states(states, options));
    FAIL() << "expected a CountError";
  } catch (const CountError& e) {
    EXPECT_EQ(e.state(), "ny");
    EXPECT_THAT(e.what(), HasSubstr("ny: page 1: HTTP 422"));
  }
  for (const Mode mode : {Mode::serial, Mode::to_thread, Mode::async}) {
    const auto run = run_mode(mode, states, options);
    EXPECT_FALSE(run.ok());
    EXPECT_EQ(expect_exact_or_error(run.results, states, std::string{mode_name(mode)}), 1U);
    EXPECT_FALSE(run.results[1].ok());
  }
}

TEST_F(BreweryClientTest, HttpsIsVerifiedAgainstTheGivenCa) {
  parlab::test::TempDir dir;
  const auto tls = parlab::test::make_self_signed(dir.path());
  auto o = quick();
  o.tls = parlab::brewery::TlsFiles{tls.cert, tls.key};
  auto server = start(o);
  ASSERT_TRUE(server->url().starts_with("https://"));
  auto untrusted = options_for(api(*server));
  try {
    probe_api(untrusted);
    FAIL() << "a self-signed certificate must be refused";
  } catch (const ApiUnavailable& e) {
    EXPECT_EQ(e.reason(), ProbeFailure::tls) << e.what();
  }
  EXPECT_THROW((void)count("maryland", untrusted), CountError);
  auto trusted = untrusted;
  trusted.http.ca_file = tls.ca_cert.string();
  EXPECT_NO_THROW(probe_api(trusted));
  EXPECT_EQ(count("maryland", trusted).brewery_count, 158U);
}

TEST_F(BreweryClientTest, TheProbeTellsUnreachableFromNotTheApi) {
  auto server = start(quick());
  EXPECT_NO_THROW(probe_api(options_for(api(*server))));
  try {
    probe_api(options_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/v1", false, quick_http(2)));
    FAIL() << "nothing listens there";
  } catch (const ApiUnavailable& e) {
    EXPECT_EQ(e.reason(), ProbeFailure::unreachable) << e.what();
  }
  try {
    probe_api(options_for(server->url() + "/v2"));
    FAIL() << "/v2 is not the API";
  } catch (const ApiUnavailable& e) {
    EXPECT_EQ(e.reason(), ProbeFailure::not_the_api);
    EXPECT_THAT(e.what(), HasSubstr("HTTP 404"));
  }
  try {
    (void)count("maryland", options_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/v1", false,
                                        quick_http(2)));
    FAIL() << "nothing listens there";
  } catch (const CountError& e) {
    EXPECT_EQ(e.page(), 1U);
    EXPECT_THAT(e.what(), HasSubstr("connect"));
  }
}

// --- faults the replica does not make, from the scriptable server ---

TEST(BreweryClientFaults, AFailedPageIsAnErrorForItsStateAfterTheRetries) {
  std::atomic<int> page2_calls{0};
  HttpServer server{[&](const SeenRequest& r) {
    if (page_of(r) == 1) return Reply{.body = page_body(200)};
    ++page2_calls;
    return Reply{.status = 500, .body = R"({"message":"database on fire"})"};
  }};
  const auto options = options_for(server.url("/v1"), false, quick_http(3));
  try {
    (void)count("maryland", options);
    FAIL() << "expected a CountError, not 200";
  } catch (const CountError& e) {
    EXPECT_EQ(e.page(), 2U);
    EXPECT_EQ(std::string{e.what()},
              "maryland: page 2: HTTP 500 Internal Server Error after 3 attempts: database on fire");
  }
  EXPECT_EQ(page2_calls.load(), 3);
  const auto outcomes = aio::run(count_states_async({"maryland", "ohio"}, options));
  EXPECT_FALSE(outcomes[0].ok());
  EXPECT_FALSE(outcomes[1].ok());
}

TEST(BreweryClientFaults, AFlakyPageIsRetriedToTheExactCount) {
  std::atomic<int> page2_calls{0};
  std::atomic<int> page3_calls{0};
  HttpServer server{[&](const SeenRequest& r) {
    const auto page = page_of(r);
    if (page == 2 && ++page2_calls == 1) return Reply{.status = 500};
    if (page == 3 && ++page3_calls <= 2) return Reply{.action = Reply::Action::drop};
    return Reply{.body = page_body(page <= 2 ? 200 : 17, "Maryland", page)};
  }};
  const auto c = count("maryland", options_for(server.url("/v1"), true, quick_http(4)));
  EXPECT_EQ(c.brewery_count, 417U);
  EXPECT_EQ(c.exact_count, 417U);
  EXPECT_EQ(c.pages, 3U);
  EXPECT_EQ(page2_calls.load(), 2);
  EXPECT_EQ(page3_calls.load(), 3);
}

TEST(BreweryClientFaults, MalformedOrNonArrayBodiesAreErrors) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[{\"id\":\"1\"},{\"id\":", "malformed JSON"},
      {R"({"message":"Not the list"})", "not a JSON array"},
      {"<html>hello</html>", "malformed JSON"},
      {"[1,2,3]", "element 1 of the array is a number"}};
  for (const auto& [body, expected] : cases) {
    HttpServer server{[&, b = body](const SeenRequest& r) {
      if (page_of(r) == 1) return Reply{.body = page_body(200)};
      return Reply{.body = b};
    }};
    const auto options = options_for(server.url("/v1"), false, quick_http(2));
    try {
      (void)count("maryland", options);
      ADD_FAILURE() << "no error for " << body;
    } catch (const CountError& e) {
      EXPECT_EQ(e.page(), 2U);
      EXPECT_THAT(e.what(), HasSubstr(expected)) << body;
    }
    try {
      (void)aio::run(count_async("maryland", options));
      ADD_FAILURE() << "no error for " << body;
    } catch (const CountError& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected)) << body;
    }
    // Counted in a worker process, the page is the same error for its state.
    const auto run = run_mode(Mode::process, {"maryland"}, options);
    ASSERT_FALSE(run.ok()) << body;
    try {
      run.results[0].rethrow();
    } catch (const CountError& e) {
      EXPECT_EQ(e.page(), 2U);
      EXPECT_THAT(e.what(), HasSubstr(expected)) << body;
    }
  }
}

TEST(BreweryClientFaults, ATruncatedBodyIsRetriedOrAnError) {
  std::atomic<int> calls{0};
  const std::string full = page_body(30);
  const std::string truncated_reply =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(full.size()) +
      "\r\n\r\n" + full.substr(0, full.size() / 2);
  HttpServer server{[&](const SeenRequest&) {
    if (++calls <= 2) return Reply{.action = Reply::Action::raw, .raw = truncated_reply};
    return Reply{.body = full};
  }};
  EXPECT_EQ(count("maryland", options_for(server.url("/v1"), false, quick_http(3))).brewery_count, 30U);
  calls = 0;
  try {
    (void)count("maryland", options_for(server.url("/v1"), false, quick_http(2)));
    FAIL() << "two truncated replies and two attempts: an error";
  } catch (const CountError& e) {
    EXPECT_THAT(e.what(), HasSubstr("truncated"));
  }
}

TEST(BreweryClientFaults, TheRequestIsTheSeeds) {
  HttpServer server{[](const SeenRequest&) { return Reply{.body = "[]"}; }};
  (void)count("new_york", options_for(server.url("/v1/")));
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/v1/breweries?by_state=new_york&per_page=200&page=1");
}

/// "HTTP/1.1 200 OK" with `body` as raw bytes: a response the server sends unasked.
std::string raw_page(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// The count of maryland with `options` in each of the four modes: its value or its error.
std::vector<parlab::Outcome<StateCount>> count_every_way(const CountOptions& options) {
  std::vector<parlab::Outcome<StateCount>> out;
  for (const Mode mode : {Mode::serial, Mode::to_thread, Mode::async, Mode::process})
    out.push_back(run_mode(mode, {"maryland"}, options).results.at(0));
  return out;
}

/// Expects a CountError for `page` whose text has `expected`.
void expect_count_error(const parlab::Outcome<StateCount>& outcome, std::size_t page,
                        const std::string& expected, const std::string& what) {
  ASSERT_FALSE(outcome.ok()) << what << ": counted " << outcome.value().brewery_count;
  try {
    outcome.rethrow();
  } catch (const CountError& e) {
    EXPECT_EQ(e.page(), page) << what << ": " << e.what();
    EXPECT_THAT(e.what(), HasSubstr(expected)) << what;
  }
}

TEST(BreweryClientFaults, AServerThatIgnoresPageIsAnErrorNotAnEndlessCount) {
  HttpServer server{[](const SeenRequest&) { return Reply{.body = page_body(200)}; }};  // page 1, always
  const auto outcomes = count_every_way(options_for(server.url("/v1")));
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    expect_count_error(outcomes[i], 2, "already on page 1", "mode " + std::to_string(i));
  // Two pages each, and a /breweries/meta for each native async mode (answered with a page: no plan).
  EXPECT_EQ(server.request_count(), 2U * outcomes.size() + 2);
}

TEST(BreweryClientFaults, AServerThatNeverSendsAShortPageStopsAtMaxPages) {
  HttpServer server{
      [](const SeenRequest& r) { return Reply{.body = page_body(200, "Maryland", page_of(r))}; }};
  auto options = options_for(server.url("/v1"));
  options.max_pages = 7;
  const auto outcomes = count_every_way(options);
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    expect_count_error(outcomes[i], 7, "7 full pages and no end", "mode " + std::to_string(i));
  EXPECT_EQ(server.request_count(), 7U * outcomes.size() + 2) << "and a /breweries/meta for the async modes";
  options.max_pages = 0;
  EXPECT_THROW((void)count("maryland", options), std::invalid_argument);
}

TEST(BreweryClientFaults, AResponseSentUnaskedIsNeverCountedAsAPage) {
  // Maryland has 255 breweries here: page 1 (200) and page 2 (55). The server sends an empty page
  // nobody asked for — the seed's loop would stop at 200 — either right after page 1, while the
  // connection sits idle, or just before it answers page 2 on a connection that served a request
  // before (page 1, or the async modes' /breweries/meta, answered here with no plan), so that it is
  // read as page 2's answer.
  for (const bool before_page_2 : {false, true}) {
    std::set<std::size_t> served;  // connections; the handler runs on the server's one thread
    HttpServer server{[before_page_2, &served](const SeenRequest& r) {
      const std::size_t page = page_of(r);
      const bool reused = !served.insert(r.connection).second;
      const std::string body = page_body(page == 1 ? 200 : page == 2 ? 55 : 0, "Maryland", page);
      if (page == 1 && !before_page_2)
        return Reply{.body = body, .action = Reply::Action::respond_then_raw, .raw = raw_page("[]")};
      if (page == 2 && before_page_2 && reused)
        return Reply{.body = body, .action = Reply::Action::raw_then_respond, .raw = raw_page("[]")};
      return Reply{.body = body};
    }};
    const auto outcomes = count_every_way(options_for(server.url("/v1"), true));
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const std::string what =
          std::string{before_page_2 ? "before page 2" : "after page 1"} + ", mode " + std::to_string(i);
      if (outcomes[i].ok()) {  // the stray answer was seen on the idle connection and dropped with it
        EXPECT_FALSE(before_page_2) << what << ": an answer read as page 2's must be caught";
        EXPECT_EQ(outcomes[i].value().brewery_count, 255U) << what;
        EXPECT_EQ(outcomes[i].value().exact_count, 255U) << what;
      } else {
        expect_count_error(outcomes[i], 2, "held 0 breweries, and 55 when asked again", what);
      }
    }
  }
}

/// A /breweries/meta answer: `total`, and by_state as given (a JSON object's text).
std::string meta_body(std::size_t total, const std::string& by_state) {
  return "{\"total\":" + std::to_string(total) + ",\"by_state\":" + by_state +
         ",\"by_country\":{},\"by_type\":{},\"page\":1,\"per_page\":50}";
}

/// A server of maryland's `rows` breweries whose /breweries/meta answers `meta`.
HttpServer maryland_server(std::size_t rows, std::string meta) {
  return HttpServer{[rows, meta = std::move(meta)](const SeenRequest& r) {
    if (r.path().ends_with("/meta")) return Reply{.body = meta};
    const std::size_t page = page_of(r);
    const std::size_t before = (page - 1) * page_size;
    return Reply{.body = page_body(rows > before ? std::min(page_size, rows - before) : 0, "Maryland", page)};
  }};
}

/// The requests `server` saw from the `from`-th on, in the order they came.
std::vector<SeenRequest> requests_since(const HttpServer& server, std::size_t from) {
  auto seen = server.requests();
  seen.erase(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(std::min(from, seen.size())));
  return seen;
}

/// The pages `server` was asked for from its `from`-th request on, in the order they came.
std::vector<std::size_t> pages_asked(const HttpServer& server, std::size_t from = 0) {
  std::vector<std::size_t> pages;
  for (const auto& r : requests_since(server, from))
    if (!r.path().ends_with("/meta")) pages.push_back(page_of(r));
  return pages;
}

TEST(BreweryClientPlan, TheMetaPlansThePagesAndTheyAreFetchedAtOnce) {
  auto server = maryland_server(417, meta_body(417, R"({"Maryland":417})"));
  const auto options = options_for(server.url("/v1"), true);
  for (const Mode mode : {Mode::async, Mode::process}) {
    const std::size_t from = server.request_count();
    const auto run = run_mode(mode, {"maryland"}, options);
    ASSERT_TRUE(run.ok()) << mode_name(mode);
    const StateCount& c = run.results[0].value();
    EXPECT_EQ(c.brewery_count, 417U);
    EXPECT_EQ(c.exact_count, 417U);
    EXPECT_EQ(c.pages, 3U);
    EXPECT_TRUE(c.planned);
    EXPECT_EQ(run.planned(), 1U);
    const auto seen = requests_since(server, from);
    ASSERT_EQ(seen.size(), 4U) << "the meta and three pages, none asked twice";
    // The meta and page 1 go out at once (every count needs page 1), then pages 2 and 3 at once.
    std::map<std::size_t, std::size_t> connection_of;  // page (0: the meta) -> connection
    for (const auto& r : seen)
      connection_of[r.path().ends_with("/meta") ? 0 : page_of(r)] = r.connection;
    ASSERT_EQ(connection_of.size(), 4U);
    EXPECT_TRUE(connection_of.contains(0)) << "one GET /v1/breweries/meta";
    EXPECT_NE(connection_of[0], connection_of[1]) << "the meta and page 1 were in flight at once";
    EXPECT_NE(connection_of[2], connection_of[3]) << "pages 2 and 3 were in flight at once";
    EXPECT_EQ(seen[2].path(), "/v1/breweries") << "pages 2 and 3 after the meta's answer";
    EXPECT_EQ(page_of(seen[2]) + page_of(seen[3]), 5U);
  }
  // Without the plan, natively async pages go one after another, as the seed's.
  auto one_by_one = options;
  one_by_one.plan_from_meta = false;
  const std::size_t from = server.request_count();
  const auto c = aio::run(count_async("maryland", one_by_one));
  EXPECT_EQ(c.brewery_count, 417U);
  EXPECT_FALSE(c.planned);
  EXPECT_EQ(pages_asked(server, from), (std::vector<std::size_t>{1, 2, 3, 3})) << "the last page asked again";
  EXPECT_EQ(server.request_count() - from, 4U) << "no meta";
}

TEST(BreweryClientPlan, DataThatChangedSinceTheMetaIsRecountedPageByPage) {
  // The meta says 400 (pages 1 and 2 full, page 3 empty) or 450 (page 3: 50), but 417 are there:
  // page 3 disagrees with the plan, so the state is counted again from page 1, one page after the
  // other, to the seed's answer.
  for (const std::size_t said : {std::size_t{400}, std::size_t{450}, std::size_t{10}}) {
    auto server = maryland_server(417, meta_body(said, "{\"Maryland\":" + std::to_string(said) + "}"));
    const auto run = run_mode(Mode::async, {"maryland"}, options_for(server.url("/v1"), true));
    ASSERT_TRUE(run.ok()) << said;
    EXPECT_EQ(run.results[0].value().brewery_count, 417U) << said;
    EXPECT_EQ(run.results[0].value().pages, 3U) << said;
    EXPECT_FALSE(run.results[0].value().planned) << said;
    auto pages = pages_asked(server);
    const std::size_t planned = said / page_size + 1;
    ASSERT_GE(pages.size(), planned + 3) << said;
    std::sort(pages.begin(), pages.begin() + static_cast<std::ptrdiff_t>(planned));
    std::vector<std::size_t> want;
    for (std::size_t p = 1; p <= planned; ++p)
      want.push_back(p);
    for (const std::size_t p : {1, 2, 3})
      want.push_back(p);
    pages.resize(std::min(pages.size(), want.size()));
    EXPECT_EQ(pages, want) << said << ": the planned pages, then page by page from page 1";
  }
}

TEST(BreweryClientPlan, AMetaThatIsNoPlanIsNotFollowed) {
  // A meta that is not JSON, an error, counts that are no whole numbers, a total below the sum of
  // the states', or a state past max_pages: one request spent, then page by page — never hundreds
  // of pages planned from a number that is not this state's.
  const std::vector<std::pair<std::string, Reply>> metas{
      {"counts that are strings", Reply{.body = meta_body(417, R"({"Maryland":"417"})")}},
      {"a total below the states' sum", Reply{.body = meta_body(5, R"({"Maryland":417})")}},
      {"no by_state", Reply{.body = R"({"total":417})"}},
      {"not JSON", Reply{.body = "<html>"}},
      {"an array", Reply{.body = "[]"}},
      {"a 404", Reply{.status = 404, .body = R"({"message":"not here"})"}},
      {"a negative total", Reply{.body = meta_body(0, "{}").replace(9, 1, "-5")}},
      {"a fractional total", Reply{.body = R"({"total":417.5,"by_state":{"Maryland":417}})"}},
      {"a total past max_pages", Reply{.body = meta_body(100'000'000, R"({"Maryland":100000000})")}},
  };
  for (const auto& [what, meta] : metas) {
    HttpServer server{[m = meta](const SeenRequest& r) {
      if (r.path().ends_with("/meta")) return m;
      const std::size_t page = page_of(r);
      return Reply{.body = page_body(page <= 2 ? 200 : 17, "Maryland", page)};
    }};
    const auto run =
        run_mode(Mode::async, {"maryland"}, options_for(server.url("/v1"), false, quick_http(1)));
    ASSERT_TRUE(run.ok()) << what;
    EXPECT_EQ(run.results[0].value().brewery_count, 417U) << what;
    EXPECT_FALSE(run.results[0].value().planned) << what;
    EXPECT_EQ(pages_asked(server), (std::vector<std::size_t>{1, 2, 3, 3}))
        << what << ": page by page, the last one asked again";
  }
}

TEST(BreweryClientPlan, RepeatedBreweriesOnPlannedPagesAreRecountedThenAnError) {
  // Every page holds page 1's breweries: the planned pages repeat ids, so the state is counted page
  // by page, which finds the repeat itself: an error, not 400.
  HttpServer server{[](const SeenRequest& r) {
    if (r.path().ends_with("/meta")) return Reply{.body = meta_body(417, R"({"Maryland":417})")};
    return Reply{.body = page_body(page_of(r) <= 2 ? 200 : 17, "Maryland", 1)};
  }};
  const auto run = run_mode(Mode::async, {"maryland"}, options_for(server.url("/v1")));
  expect_count_error(run.results.at(0), 2, "already on page 1", "planned pages that repeat");
}

TEST(BreweryClientPlan, AFailedPlannedPageIsTheStatesError) {
  std::atomic<int> page2_calls{0};
  HttpServer server{[&](const SeenRequest& r) {
    if (r.path().ends_with("/meta")) return Reply{.body = meta_body(417, R"({"Maryland":417})")};
    const std::size_t page = page_of(r);
    if (page == 2) {
      ++page2_calls;
      return Reply{.status = 500, .body = R"({"message":"database on fire"})"};
    }
    return Reply{.body = page_body(page == 1 ? 200 : 17, "Maryland", page)};
  }};
  const auto run = run_mode(Mode::async, {"maryland"}, options_for(server.url("/v1"), false, quick_http(2)));
  expect_count_error(run.results.at(0), 2,
                     "HTTP 500 Internal Server Error after 2 attempts: database on fire",
                     "planned page 2 fails");
  EXPECT_EQ(page2_calls.load(), 2);
}

TEST(BreweryClientPlan, AResponseSentUnaskedAfterTheMetaIsNeverCountedAsAPage) {
  // An empty page nobody asked for, sent on the meta's connection right after the meta or just
  // before a page's answer: whichever request reads it, the count is 417 or an error, never less.
  for (const bool before_a_page : {false, true}) {
    std::set<std::size_t> meta_connections;  // the handler runs on the server's one thread
    HttpServer server{[before_a_page, &meta_connections](const SeenRequest& r) {
      if (r.path().ends_with("/meta")) {
        meta_connections.insert(r.connection);
        const std::string meta = meta_body(417, R"({"Maryland":417})");
        if (before_a_page) return Reply{.body = meta};
        return Reply{
            .body = meta, .action = Reply::Action::respond_then_raw, .raw = raw_page("[]"), .raw_delay = 1ms};
      }
      const std::size_t page = page_of(r);
      const std::string body = page_body(page <= 2 ? 200 : 17, "Maryland", page);
      if (before_a_page && meta_connections.contains(r.connection))
        return Reply{.body = body, .action = Reply::Action::raw_then_respond, .raw = raw_page("[]")};
      return Reply{.body = body};
    }};
    for (const Mode mode : {Mode::async, Mode::process}) {
      const auto run = run_mode(mode, {"maryland"}, options_for(server.url("/v1"), true));
      const std::string what = std::string{before_a_page ? "before a page" : "after the meta"} + ", " +
                               std::string{mode_name(mode)};
      if (run.ok()) {
        EXPECT_EQ(run.results[0].value().brewery_count, 417U) << what;
        EXPECT_EQ(run.results[0].value().exact_count, 417U) << what;
      } else {
        try {
          run.results[0].rethrow();
        } catch (const CountError& e) {
          EXPECT_THAT(e.what(), HasSubstr("maryland: page ")) << what;
        }
      }
    }
  }
}

TEST(BreweryClientFaults, ABodyLargerThanAnyPageIsAnErrorNotHeld) {
  HttpServer server{
      [](const SeenRequest&) { return Reply{.status = 404, .body = std::string(5U << 20, '[')}; }};
  CountOptions options;  // the count's own HTTP defaults
  options.api = server.url("/v1");
  options.http.max_attempts = 1;
  EXPECT_EQ(options.http.max_body_bytes, max_page_bytes);
  try {
    (void)count("maryland", options);
    FAIL() << "expected a CountError";
  } catch (const CountError& e) {
    EXPECT_THAT(e.what(), HasSubstr("larger than max_body_bytes (4194304)"));
  }
}

TEST(BreweryClientFaults, AHugeErrorBodyIsQuotedNotParsed) {
  // Up to 64 KiB an error body is read as JSON for its message; beyond, its start is quoted as text.
  const std::string small = R"({"message":")" + std::string(60'000, 'x') + R"(","errors":[]})";
  const std::string huge = R"({"message":"hidden","padding":")" + std::string(1U << 20, 'y') + R"("})";
  for (const auto& [body, expected] :
       {std::pair{small, std::string{"HTTP 404 Not Found: xxxx"}},
        std::pair{huge, std::string{R"(HTTP 404 Not Found: {"message":"hidden")"}}}) {
    HttpServer server{[b = body](const SeenRequest&) { return Reply{.status = 404, .body = b}; }};
    try {
      (void)count("maryland", options_for(server.url("/v1")));
      ADD_FAILURE() << "expected a CountError";
    } catch (const CountError& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
      EXPECT_LT(std::string_view{e.what()}.size(), 300U) << "the message is shortened";
    }
  }
}

// --- async.json ---

TEST(BreweryAsyncJson, SentenceAndFileAreTheSeeds) {
  EXPECT_DOUBLE_EQ(percent_faster(2.0, 1.0), 50.0);
  EXPECT_DOUBLE_EQ(percent_faster(1.0, 1.5), -50.0);
  EXPECT_THROW((void)percent_faster(0.0, 1.0), std::invalid_argument);
  EXPECT_EQ(result_sentence(1.0, 0.5008), "async version was 49.92% faster than the serial version");
  EXPECT_EQ(result_sentence(1.0, 1.25), "async version was -25.00% faster than the serial version");
  EXPECT_EQ(async_json("async version was 49.92% faster than the serial version", "your-ec2-hostname"),
            R"({"result": "async version was 49.92% faster than the serial version", )"
            R"("host": "your-ec2-hostname"})");
  EXPECT_EQ(async_json("r", "h\xc3\xb4te \"x\""), R"({"result": "r", "host": "h\u00f4te \"x\""})");
  const std::regex format{
      R"(^\{"result": "async version was -?\d+\.\d{2}% faster than the serial version", "host": "[^"]*"\}$)"};
  EXPECT_TRUE(std::regex_match(async_json(result_sentence(3.21, 1.07), parlab::lab::host_name()), format));
}

TEST(BreweryAsyncJson, MatchesPythonsFormattingByteForByte) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 to compare with";
  parlab::test::TempDir dir;
  std::mt19937_64 rng{42};
  std::uniform_real_distribution<double> serial_time{0.001, 20.0};
  std::uniform_real_distribution<double> ratio{0.01, 2.0};
  std::vector<std::pair<double, double>> cases{{2.0, 1.0},     {1.0, 1.0},     {3.0, 3.0000001},
                                               {0.8, 0.40064}, {1.0, 0.99995}, {1.0, 1.00005}};
  for (int i = 0; i < 300; ++i) {
    const double s = serial_time(rng);
    cases.emplace_back(s, s * ratio(rng));
  }
  std::ostringstream input;
  input.precision(17);
  for (const auto& [s, a] : cases)
    input << s << ' ' << a << '\n';
  const auto in_file = dir.path() / "times.txt";
  std::ofstream{in_file} << input.str();
  const std::string host = "h\xc3\xb4te-\"1\"";
  const auto script = dir.path() / "seed.py";
  std::ofstream{script}
      << "import json, sys\n"
         "for line in open(sys.argv[1]):\n"
         "    serial, asyn = map(float, line.split())\n"
         "    faster = 100 * (serial - asyn) / serial\n"
         "    result = f\"async version was {faster:0.2f}% faster than the serial version\"\n"
         "    print(json.dumps({'result': result, 'host': sys.argv[2]}))\n";
  const std::string command =
      std::string{python} + " " + script.string() + " " + in_file.string() + " 'h\xc3\xb4te-\"1\"'";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (const auto n = std::fread(buf, 1, sizeof buf, pipe))
    output.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << output;
  std::istringstream lines{output};
  std::string line;
  std::size_t i = 0;
  for (; std::getline(lines, line) && i < cases.size(); ++i)
    EXPECT_EQ(async_json(result_sentence(cases[i].first, cases[i].second), host), line)
        << cases[i].first << " " << cases[i].second;
  EXPECT_EQ(i, cases.size());
}

}  // namespace
