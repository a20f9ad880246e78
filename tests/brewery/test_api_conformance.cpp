// The replica against the real Open Brewery DB server, case by case: each upstream feature test
// (openbrewerydb-laravel-api, tests/Feature/Api/V1/) turned into a request on the real dataset and
// the answer it must get, then a case for each rule of the framework the server runs on (Laravel's
// TrimStrings and ConvertEmptyStringsToNull, PHP's query parser and FILTER_VALIDATE_INT, Laravel's
// validation messages and exception bodies, json_encode). Counts come from the CSV through the
// tests' own reader and LIKE, not from the engine. docs/brewery.md says what is exact and what is
// approximated; the cases an upstream test makes that the replica answers otherwise on purpose are
// listed there, not here.
#include "brewery/brewery_support.hpp"
#include "lab/brewery/api.hpp"
#include "lab/brewery/dataset.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace parlab::brewery;
namespace tb = parlab::test::brewery;
using Json = nlohmann::ordered_json;

/// One request and what its answer must be.
struct Case {
  std::string from;    ///< the upstream test or the rule it checks
  std::string target;  ///< e.g. "/v1/breweries?by_state=ohio"
  unsigned status = 200;
  /// Further checks of the answer (its body parsed when it is JSON); none: the status alone.
  std::function<void(const Response&, const Json&)> check{};
  std::string method = "GET";
};

class ApiConformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = tb::csv_path();
    if (!path) return;
    rows_ = new std::vector<tb::Row>(tb::read_rows(*path));
    api_ = new Api(std::make_shared<const Dataset>(Dataset::load(*path)),
                   ApiOptions{.rate_limit = RateLimit{}, .seed = 3});
  }
  static void TearDownTestSuite() {
    delete api_;
    delete rows_;
    api_ = nullptr;
    rows_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(api_, nullptr) << tb::missing_csv(); }

  /// Runs every case, each from a client of its own (the rate limit of 120 a minute per client).
  static void run(const std::vector<Case>& cases) {
    static int client = 0;  // across the suite's tests: they share the engine
    for (const auto& c : cases) {
      SCOPED_TRACE(c.from + ": " + c.method + " " + c.target);
      ++client;
      const std::string ip = "10.1." + std::to_string(client / 256) + "." + std::to_string(client % 256);
      const Response r = api_->handle(Request{c.method, c.target, ip, {}});
      EXPECT_EQ(r.status, c.status) << r.body.substr(0, 300);
      const bool redirect = r.status == 307;  // Symfony's redirect page; every other answer is JSON
      EXPECT_EQ(r.header("content-type"), redirect ? "text/html; charset=utf-8" : "application/json");
      const Json body = redirect ? Json{} : Json::parse(r.body, nullptr, false);
      ASSERT_FALSE(body.is_discarded()) << "not JSON: " << r.body.substr(0, 300);
      if (c.check) c.check(r, body);
    }
  }
  static const std::vector<tb::Row>& rows() { return *rows_; }
  /// Rows whose `column` is LIKE '%value%' (the tests' own LIKE).
  static std::size_t like(const std::string& column, const std::string& value) {
    return tb::count_like(rows(), column, value);
  }
  static std::size_t of_type(const std::string& type) {
    return static_cast<std::size_t>(std::count_if(
        rows().begin(), rows().end(), [&](const tb::Row& r) { return r.at("brewery_type") == type; }));
  }

  static std::vector<tb::Row>* rows_;
  static Api* api_;
};

std::vector<tb::Row>* ApiConformance::rows_ = nullptr;
Api* ApiConformance::api_ = nullptr;

// --- checks ---

/// The body is an array of `n` breweries.
auto count_is(std::size_t n) {
  return [n](const Response&, const Json& j) {
    ASSERT_TRUE(j.is_array());
    EXPECT_EQ(j.size(), n);
  };
}

/// Every brewery of the array satisfies `pred`, and there is at least one.
auto every(std::function<bool(const Json&)> pred, std::string what) {
  return [pred = std::move(pred), what = std::move(what)](const Response&, const Json& j) {
    ASSERT_TRUE(j.is_array());
    EXPECT_FALSE(j.empty());
    for (const auto& b : j)
      EXPECT_TRUE(pred(b)) << what << ": " << b.dump();
  };
}

/// A 422 whose summary is `message` and whose errors hold `field` with `first` as its first message.
auto invalid(std::string message, std::string field, std::string first = "") {
  return [=](const Response&, const Json& j) {
    EXPECT_EQ(j["message"], message);
    ASSERT_TRUE(j["errors"].contains(field)) << j.dump();
    EXPECT_EQ(j["errors"][field][0], first.empty() ? message : first);
  };
}

/// The exact body.
auto body_is(std::string body) {
  return [body = std::move(body)](const Response& r, const Json&) { EXPECT_EQ(r.body, body); };
}

/// Header `name` is `value` ("" : absent).
auto header_is(std::string name, std::string value) {
  return [=](const Response& r, const Json&) { EXPECT_EQ(r.header(name), value); };
}

/// Both checks.
template <class A, class B>
auto both(A a, B b) {
  return [a, b](const Response& r, const Json& j) {
    a(r, j);
    b(r, j);
  };
}

const std::vector<std::string> brewery_fields{"id",          "name",        "brewery_type", "address_1",
                                              "address_2",   "address_3",   "city",         "state_province",
                                              "postal_code", "country",     "longitude",    "latitude",
                                              "phone",       "website_url", "state",        "street"};

/// Every element is a brewery object with the 16 fields in order.
void has_brewery_fields(const Response&, const Json& j) {
  ASSERT_TRUE(j.is_array());
  for (const auto& b : j) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : b.items())
      keys.push_back(k);
    EXPECT_EQ(keys, brewery_fields);
  }
}

bool contains_ci(std::string text, std::string part) {
  const auto lower = [](std::string& s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  };
  lower(text);
  lower(part);
  return text.find(part) != std::string::npos;
}

// --- the upstream feature tests ---

TEST_F(ApiConformance, UpstreamListTests) {
  const std::string portland = rows()[0].at("id");
  run({
      {"BasicTest: returns default number of breweries (50)", "/v1/breweries", 200, count_is(50)},
      {"BasicTest: returns proper brewery JSON structure", "/v1/breweries?per_page=3", 200,
       has_brewery_fields},
      {"BasicTest: returns cache control headers", "/v1/breweries", 200,
       header_is("Cache-Control", "max-age=300, public")},
      {"BasicTest: 422 with invalid params (per_page)", "/v1/breweries?per_page=invalid", 422,
       invalid("The per page field must be an integer.", "per_page")},
      {"BasicTest: 422 with invalid params (by_city of 256)",
       "/v1/breweries?by_city=" + std::string(256, 'x'), 422,
       invalid("The by city field must not be greater than 255 characters.", "by_city")},
      {"BasicTest: 422 with invalid params (by_state[])", "/v1/breweries?by_state%5B%5D=ohio", 422,
       invalid("The by state field must be a string. (and 1 more error)", "by_state",
               "The by state field must be a string.")},
      {"CityFilterTest: returns breweries filtered by city", "/v1/breweries?by_city=San+Diego&per_page=200",
       200,
       both(count_is(like("city", "San Diego")),
            every([](const Json& b) { return contains_ci(b["city"], "san diego"); }, "city"))},
      {"CityFilterTest: handles plus as space", "/v1/breweries?by_city=San+Diego&per_page=200", 200,
       count_is(like("city", "San Diego"))},
      {"CountryFilterTest: filtered by country", "/v1/breweries?by_country=Scotland&per_page=200", 200,
       both(count_is(like("country", "Scotland")),
            every([](const Json& b) { return b["country"] == "Scotland"; }, "country"))},
      {"CountryFilterTest: case insensitive", "/v1/breweries?by_country=scotland&per_page=200", 200,
       count_is(like("country", "Scotland"))},
      {"CountryFilterTest: partial matches", "/v1/breweries?by_country=United&per_page=200", 200,
       every([](const Json& b) { return contains_ci(b["country"], "united"); }, "United States or Kingdom")},
      {"ExcludeTypesTest: filtered by excluded types",
       "/v1/breweries?exclude_types=micro,brewpub&per_page=200", 200,
       every([](const Json& b) { return b["brewery_type"] != "micro" && b["brewery_type"] != "brewpub"; },
             "no micro, no brewpub")},
      {"ExcludeTypesTest: combined with other filters",
       "/v1/breweries?exclude_types=brewpub&by_city=Portland", 200,
       every(
           [](const Json& b) { return b["brewery_type"] != "brewpub" && contains_ci(b["city"], "portland"); },
           "Portland, no brewpub")},
      {"ExcludeTypesTest: invalid type values", "/v1/breweries?exclude_types=invalid_type", 422,
       invalid("The exclude_types contains invalid brewery type: invalid_type", "exclude_types")},
      {"IdFilterTest: filtered by ids", "/v1/breweries?by_ids=" + portland + "," + rows()[2].at("id"), 200,
       count_is(2)},
      {"IdFilterTest: whitespace in the list",
       "/v1/breweries?by_ids=" + portland + "%20,%20" + rows()[2].at("id"), 200, count_is(2)},
      {"IdFilterTest: empty array for ids that do not exist", "/v1/breweries?by_ids=999999,888888", 200,
       count_is(0)},
      {"NameFilterTest: filtered by name", "/v1/breweries?by_name=dog&per_page=200", 200,
       every([](const Json& b) { return contains_ci(b["name"], "dog"); }, "name")},
      {"NameFilterTest: different space formats", "/v1/breweries?by_name=brewing+company&per_page=1", 200,
       count_is(1)},
      {"PaginationTest: another page", "/v1/breweries?page=2&per_page=50", 200, count_is(50)},
      {"PaginationTest: limited number", "/v1/breweries?per_page=20", 200, count_is(20)},
      {"PaginationTest: not over the maximum per page", "/v1/breweries?per_page=501", 422,
       invalid("The per page field must not be greater than 200.", "per_page")},
      {"PostalFilterTest: filtered by postal code", "/v1/breweries?by_postal=97201&per_page=200", 200,
       count_is(like("postal_code", "97201"))},
      {"PostalFilterTest: partial matches", "/v1/breweries?by_postal=972&per_page=200", 200,
       every([](const Json& b) { return contains_ci(b["postal_code"], "972"); }, "972")},
      {"SortingTest: name ascending", "/v1/breweries?by_state=ohio&sort=name:asc&per_page=200", 200,
       [](const Response&, const Json& j) {
         for (std::size_t i = 1; i < j.size(); ++i)
           EXPECT_LE(j[i - 1]["name"].get<std::string>(), j[i]["name"].get<std::string>());
       }},
      {"sort: any column of the table, parts trimmed", "/v1/breweries?sort=name,%20city:desc&per_page=1", 200,
       count_is(1)},
      {"sort: a column the table lacks is the real server's SQL error", "/v1/breweries?sort=nosuchcolumn",
       500, body_is("{\n    \"message\": \"Server Error\"\n}")},
      {"sort: a direction other than asc or desc, likewise", "/v1/breweries?sort=name:up", 500},
      {"SortingTest: name descending", "/v1/breweries?by_state=ohio&sort=name:desc&per_page=200", 200,
       [](const Response&, const Json& j) {
         for (std::size_t i = 1; i < j.size(); ++i)
           EXPECT_GE(j[i - 1]["name"].get<std::string>(), j[i]["name"].get<std::string>());
       }},
      {"StateFilterTest: filtered by state", "/v1/breweries?by_state=California&per_page=200", 200,
       count_is(200)},
      {"StateFilterTest: snake case state", "/v1/breweries?by_state=new_york&per_page=200", 200,
       every([](const Json& b) { return contains_ci(b["state_province"], "new york"); }, "New York")},
      {"StateFilterTest: kebab case state (LIKE: a '-' is itself)", "/v1/breweries?by_state=new-york", 200,
       count_is(0)},
      {"StateFilterTest: plus as space", "/v1/breweries?by_state=New+York&per_page=200", 200,
       every([](const Json& b) { return contains_ci(b["state_province"], "new york"); }, "New York")},
      {"StateFilterTest: an abbreviation matches no state", "/v1/breweries?by_state=TXX", 200, count_is(0)},
      {"StateFilterTest: misspelled state", "/v1/breweries?by_state=Calfornia", 200, count_is(0)},
      {"StateFilterTest: UTF-8 state names", "/v1/breweries?by_state=K%C3%A4rnten&per_page=200", 200,
       count_is(like("state_province", "Kärnten"))},
      {"TypeFilterTest: filtered by type", "/v1/breweries?by_type=micro&per_page=200", 200,
       every([](const Json& b) { return b["brewery_type"] == "micro"; }, "micro")},
      {"TypeFilterTest: invalid type", "/v1/breweries?by_type=invalid", 422,
       invalid("The by_type contains invalid brewery type: invalid", "by_type")},
      {"TypeFilterTest: several types", "/v1/breweries?by_type=micro,large&per_page=200", 200,
       every([](const Json& b) { return b["brewery_type"] == "micro" || b["brewery_type"] == "large"; },
             "micro or large")},
  });
}

TEST_F(ApiConformance, UpstreamMetaTests) {
  run({
      {"GetBreweriesMetaTest: total breweries", "/v1/breweries/meta", 200,
       [&](const Response&, const Json& j) { EXPECT_EQ(j["total"], rows().size()); }},
      {"GetBreweriesMetaTest: by state", "/v1/breweries/meta", 200,
       [&](const Response&, const Json& j) {
         EXPECT_EQ(j["by_state"]["Oregon"], tb::count_like(rows(), "state_province", "Oregon"));
       }},
      {"GetBreweriesMetaTest: by type", "/v1/breweries/meta", 200,
       [&](const Response&, const Json& j) { EXPECT_EQ(j["by_type"]["micro"], of_type("micro")); }},
      {"GetBreweriesMetaTest: UTF-8 keys", "/v1/breweries/meta", 200,
       [&](const Response& r, const Json& j) {
         EXPECT_TRUE(j["by_state"].contains("Kärnten"));
         EXPECT_NE(r.body.find("K\\u00e4rnten"), std::string::npos) << "json_encode writes \\u00e4";
       }},
      {"GetBreweriesMetaTest: filters by state", "/v1/breweries/meta?by_state=Oregon", 200,
       [&](const Response&, const Json& j) {
         EXPECT_EQ(j["total"], like("state_province", "Oregon"));
         EXPECT_FALSE(j["by_state"].contains("California"));
       }},
      {"GetBreweriesMetaTest: filters by type", "/v1/breweries/meta?by_type=micro", 200,
       [&](const Response&, const Json& j) {
         EXPECT_EQ(j["total"], of_type("micro"));
         EXPECT_FALSE(j["by_type"].contains("brewpub"));
       }},
      {"GetBreweriesMetaTest: filters by city", "/v1/breweries/meta?by_city=Portland", 200,
       [&](const Response&, const Json& j) { EXPECT_EQ(j["total"], like("city", "Portland")); }},
      {"GetBreweriesMetaTest: combines filters", "/v1/breweries/meta?by_state=California&by_type=micro", 200,
       [&](const Response&, const Json& j) {
         EXPECT_EQ(j["by_type"].size(), 1U);
         EXPECT_LT(j["total"].get<std::size_t>(), like("state_province", "California"));
       }},
      {"GetBreweriesMetaTest: invalid type", "/v1/breweries/meta?by_type=invalid", 422,
       invalid("The by_type contains invalid brewery type: invalid", "by_type")},
  });
}

TEST_F(ApiConformance, UpstreamOneRandomAndSearchTests) {
  const std::string id = rows()[10].at("id");
  run({
      {"GetBreweryTest: a brewery by id", "/v1/breweries/" + id, 200,
       [&](const Response&, const Json& j) {
         EXPECT_EQ(j["id"], id);
         EXPECT_EQ(j["name"], rows()[10].at("name"));
       }},
      {"GetBreweryTest: 404 for a brewery that does not exist", "/v1/breweries/999999", 404,
       body_is("{\n    \"message\": \"No query results for model [App\\\\Models\\\\Brewery] 999999\"\n}")},
      {"GetBreweryTest: an invalid id format is a 404", "/v1/breweries/invalid-id", 404},
      {"GetBreweryTest: cache control headers", "/v1/breweries/" + id, 200,
       header_is("Cache-Control", "max-age=86400, public")},
      {"RandomBreweryTest: one brewery by default", "/v1/breweries/random", 200, count_is(1)},
      {"RandomBreweryTest: the requested number", "/v1/breweries/random?size=3", 200, count_is(3)},
      {"RandomBreweryTest: size validated (0)", "/v1/breweries/random?size=0", 422,
       invalid("The size field must be at least 1.", "size")},
      {"RandomBreweryTest: size validated (51)", "/v1/breweries/random?size=51", 422,
       invalid("The size field must not be greater than 50.", "size")},
      {"RandomBreweryTest: size validated (abc)", "/v1/breweries/random?size=abc", 422,
       invalid("The size field must be an integer.", "size")},
      {"RandomBreweryTest: the complete brewery resource", "/v1/breweries/random", 200, has_brewery_fields},
      {"RandomBreweryTest: no cache control of its own", "/v1/breweries/random", 200,
       header_is("Cache-Control", "no-cache, private")},
      {"SearchBreweriesTest: query missing", "/v1/breweries/search", 422,
       invalid("The query field is required.", "query")},
      {"SearchBreweriesTest: query empty", "/v1/breweries/search?query=", 422,
       invalid("The query field is required.", "query")},
      {"SearchBreweriesTest: no match", "/v1/breweries/search?query=NonExistentBrewery", 200, count_is(0)},
      {"SearchBreweriesTest: respects per_page", "/v1/breweries/search?query=brewing&per_page=10", 200,
       count_is(10)},
      {"SearchBreweriesTest: JSON structure", "/v1/breweries/search?query=brewing&per_page=5", 200,
       has_brewery_fields},
      {"SearchBreweriesTest: case insensitive", "/v1/breweries/search?query=BREWING&per_page=5", 200,
       every([](const Json& b) { return contains_ci(b.dump(), "brewing"); }, "brewing")},
  });
}

// --- the framework's rules ---

TEST_F(ApiConformance, QueryValuesAreTrimmedEmptyIsNullAndTheLastKeyWins) {
  const std::string second = rows()[1].at("id");
  run({
      {"TrimStrings", "/v1/breweries?by_city=%20San%20Diego%20&per_page=200", 200,
       count_is(like("city", "San Diego"))},
      {"TrimStrings before the length rule", "/v1/breweries?by_city=%20ab%20", 422,
       invalid("The by city field must be at least 3 characters.", "by_city")},
      {"ConvertEmptyStringsToNull", "/v1/breweries?by_city=", 422,
       invalid("The by city field is required.", "by_city")},
      {"a key without '='", "/v1/breweries?by_name", 422,
       invalid("The by name field is required.", "by_name")},
      {"an empty per_page", "/v1/breweries?per_page=", 422,
       invalid("The per page field is required.", "per_page")},
      {"PHP's parser: the last of a repeated key", "/v1/breweries?per_page=1&page=1&page=2", 200,
       [&](const Response&, const Json& j) { EXPECT_EQ(j[0]["id"], second); }},
      {"PHP's parser: key[] is an array", "/v1/breweries?per_page%5B%5D=5", 422,
       invalid("The per page field must be an integer.", "per_page")},
  });
}

TEST_F(ApiConformance, IntegersAreFilterValidateInt) {
  run({
      {"a '+' sign", "/v1/breweries?per_page=%2B5", 200, count_is(5)},
      {"a leading zero", "/v1/breweries?per_page=05", 422,
       invalid("The per page field must be an integer.", "per_page")},
      {"-0 is 0", "/v1/breweries?per_page=-0", 422,
       invalid("The per page field must be at least 1.", "per_page")},
      {"past 64 bits", "/v1/breweries?page=99999999999999999999", 422,
       invalid("The page field must be an integer.", "page")},
      {"a decimal", "/v1/breweries?per_page=2.0", 422,
       invalid("The per page field must be an integer.", "per_page")},
      {"an exponent: no integer, and 1000 is past the maximum", "/v1/breweries?per_page=1e3", 422,
       invalid("The per page field must be an integer. (and 1 more error)", "per_page",
               "The per page field must be an integer.")},
  });
}

TEST_F(ApiConformance, ValidationMessagesComeInTheRulesOrder) {
  run({
      {"per_page before by_city", "/v1/breweries?by_city=ab&per_page=0", 422,
       [](const Response& r, const Json& j) {
         EXPECT_EQ(j["message"], "The per page field must be at least 1. (and 1 more error)");
         EXPECT_EQ(r.body,
                   std::string{"{\"message\":\"The per page field must be at least 1. (and 1 more "
                               "error)\",\"errors\":{\"per_page\":[\"The per page field must be at least "
                               "1.\"],\"by_city\":[\"The by city field must be at least 3 characters.\"]}}"});
       }},
      {"one message per bad type, items trimmed", "/v1/breweries?by_type=foo,%20micro,%20baz", 422,
       [](const Response&, const Json& j) {
         EXPECT_EQ(j["message"], "The by_type contains invalid brewery type: foo (and 1 more error)");
         EXPECT_EQ(j["errors"]["by_type"][1], "The by_type contains invalid brewery type: baz");
       }},
      {"by_ids: at most 255 characters", "/v1/breweries?by_ids=" + std::string(256, 'a'), 422,
       invalid("The by ids field must not be greater than 255 characters.", "by_ids")},
      {"three errors", "/v1/breweries?per_page=0&page=0&by_state=ab", 422,
       invalid("The per page field must be at least 1. (and 2 more errors)", "page",
               "The page field must be at least 1.")},
  });
}

TEST_F(ApiConformance, RoutesMethodsAndTheRateLimitAnswerAsLaravelDoes) {
  const std::string search = "http://localhost/v1/breweries/search?query=dog+%26+duck";
  run({
      {"AutocompleteBreweriesTest: a 307 to search with a successor link",
       "/v1/breweries/autocomplete?query=dog%20%26%20duck", 307,
       [&](const Response& r, const Json&) {
         EXPECT_EQ(r.header("Location"), search);
         EXPECT_EQ(r.header("Link"), "<" + search + ">; rel=\"successor-version\"");
         EXPECT_NE(r.body.find(
                       "Redirecting to <a href=\"http://localhost/v1/breweries/search?query=dog+%26+duck\">"),
                   std::string::npos)
             << r.body;
         EXPECT_EQ(r.header("Cache-Control"), "no-cache, private");
       }},
      {"an unknown route", "/v1/brewery", 404,
       both(body_is("{\n    \"message\": \"The route v1/brewery could not be found.\"\n}"),
            header_is("X-RateLimit-Limit", ""))},
      {"a method the route does not have", "/v1/breweries", 405,
       both(
           body_is("{\n    \"message\": \"The POST method is not supported for route v1/breweries. Supported "
                   "methods: GET, HEAD.\"\n}"),
           header_is("Allow", "GET, HEAD")),
       "POST"},
      {"any method on no route", "/nope", 404, {}, "DELETE"},
      {"the rate limit's headers on a route", "/v1/breweries/meta", 200,
       both(header_is("X-RateLimit-Limit", "120"), header_is("X-RateLimit-Remaining", "119"))},
  });
}

/// The great-circle distance in km (the tests' own, the haversine form).
double km_between(double lat1, double lon1, double lat2, double lon2) {
  constexpr double rad = 3.14159265358979323846 / 180;
  const double a =
      std::pow(std::sin((lat2 - lat1) * rad / 2), 2) +
      std::cos(lat1 * rad) * std::cos(lat2 * rad) * std::pow(std::sin((lon2 - lon1) * rad / 2), 2);
  return 2 * 6371 * std::asin(std::sqrt(a));
}

TEST_F(ApiConformance, ByDistOrdersByDistanceAndIsValidatedAsTheCoordinatesRule) {
  std::size_t located = 0;
  std::string nearest;
  double best = 1e9;
  for (const auto& r : rows()) {
    if (r.at("latitude").empty() || r.at("longitude").empty()) continue;
    ++located;
    const double d =
        km_between(45.5155, -122.6789, std::stod(r.at("latitude")), std::stod(r.at("longitude")));
    if (d < best) best = d, nearest = r.at("id");
  }
  run({
      {"DistanceFilterTest: filtered by distance", "/v1/breweries?by_dist=45.5155,-122.6789&per_page=50", 200,
       [&](const Response&, const Json& j) {
         ASSERT_EQ(j.size(), 50U);
         EXPECT_EQ(j[0]["id"], nearest);
         double previous = 0;
         for (const auto& b : j) {
           ASSERT_TRUE(b["latitude"].is_number() && b["longitude"].is_number()) << b.dump();
           const double d = km_between(45.5155, -122.6789, b["latitude"], b["longitude"]);
           EXPECT_GE(d, previous - 1e-6) << "nearest first";
           previous = d;
         }
       }},
      {"by_dist on meta: the breweries with coordinates", "/v1/breweries/meta?by_dist=45.5,-122.6", 200,
       [&](const Response&, const Json& j) { EXPECT_EQ(j["total"], located); }},
      {"by_dist_radius in km",
       "/v1/breweries?by_dist=45.5155,-122.6789&by_dist_radius=10&by_dist_unit=km&per_page=200", 200,
       [&](const Response&, const Json& j) {
         EXPECT_FALSE(j.empty());
         for (const auto& b : j)
           EXPECT_LE(km_between(45.5155, -122.6789, b["latitude"], b["longitude"]), 10.001) << b.dump();
       }},
      {"DistanceFilterTest: with other filters",
       "/v1/breweries?by_dist=45.5155,-122.6789&by_type=micro&per_page=5", 200,
       every([](const Json& b) { return b["brewery_type"] == "micro"; }, "micro")},
      {"Coordinates: one number", "/v1/breweries?by_dist=45.5155", 422,
       invalid("The by dist must be a valid coordinate pair (latitude,longitude).", "by_dist")},
      {"Coordinates: latitude past 90", "/v1/breweries?by_dist=91,-122.6789", 422,
       invalid("The latitude in by dist must be a number between -90 and 90.", "by_dist")},
      {"Coordinates: longitude past 180", "/v1/breweries?by_dist=45.5155,181", 422,
       invalid("The longitude in by dist must be a number between -180 and 180.", "by_dist")},
      {"Coordinates: no numbers", "/v1/breweries?by_dist=abc,def", 422,
       invalid("The latitude in by dist must be a number between -90 and 90.", "by_dist")},
      {"Coordinates: the edges", "/v1/breweries?by_dist=-90,-180&per_page=1", 200, count_is(1)},
      {"by_dist_radius: a number", "/v1/breweries?by_dist=0,0&by_dist_radius=far", 422,
       invalid("The by dist radius field must be a number.", "by_dist_radius")},
      {"by_dist_radius: at least 0.1", "/v1/breweries?by_dist=0,0&by_dist_radius=0.05", 422,
       invalid("The by dist radius field must be at least 0.1.", "by_dist_radius")},
      {"by_dist_unit: km or mi", "/v1/breweries?by_dist=0,0&by_dist_unit=yd", 422,
       invalid("The selected by dist unit is invalid.", "by_dist_unit")},
  });
}

TEST_F(ApiConformance, ListMetaAndSearchCarryAnEtagAndAnswer304ToIt) {
  for (const std::string target : {"/v1/breweries?by_state=ohio", "/v1/breweries/meta",
                                   "/v1/breweries/search?query=dog", "/v1/breweries?per_page=0"}) {
    SCOPED_TRACE(target);
    const Response first = api_->handle(Request{"GET", target, "10.2.0.1", {}});
    const std::string etag = first.header("ETag");
    ASSERT_EQ(etag.size(), 34U) << "a quoted md5: " << etag;
    EXPECT_EQ(etag.front(), '"');
    const Response again = api_->handle(Request{"GET", target, "10.2.0.1", {}, "http://localhost", etag});
    EXPECT_EQ(again.status, 304U);
    EXPECT_EQ(again.body, "");
    EXPECT_EQ(again.header("ETag"), etag);
    const Response weak =
        api_->handle(Request{"GET", target, "10.2.0.1", {}, "http://localhost", "W/" + etag});
    EXPECT_EQ(weak.status, 304U) << "compared weakly";
    const Response other =
        api_->handle(Request{"GET", target, "10.2.0.1", {}, "http://localhost", "\"abc\""});
    EXPECT_EQ(other.status, first.status);
    EXPECT_EQ(other.body, first.body);
  }
  EXPECT_EQ(api_->handle(Request{"GET", "/v1/breweries/random", "10.2.0.2", {}}).header("ETag"), "")
      << "random is not in the cache.headers group";
}

TEST_F(ApiConformance, BodiesAreWrittenAsJsonEncodeWritesThem) {
  // A brewery with a '/' in its website and whole-number latitude 36 (Crank Arm Brewing Co).
  const auto crank =
      std::find_if(rows().begin(), rows().end(), [](const tb::Row& r) { return r.at("latitude") == "36"; });
  ASSERT_NE(crank, rows().end());
  run({
      {"'/' as \\/, whole numbers without .0", "/v1/breweries/" + crank->at("id"), 200,
       [](const Response& r, const Json&) {
         EXPECT_NE(r.body.find("\"latitude\":36,"), std::string::npos) << r.body;
         EXPECT_NE(r.body.find("http:\\/\\/"), std::string::npos) << r.body;
         EXPECT_EQ(r.body.find("://"), std::string::npos) << r.body;
       }},
      {"non-ASCII as \\uXXXX", "/v1/breweries?by_city=K%C3%B6ln&per_page=1", 200,
       [](const Response& r, const Json& j) {
         ASSERT_EQ(j.size(), 1U);
         EXPECT_NE(r.body.find("K\\u00f6ln"), std::string::npos) << r.body;
       }},
  });
}

}  // namespace
