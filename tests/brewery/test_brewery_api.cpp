// The Open Brewery DB v1 API engine, endpoint by endpoint, against the real dataset: counts are
// computed here from the CSV with an independent reader and LIKE (brewery_support.hpp), and
// checked against the API spec's stated facts (SEED.md). Also the CSV loader and the data search.
#include "brewery/brewery_support.hpp"
#include "lab/brewery/api.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/search.hpp"
#include "support/files.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace parlab::brewery;
using parlab::test::TempDir;
namespace tb = parlab::test::brewery;
using Json = nlohmann::ordered_json;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// The engine over the real dataset (loaded once).

class BreweryApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = tb::csv_path();
    if (!path) return;
    rows_ = new std::vector<tb::Row>(tb::read_rows(*path));
    data_ = new std::shared_ptr<const Dataset>(std::make_shared<const Dataset>(Dataset::load(*path)));
    api_ = new Api(*data_, ApiOptions{.rate_limit = std::nullopt, .seed = 7});
  }
  static void TearDownTestSuite() {
    delete api_;
    delete data_;
    delete rows_;
    api_ = nullptr;
    data_ = nullptr;
    rows_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(api_, nullptr) << tb::missing_csv(); }

  static Response get(const std::string& target) {
    return api_->handle(Request{"GET", target, "10.0.0.1", {}});
  }
  static Json json(const std::string& target, unsigned status = 200) {
    const auto r = get(target);
    EXPECT_EQ(r.status, status) << target << " -> " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    return Json::parse(r.body);
  }
  /// Every row of a filtered list, page by page at per_page=200.
  static std::vector<Json> all_pages(const std::string& target) {
    std::vector<Json> out;
    for (int page = 1; page < 1000; ++page) {
      const auto j = json(target + "&per_page=200&page=" + std::to_string(page));
      for (const auto& b : j)
        out.push_back(b);
      if (j.size() < 200) break;
    }
    return out;
  }
  static const std::vector<tb::Row>& rows() { return *rows_; }

  static std::vector<tb::Row>* rows_;
  static std::shared_ptr<const Dataset>* data_;
  static Api* api_;
};

std::vector<tb::Row>* BreweryApi::rows_ = nullptr;
std::shared_ptr<const Dataset>* BreweryApi::data_ = nullptr;
Api* BreweryApi::api_ = nullptr;

TEST_F(BreweryApi, TheDatasetHasTheSpecsRowCount) {
  EXPECT_EQ(rows().size(), 11822U);
  EXPECT_EQ((*data_)->size(), rows().size());
}

TEST_F(BreweryApi, ListDefaultsToFiftyInFileOrder) {
  const auto page = json("/v1/breweries");
  ASSERT_EQ(page.size(), 50U);
  for (std::size_t i = 0; i < 50; ++i)
    EXPECT_EQ(page[i]["id"], rows()[i].at("id")) << i;
  const auto second = json("/v1/breweries?page=2");
  ASSERT_EQ(second.size(), 50U);
  EXPECT_EQ(second[0]["id"], rows()[50].at("id"));
  const auto max = json("/v1/breweries?per_page=200&page=3");
  ASSERT_EQ(max.size(), 200U);
  EXPECT_EQ(max[0]["id"], rows()[400].at("id"));
  EXPECT_EQ(json("/v1/breweries?per_page=1&page=11822")[0]["id"], rows().back().at("id"));
}

TEST_F(BreweryApi, ObjectsHaveTheApiFieldsInOrderWithNullsAndNumbers) {
  const std::vector<std::string> order{"id",          "name",        "brewery_type", "address_1",
                                       "address_2",   "address_3",   "city",         "state_province",
                                       "postal_code", "country",     "longitude",    "latitude",
                                       "phone",       "website_url", "state",        "street"};
  const auto page = json("/v1/breweries?per_page=200");
  std::size_t nulls = 0;
  std::size_t numbers = 0;
  for (std::size_t i = 0; i < page.size(); ++i) {
    const auto& b = page[i];
    const auto& row = rows()[i];
    std::vector<std::string> keys;
    for (auto it = b.begin(); it != b.end(); ++it)
      keys.push_back(it.key());
    ASSERT_EQ(keys, order);
    EXPECT_EQ(b["state"], b["state_province"]);
    EXPECT_EQ(b["street"], b["address_1"]);
    for (const auto& key :
         {"name", "address_1", "address_2", "address_3", "city", "postal_code", "phone", "website_url"}) {
      if (row.at(key).empty()) {
        EXPECT_TRUE(b[key].is_null()) << key;
        ++nulls;
      } else {
        EXPECT_EQ(b[key], row.at(key)) << key;
      }
    }
    for (const auto& key : {"longitude", "latitude"}) {
      if (row.at(key).empty()) {
        EXPECT_TRUE(b[key].is_null());
      } else {
        ASSERT_TRUE(b[key].is_number()) << key << " of " << row.at("id");
        EXPECT_DOUBLE_EQ(b[key].get<double>(), std::strtod(row.at(key).c_str(), nullptr));
        ++numbers;
      }
    }
  }
  EXPECT_GT(nulls, 0U);
  EXPECT_GT(numbers, 0U);
}

TEST_F(BreweryApi, PaginationOutOfRangeIs422WithErrorsByField) {
  // Laravel's rules 'sometimes', 'required', 'integer', 'min:1', 'max:200', its messages.
  for (const auto& [bad, message] : std::vector<std::pair<std::string, std::string>>{
           {"0", "The per page field must be at least 1."},
           {"-1", "The per page field must be at least 1."},
           {"201", "The per page field must not be greater than 200."},
           {"abc", "The per page field must be an integer."},
           {"1.5", "The per page field must be an integer."},
           {"", "The per page field is required."}}) {
    const auto j = json("/v1/breweries?per_page=" + bad, 422);
    ASSERT_TRUE(j["errors"]["per_page"].is_array()) << bad;
    EXPECT_EQ(j["errors"]["per_page"][0], message);
    EXPECT_EQ(j["message"], message);
    EXPECT_EQ(j.size(), 2U);
  }
  for (const std::string bad : {"0", "-3"}) {
    const auto j = json("/v1/breweries?page=" + bad, 422);
    EXPECT_EQ(j["errors"]["page"][0], "The page field must be at least 1.") << bad;
  }
  EXPECT_EQ(json("/v1/breweries?page=abc", 422)["errors"]["page"][0], "The page field must be an integer.");
  const auto both = json("/v1/breweries?per_page=0&page=0", 422);
  EXPECT_TRUE(both["errors"].contains("per_page"));
  EXPECT_TRUE(both["errors"].contains("page"));
  EXPECT_NE(both["message"].get<std::string>().find("(and 1 more error)"), std::string::npos);
  EXPECT_EQ(json("/v1/breweries?page=60&per_page=200").size(), 11822U - 59 * 200);  // the last page
  EXPECT_EQ(json("/v1/breweries?page=61&per_page=200").size(), 0U);
  EXPECT_TRUE(get("/v1/breweries?page=61&per_page=200").body == "[]");
  EXPECT_TRUE(get("/v1/breweries?page=9223372036854775807").body == "[]");
  EXPECT_EQ(json("/v1/breweries?page=99999999999999999999999", 422)["message"],
            "The page field must be an integer.")
      << "past 64 bits: FILTER_VALIDATE_INT refuses it";
}

TEST_F(BreweryApi, ByStateIsASubstringLikeSoVirginiaIncludesWestVirginia) {
  const auto all = all_pages("/v1/breweries?by_state=virginia");
  EXPECT_EQ(all.size(), 295U);
  EXPECT_EQ(all.size(), tb::count_like(rows(), "state_province", "virginia"));
  std::size_t exact = 0;
  std::set<std::string> ids;
  for (const auto& b : all) {
    exact += b["state_province"] == "Virginia";
    ids.insert(b["id"].get<std::string>());
    EXPECT_TRUE(b["state_province"] == "Virginia" || b["state_province"] == "West Virginia");
  }
  EXPECT_EQ(exact, 255U);
  EXPECT_EQ(ids.size(), all.size()) << "pages must not overlap";
}

TEST_F(BreweryApi, TheLabsStatesCountAsTheSpecSays) {
  const std::vector<std::pair<std::string, std::size_t>> cases{
      {"district_of_columbia", 22}, {"maryland", 158}, {"new_york", 419}, {"california", 919}};
  for (const auto& [state, expected] : cases) {
    const auto all = all_pages("/v1/breweries?by_state=" + state);
    EXPECT_EQ(all.size(), expected) << state;
    EXPECT_EQ(all.size(), tb::count_like(rows(), "state_province", state)) << state;
  }
}

TEST_F(BreweryApi, LikeIsCaseInsensitiveWithWildcardsAndDecodesSpaces) {
  const auto n = [&](const std::string& q) {
    return json("/v1/breweries/meta?" + q)["total"].get<std::size_t>();
  };
  const std::size_t new_york = tb::count_like(rows(), "state_province", "new york");
  EXPECT_EQ(new_york, 419U);
  EXPECT_EQ(n("by_state=new+york"), new_york);
  EXPECT_EQ(n("by_state=new%20york"), new_york);
  EXPECT_EQ(n("by_state=NEW%20YoRk"), new_york);
  EXPECT_EQ(n("by_state=n%25w+y_rk"), tb::count_like(rows(), "state_province", "n%w y_rk"));
  EXPECT_EQ(n("by_state=VIRGINIA"), 295U);
  EXPECT_EQ(n("by_city=san+diego"), tb::count_like(rows(), "city", "san diego"));
  EXPECT_GT(n("by_city=san+diego"), 0U);
  EXPECT_EQ(n("by_name=brew%25co"), tb::count_like(rows(), "name", "brew%co"));
  EXPECT_EQ(n("by_postal=441"), tb::count_like(rows(), "postal_code", "441"));
  EXPECT_EQ(n("by_country=south+korea"), tb::count_like(rows(), "country", "south korea"));
  const tb::LikeOracle state{"virginia"};
  const tb::LikeOracle city{"richmond"};
  const auto both =
      static_cast<std::size_t>(std::count_if(rows().begin(), rows().end(), [&](const tb::Row& r) {
        return state(r.at("state_province")) && city(r.at("city"));
      }));
  EXPECT_GT(both, 0U);
  EXPECT_EQ(n("by_state=virginia&by_city=richmond"), both);
}

TEST_F(BreweryApi, TextFiltersNeedThreeTo255Characters) {
  for (const std::string key : {"by_state", "by_city", "by_country", "by_name", "by_postal"}) {
    std::string name = key;
    std::replace(name.begin(), name.end(), '_', ' ');
    auto j = json("/v1/breweries?" + key + "=ab", 422);
    EXPECT_EQ(j["errors"][key][0], "The " + name + " field must be at least 3 characters.") << key;
    j = json("/v1/breweries?" + key + "=" + std::string(256, 'a'), 422);
    EXPECT_EQ(j["errors"][key][0], "The " + name + " field must not be greater than 255 characters.") << key;
    EXPECT_EQ(json("/v1/breweries?" + key + "=" + std::string(255, 'a')).size(), 0U);
  }
  const auto total = [&](const std::string& q) {
    return json("/v1/breweries/meta?" + q)["total"].get<int>();
  };
  EXPECT_GT(total("by_city=K%C3%B6ln"), 0);
  EXPECT_EQ(total("by_city=K_ln"), total("by_city=K%C3%B6ln") + total("by_city=Kiln"))
      << "'_' is one UTF-8 character";
  EXPECT_EQ(json("/v1/breweries?by_state=%C3%A9t%C3%A9", 200).size(), 0U) << "3 characters, 5 bytes";
}

TEST_F(BreweryApi, ByTypeAndExcludeTypesTakeKnownTypesOnly) {
  const auto meta = json("/v1/breweries/meta");
  const auto micro = json("/v1/breweries/meta?by_type=micro");
  EXPECT_EQ(micro["total"], meta["by_type"]["micro"]);
  EXPECT_EQ(micro["total"].get<std::size_t>(),
            std::count_if(rows().begin(), rows().end(),
                          [](const tb::Row& r) { return r.at("brewery_type") == "micro"; }));
  const auto two = json("/v1/breweries/meta?by_type=micro,nano");
  EXPECT_EQ(two["total"].get<std::size_t>(),
            meta["by_type"]["micro"].get<std::size_t>() + meta["by_type"]["nano"].get<std::size_t>());
  const auto excluded = json("/v1/breweries/meta?exclude_types=micro,brewpub");
  EXPECT_FALSE(excluded["by_type"].contains("micro"));
  EXPECT_FALSE(excluded["by_type"].contains("brewpub"));
  EXPECT_EQ(excluded["total"].get<std::size_t>(), meta["total"].get<std::size_t>() -
                                                      meta["by_type"]["micro"].get<std::size_t>() -
                                                      meta["by_type"]["brewpub"].get<std::size_t>());
  for (const auto& b : json("/v1/breweries?by_type=nano&per_page=200"))
    EXPECT_EQ(b["brewery_type"], "nano");
  for (const auto& type : brewery_types())
    json("/v1/breweries?by_type=" + std::string{type});

  auto j = json("/v1/breweries?by_type=microbrewery", 422);
  EXPECT_EQ(j["errors"]["by_type"][0], "The by_type contains invalid brewery type: microbrewery");
  j = json("/v1/breweries?exclude_types=micro,tavern", 422);
  EXPECT_EQ(j["errors"]["exclude_types"][0], "The exclude_types contains invalid brewery type: tavern");
  json("/v1/breweries?by_type=MICRO", 422);
  EXPECT_EQ(json("/v1/breweries?by_type=", 422)["message"], "The by type field is required.");
  // Each item is trimmed; each bad one has its message.
  EXPECT_EQ(json("/v1/breweries/meta?by_type=micro,%20nano")["total"], two["total"]);
  j = json("/v1/breweries?by_type=foo,micro,pub", 422);
  EXPECT_EQ(j["errors"]["by_type"].size(), 2U);
  EXPECT_EQ(j["message"], "The by_type contains invalid brewery type: foo (and 1 more error)");
}

TEST_F(BreweryApi, ByIdsReturnsThoseBreweriesInFileOrder) {
  const auto& r = rows();
  const auto j = json("/v1/breweries?by_ids=" + r[100].at("id") + "," + r[7].at("id") + ",no-such-id," +
                      r[5000].at("id"));
  ASSERT_EQ(j.size(), 3U);
  EXPECT_EQ(j[0]["id"], r[7].at("id"));
  EXPECT_EQ(j[1]["id"], r[100].at("id"));
  EXPECT_EQ(j[2]["id"], r[5000].at("id"));
  // Items are trimmed; the value is 3 to 255 characters, so at most six ids of 36.
  EXPECT_EQ(json("/v1/breweries?by_ids=" + r[7].at("id") + "%20,%20" + r[100].at("id")).size(), 2U);
  EXPECT_EQ(json("/v1/breweries?by_ids=ab", 422)["message"],
            "The by ids field must be at least 3 characters.");
  std::string seven = r[0].at("id");
  for (int i = 1; i < 7; ++i)
    seven += "," + r[static_cast<std::size_t>(i)].at("id");
  EXPECT_EQ(json("/v1/breweries?by_ids=" + seven, 422)["message"],
            "The by ids field must not be greater than 255 characters.");
  EXPECT_EQ(json("/v1/breweries?by_ids=,,,").size(), 0U) << "three characters, no id";
}

TEST_F(BreweryApi, SortIsStableInBothDirectionsOverAnyColumn) {
  const auto position = [&] {
    std::map<std::string, std::size_t> pos;
    for (std::size_t i = 0; i < rows().size(); ++i)
      pos[rows()[i].at("id")] = i;
    return pos;
  }();
  const auto desc = all_pages("/v1/breweries?by_state=virginia&sort=city:desc");
  ASSERT_EQ(desc.size(), 295U);
  for (std::size_t i = 1; i < desc.size(); ++i) {
    const auto a = desc[i - 1]["city"].get<std::string>();
    const auto b = desc[i]["city"].get<std::string>();
    ASSERT_GE(a, b) << i;
    if (a == b) {
      EXPECT_LT(position.at(desc[i - 1]["id"]), position.at(desc[i]["id"])) << "stable";
    }
  }
  const auto two = all_pages("/v1/breweries?by_state=maryland&sort=type:asc,name:desc");
  ASSERT_EQ(two.size(), 158U);
  for (std::size_t i = 1; i < two.size(); ++i) {
    const auto t0 = two[i - 1]["brewery_type"].get<std::string>();
    const auto t1 = two[i]["brewery_type"].get<std::string>();
    ASSERT_LE(t0, t1);
    if (t0 == t1) {
      EXPECT_GE(two[i - 1]["name"].get<std::string>(), two[i]["name"].get<std::string>());
    }
  }
  EXPECT_EQ(json("/v1/breweries?sort=id")[0]["id"],
            std::min_element(rows().begin(), rows().end(), [](const auto& a, const auto& b) {
              return a.at("id") < b.at("id");
            })->at("id"));
  EXPECT_EQ(json("/v1/breweries?sort=brewery_type:desc")[0]["brewery_type"], "taproom");

  // Any column of the table, parts trimmed, the direction in any case; coordinates as numbers, NULL
  // first ascending.
  const auto by_phone = json("/v1/breweries?sort=%20phone%20:%20DESC%20&per_page=2");
  EXPECT_GE(by_phone[0]["phone"].get<std::string>(), by_phone[1]["phone"].get<std::string>());
  const auto by_latitude = json("/v1/breweries?sort=latitude:desc&per_page=3");
  EXPECT_GE(by_latitude[0]["latitude"].get<double>(), by_latitude[1]["latitude"].get<double>());
  EXPECT_GE(by_latitude[1]["latitude"].get<double>(), by_latitude[2]["latitude"].get<double>());
  EXPECT_TRUE(json("/v1/breweries?sort=latitude&per_page=1")[0]["latitude"].is_null());
  // What the real server's SQL cannot order by is its 500.
  for (const std::string bad : {"nosuchcolumn", "name:sideways", "name:asc,state", "name,"}) {
    const auto r = get("/v1/breweries?sort=" + bad);
    EXPECT_EQ(r.status, 500U) << bad;
    EXPECT_EQ(r.body, "{\n    \"message\": \"Server Error\"\n}") << bad;
  }
  EXPECT_EQ(json("/v1/breweries?sort=name:up&per_page=0", 422)["message"],
            "The per page field must be at least 1.")
      << "validation first";
}

TEST_F(BreweryApi, MetaCountsAreIntegersAndAgreeWithTheList) {
  const auto meta = json("/v1/breweries/meta");
  EXPECT_EQ(meta["total"], 11822);
  std::vector<std::string> keys;
  for (auto it = meta.begin(); it != meta.end(); ++it)
    keys.push_back(it.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"total", "by_state", "by_country", "by_type", "page", "per_page"}));
  for (const auto& part : {"by_state", "by_country", "by_type"}) {
    std::size_t sum = 0;
    for (const auto& [k, v] : meta[part].items()) {
      ASSERT_TRUE(v.is_number_integer()) << part << "." << k;
      sum += v.get<std::size_t>();
    }
    EXPECT_EQ(sum, 11822U) << part;
  }
  EXPECT_EQ(meta["by_state"]["Virginia"], 255);
  EXPECT_EQ(meta["by_state"]["District of Columbia"], 22);
  EXPECT_EQ(meta["by_state"]["Maryland"], 158);
  EXPECT_EQ(meta["by_state"]["New York"], 419);
  EXPECT_EQ(meta["by_state"]["California"], 919);
  EXPECT_EQ(meta["page"], 1);
  EXPECT_EQ(meta["per_page"], 50);

  const auto va = json("/v1/breweries/meta?by_state=virginia&page=3&per_page=20");
  EXPECT_EQ(va["total"], 295);
  EXPECT_EQ(va["by_state"], Json::parse(R"({"Virginia": 255, "West Virginia": 40})"));
  EXPECT_EQ(va["page"], 3);
  EXPECT_EQ(va["per_page"], 20);
  EXPECT_EQ(va["total"].get<std::size_t>(), all_pages("/v1/breweries?by_state=virginia").size());
  json("/v1/breweries/meta?per_page=0", 422);
  json("/v1/breweries/meta?by_type=x", 422);
}

TEST_F(BreweryApi, OneBreweryByIdAndUnknownIs404) {
  const auto& row = rows()[1234];
  const auto b = json("/v1/breweries/" + row.at("id"));
  EXPECT_EQ(b["id"], row.at("id"));
  EXPECT_EQ(b["name"], row.at("name"));
  EXPECT_EQ(b, json("/v1/breweries?page=1235&per_page=1")[0]);
  EXPECT_EQ(get("/v1/breweries/" + row.at("id") + "/").status, 200U) << "a trailing slash";
  const auto r = get("/v1/breweries/no-such-brewery");
  EXPECT_EQ(r.status, 404U);
  EXPECT_EQ(
      r.body,
      "{\n    \"message\": \"No query results for model [App\\\\Models\\\\Brewery] no-such-brewery\"\n}");
  EXPECT_EQ(r.header("cache-control"), "max-age=86400, public");
}

TEST_F(BreweryApi, RandomIsAnArrayOfDistinctBreweriesFromASeededGenerator) {
  const auto one = json("/v1/breweries/random");
  ASSERT_TRUE(one.is_array());
  EXPECT_EQ(one.size(), 1U);
  const auto fifty = json("/v1/breweries/random?size=50");
  ASSERT_EQ(fifty.size(), 50U);
  std::set<std::string> ids;
  for (const auto& b : fifty) {
    ids.insert(b["id"].get<std::string>());
    EXPECT_NE((*data_)->find(b["id"].get<std::string>()), nullptr);
  }
  EXPECT_EQ(ids.size(), 50U);
  for (const auto& [bad, message] :
       std::vector<std::pair<std::string, std::string>>{{"0", "The size field must be at least 1."},
                                                        {"51", "The size field must not be greater than 50."},
                                                        {"abc", "The size field must be an integer."},
                                                        {"-1", "The size field must be at least 1."}}) {
    const auto j = json("/v1/breweries/random?size=" + bad, 422);
    EXPECT_EQ(j["errors"]["size"][0], message) << bad;
  }
  EXPECT_EQ(json("/v1/breweries/random?size=%2B3").size(), 3U) << "FILTER_VALIDATE_INT takes a sign";
  EXPECT_EQ(get("/v1/breweries/random").header("cache-control"), "no-cache, private");
  Api a{*data_, {.rate_limit = std::nullopt, .seed = 99}};
  Api b{*data_, {.rate_limit = std::nullopt, .seed = 99}};
  Api c{*data_, {.rate_limit = std::nullopt, .seed = 100}};
  const Request req{"GET", "/v1/breweries/random?size=5", "x", {}};
  const auto first = a.handle(req).body;
  EXPECT_EQ(first, b.handle(req).body) << "same seed, same sequence";
  EXPECT_NE(first, c.handle(req).body);
  EXPECT_NE(first, a.handle(req).body) << "the sequence moves on";
}

TEST_F(BreweryApi, SearchFindsWordsPrefixesAndTyposBestFirst) {
  // Every brewery with the words "san" and "diego" in one of its columns (the tests' own reading)
  // comes first; then those with "san" alone (Meilisearch's "last" matching strategy).
  const auto has_word = [](const tb::Row& r, const std::string& word) {
    for (const auto& [column, value] : r) {
      const auto words = SearchIndex::words(value);
      if (std::find(words.begin(), words.end(), word) != words.end()) return true;
    }
    return false;
  };
  std::set<std::string> both;
  for (const auto& r : rows())
    if (has_word(r, "san") && has_word(r, "diego")) both.insert(r.at("id"));
  ASSERT_GT(both.size(), 50U);
  const auto found = all_pages("/v1/breweries/search?query=SAN+DIEGO");
  ASSERT_GT(found.size(), both.size());
  for (std::size_t i = 0; i < both.size(); ++i)
    EXPECT_TRUE(both.contains(found[i]["id"].get<std::string>())) << i << ": " << found[i].dump();
  EXPECT_EQ(json("/v1/breweries/search?query=san+diego").size(), 50U);
  EXPECT_EQ(json("/v1/breweries/search?query=san%20diego&per_page=5").size(), 5U);

  // A typo ("califrnia": one, allowed from 5 letters), a prefix ("bould" for Boulder), any column
  // (an address), the name before the other columns.
  const auto typo = json("/v1/breweries/search?query=califrnia&per_page=20");
  ASSERT_EQ(typo.size(), 20U);
  for (const auto& b : typo)  // in the state, a name, an address ("California St")...
    EXPECT_NE(b.dump().find("California"), std::string::npos) << b.dump();
  const auto boulder = json("/v1/breweries/search?query=bould&per_page=200");
  EXPECT_TRUE(
      std::any_of(boulder.begin(), boulder.end(), [](const Json& b) { return b["city"] == "Boulder"; }));
  const auto topeka = json("/v1/breweries/search?query=Topeka&per_page=200");
  EXPECT_TRUE(std::any_of(topeka.begin(), topeka.end(), [](const Json& b) {
    return b["address_1"].is_string() &&
           b["address_1"].get<std::string>().find("Topeka") != std::string::npos;
  }));
  const auto dog = json("/v1/breweries/search?query=dog&per_page=5");
  EXPECT_TRUE(std::all_of(dog.begin(), dog.end(), [](const Json& b) {
    const auto words = SearchIndex::words(b["name"].get<std::string>());
    return std::any_of(words.begin(), words.end(), [](const std::string& w) { return w.starts_with("dog"); });
  })) << "a match in the name ranks first";
  EXPECT_EQ(all_pages("/v1/breweries/search?query=brewing").size(), SearchIndex::max_hits)
      << "at most 1000 hits, as Meilisearch";
  EXPECT_EQ(json("/v1/breweries/search?query=zzzqqqxxx").size(), 0U);
  EXPECT_EQ(json("/v1/breweries/search?query=ab", 422)["errors"]["query"][0],
            "The query field must be at least 3 characters.");
  EXPECT_EQ(json("/v1/breweries/search", 422)["errors"]["query"][0], "The query field is required.");
  EXPECT_EQ(json("/v1/breweries/search?query=%20ab%20", 422)["errors"]["query"][0],
            "The query field must be at least 3 characters.")
      << "trimmed first";
  json("/v1/breweries/search?query=" + std::string(256, 'x'), 422);
  // page is not validated on search: a bad one is page 1.
  EXPECT_EQ(json("/v1/breweries/search?query=san+diego&page=0"),
            json("/v1/breweries/search?query=san+diego"));
  EXPECT_EQ(json("/v1/breweries/search?query=san+diego&page=abc"),
            json("/v1/breweries/search?query=san+diego"));
  EXPECT_EQ(json("/v1/breweries/search?query=san%2Bdiego"), json("/v1/breweries/search?query=san+diego"))
      << "the query is URL-decoded a second time: %2B, a '+' once decoded, is a space";
}

TEST(BrewerySearch, WordsAndTypos) {
  EXPECT_EQ(SearchIndex::words("Dog-Fish Head, 6 Cannery Row"),
            (std::vector<std::string>{"dog", "fish", "head", "6", "cannery", "row"}));
  EXPECT_EQ(SearchIndex::words("K\xC3\xB6ln"), (std::vector<std::string>{"k\xC3\xB6ln"}));
  EXPECT_EQ(typos_between("california", "califrnia", 2), 1U);
  EXPECT_EQ(typos_between("brewing", "berwing", 1), 1U) << "a transposition is one";
  EXPECT_EQ(typos_between("brewing", "bowling", 1), 2U) << "past the limit: limit + 1";
  EXPECT_EQ(typos_between("", "abc", 5), 3U);
}

TEST_F(BreweryApi, UnknownPathsAre404MethodsOtherThanGetAndHeadAre405) {
  for (const std::string target : {"/", "/v2/breweries", "/v1/brewery", "/v1/breweries/a/b", "/v1"}) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 404U) << target;
    std::string route = target.substr(1);
    EXPECT_EQ(Json::parse(r.body)["message"], "The route " + route + " could not be found.");
  }
  EXPECT_EQ(api_->handle(Request{"POST", "/nope", "x", {}}).status, 404U) << "no route: 404 for any method";
  const auto options = api_->handle(Request{"OPTIONS", "/v1/breweries/meta", "x", {}});
  EXPECT_EQ(options.status, 200U) << "Laravel's router answers OPTIONS on a route";
  EXPECT_EQ(options.header("allow"), "GET,HEAD");
  EXPECT_EQ(options.body, "");
  for (const std::string method : {"POST", "PUT", "DELETE", "PATCH", "BREW", "get"}) {
    const auto r = api_->handle(Request{method, "/v1/breweries", "x", {}});
    EXPECT_EQ(r.status, 405U) << method;
    EXPECT_EQ(r.header("allow"), "GET, HEAD");
    EXPECT_EQ(r.body,
              "{\n    \"message\": \"The " + method +
                  " method is not supported for route v1/breweries. Supported methods: GET, HEAD.\"\n}");
  }
  const auto head = api_->handle(Request{"HEAD", "/v1/breweries/meta", "x", {}});
  EXPECT_EQ(head.status, 200U);
  EXPECT_EQ(head.body, get("/v1/breweries/meta").body) << "the server drops the body, not the engine";
  EXPECT_EQ(get("/v1/breweries?by_state=%zz").status, 400U);
  EXPECT_EQ(get("/v1/breweries?by_state=a b").status, 400U);
  EXPECT_EQ(get("/v1/breweries?utm_source=x").status, 200U) << "unknown parameters are ignored";
  EXPECT_EQ(json("/v1/breweries?by_state=x&by_state=ohio")[0]["state_province"], "Ohio") << "the last wins";
}

// ---------------------------------------------------------------------------------------------
// The rate limit, on a tiny dataset with an injected clock.

std::shared_ptr<const Dataset> tiny() {
  return std::make_shared<const Dataset>(Dataset::parse(
      "id,name,brewery_type,address_1,address_2,address_3,city,state_province,postal_code,country,phone,"
      "website_url,longitude,latitude\n"
      "b1,One,micro,,,,Richmond,Virginia,23220,United States,,,-77.4,37.5\n"
      "b2,Two,nano,,,,Wheeling,West Virginia,26003,United States,,,,\n"));
}

TEST(BreweryRateLimit, CountsPerClientInAFixedWindowThenRecovers) {
  Api api{tiny(), {.rate_limit = RateLimit{3, std::chrono::seconds{60}}, .seed = 1}};
  const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  const auto at = [&](std::chrono::seconds dt, const std::string& client = "1.2.3.4") {
    return api.handle(Request{"GET", "/v1/breweries", client, t0 + dt});
  };
  for (int i = 0; i < 3; ++i) {
    const auto r = at(std::chrono::seconds{i});
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.header("X-RateLimit-Limit"), "3");
    EXPECT_EQ(r.header("x-ratelimit-remaining"), std::to_string(2 - i));
    EXPECT_EQ(r.header("Retry-After"), "");
  }
  auto r = at(10s);
  EXPECT_EQ(r.status, 429U);
  EXPECT_EQ(r.header("Retry-After"), "50");
  EXPECT_EQ(r.header("X-RateLimit-Remaining"), "0");
  EXPECT_EQ(r.header("X-RateLimit-Limit"), "3");
  EXPECT_EQ(r.body, "{\n    \"message\": \"Too Many Attempts.\"\n}");
  EXPECT_FALSE(r.header("X-RateLimit-Reset").empty());
  EXPECT_EQ(at(11s, "5.6.7.8").status, 200U) << "per client";
  EXPECT_EQ(api.handle(Request{"GET", "/v1/breweries/meta", "1.2.3.4", t0 + 12s}).status, 429U)
      << "across endpoints";
  // A request that reaches no route (404) or no method (405) is neither refused nor counted.
  const auto lost = api.handle(Request{"GET", "/nope", "1.2.3.4", t0 + 12s});
  EXPECT_EQ(lost.status, 404U);
  EXPECT_EQ(lost.header("X-RateLimit-Limit"), "");
  EXPECT_EQ(api.handle(Request{"POST", "/v1/breweries", "1.2.3.4", t0 + 12s}).status, 405U);
  EXPECT_EQ(at(59s).header("Retry-After"), "1");
  r = at(60s);
  EXPECT_EQ(r.status, 200U) << "a new window";
  EXPECT_EQ(r.header("X-RateLimit-Remaining"), "2");

  Api off{tiny(), {.rate_limit = std::nullopt, .seed = 1}};
  for (int i = 0; i < 500; ++i)
    ASSERT_EQ(off.handle(Request{"GET", "/v1/breweries", "c", t0}).status, 200U);
  EXPECT_EQ(off.handle(Request{"GET", "/v1/breweries", "c", t0}).header("X-RateLimit-Limit"), "");
}

TEST(BreweryRateLimit, TheDefaultIs120PerMinute) {
  Api api{tiny()};
  const auto t0 = std::chrono::steady_clock::time_point{} + 5s;
  for (int i = 0; i < 120; ++i)
    ASSERT_EQ(api.handle(Request{"GET", "/v1/breweries", "c", t0}).status, 200U) << i;
  const auto r = api.handle(Request{"GET", "/v1/breweries", "c", t0 + 1s});
  EXPECT_EQ(r.status, 429U);
  EXPECT_EQ(r.header("Retry-After"), "59");
}

// ---------------------------------------------------------------------------------------------
// LIKE, the CSV loader and the data search order.

TEST(BreweryLike, SqliteSemantics) {
  EXPECT_TRUE(like("New York", "%new_york%"));
  EXPECT_TRUE(like("New York", "NEW YORK"));
  EXPECT_FALSE(like("New York", "new york city"));
  EXPECT_TRUE(like("West Virginia", "%virginia%"));
  EXPECT_FALSE(like("West Virginia", "virginia"));
  EXPECT_TRUE(like("abc", "a%c"));
  EXPECT_TRUE(like("ac", "a%c"));
  EXPECT_TRUE(like("", "%"));
  EXPECT_FALSE(like("", "_"));
  EXPECT_TRUE(like("Köln", "K_ln"));
  EXPECT_FALSE(like("Köln", "K__ln"));
  EXPECT_FALSE(like("KÖLN", "%ö%")) << "only ASCII letters fold";
  EXPECT_TRUE(like("aXbXc", "%b%c"));
  EXPECT_TRUE(like("mississippi", "%iss%ppi"));
  EXPECT_FALSE(like("mississippi", "%iss%ppx"));
}

/// LIKE by dynamic programming over bytes (ASCII inputs only): the reference for the matcher.
bool like_reference(const std::string& t, const std::string& p) {
  std::vector<std::vector<char>> m(t.size() + 1, std::vector<char>(p.size() + 1, 0));
  m[0][0] = 1;
  for (std::size_t j = 1; j <= p.size(); ++j)
    m[0][j] = p[j - 1] == '%' && m[0][j - 1];
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (std::size_t i = 1; i <= t.size(); ++i)
    for (std::size_t j = 1; j <= p.size(); ++j) {
      const char c = p[j - 1];
      if (c == '%')
        m[i][j] = m[i][j - 1] || m[i - 1][j];
      else
        m[i][j] = (c == '_' || lower(c) == lower(t[i - 1])) && m[i - 1][j - 1];
    }
  return m[t.size()][p.size()] != 0;
}

TEST(BreweryLike, AgreesWithAReferenceOnRandomInputs) {
  std::mt19937 rng{2024};
  const std::string text_chars = "abAB ";
  const std::string pattern_chars = "abAB %_";
  std::size_t matches = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string t(rng() % 9, ' ');
    std::string p(rng() % 7, ' ');
    for (auto& c : t)
      c = text_chars[rng() % text_chars.size()];
    for (auto& c : p)
      c = pattern_chars[rng() % pattern_chars.size()];
    const bool expected = like_reference(t, p);
    ASSERT_EQ(like(t, p), expected) << "'" << t << "' LIKE '" << p << "'";
    matches += expected;
  }
  EXPECT_GT(matches, 1000U);
  EXPECT_LT(matches, 19000U);
}

const std::string header =
    "id,name,brewery_type,address_1,address_2,address_3,city,state_province,postal_code,country,phone,"
    "website_url,longitude,latitude";

TEST(BreweryDataset, ParsesRfc4180QuotingCrlfAndBom) {
  const auto d =
      Dataset::parse("\xEF\xBB\xBF" + header +
                     "\r\n"
                     "a1,\"Smith, Jones & \"\"Sons\"\"\",micro,\"1 Main St\nUnit 2\",,,Köln,NRW,50667,"
                     "Germany,,,6.95,50.94\r\n"
                     "a2,Plain,nano,,,,City,State,1,Country,555,http://x,,\r\n");
  ASSERT_EQ(d.size(), 2U);
  const auto& a = d.breweries()[0];
  EXPECT_EQ(a.name, "Smith, Jones & \"Sons\"");
  EXPECT_EQ(a.address_1, "1 Main St\nUnit 2");
  EXPECT_EQ(a.address_2, std::nullopt);
  EXPECT_EQ(a.city, "Köln");
  EXPECT_EQ(a.longitude, 6.95);
  EXPECT_EQ(a.latitude, 50.94);
  const auto& b = d.breweries()[1];
  EXPECT_EQ(b.longitude, std::nullopt);
  EXPECT_EQ(b.phone, "555");
  EXPECT_EQ(d.find("a2"), &b);
  EXPECT_EQ(d.find("zz"), nullptr);
  EXPECT_EQ(b.text(Column::state_province), "State");
  EXPECT_EQ(b.text(Column::address_3), std::nullopt);

  Api api{std::make_shared<const Dataset>(d), {.rate_limit = std::nullopt, .seed = 1}};
  EXPECT_EQ(
      api.handle(Request{"GET", "/v1/breweries/a1", "x", {}}).body,
      R"({"id":"a1","name":"Smith, Jones & \"Sons\"","brewery_type":"micro","address_1":"1 Main St\nUnit 2",)"
      R"("address_2":null,"address_3":null,"city":"K\u00f6ln","state_province":"NRW","postal_code":"50667",)"
      R"("country":"Germany","longitude":6.95,"latitude":50.94,"phone":null,"website_url":null,)"
      R"("state":"NRW","street":"1 Main St\nUnit 2"})");
}

TEST(BreweryDataset, ColumnsMayComeInAnyOrderAndExtraColumnsAreIgnored) {
  const auto d = Dataset::parse(
      "extra,latitude,longitude,website_url,phone,country,postal_code,state_province,city,address_3,"
      "address_2,address_1,brewery_type,name,id\n"
      "x,1.5,-2.5,,,C,P,S,Ci,,,A,micro,N,id1");
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d.breweries()[0].id, "id1");
  EXPECT_EQ(d.breweries()[0].latitude, 1.5);
  EXPECT_EQ(d.breweries()[0].name, "N");
}

TEST(BreweryDataset, BadInputNamesTheLineAndTheProblem) {
  const auto error = [](const std::string& csv) {
    try {
      (void)Dataset::parse(csv, "test.csv");
    } catch (const DatasetError& e) {
      return std::string{e.what()};
    }
    return std::string{"no error"};
  };
  EXPECT_NE(error("id,name\nx,y").find("no column 'brewery_type'"), std::string::npos);
  EXPECT_NE(error("").find("empty"), std::string::npos);
  EXPECT_NE(error(header + "\na,b,micro,,,,c,s,p,co,,,1\n").find("test.csv:2: expected 14 fields, found 13"),
            std::string::npos);
  EXPECT_NE(error(header + "\na,b,micro,,,,c,s,p,co,,,east,1\n")
                .find("test.csv:2: longitude 'east' is not a number"),
            std::string::npos);
  EXPECT_NE(error(header + "\na,b,micro,,,,c,s,p,co,,,1,nan\n").find("latitude"), std::string::npos);
  EXPECT_NE(error(header + "\na,b,micro,,,,c,s,p,co,,,1,2\na,c,micro,,,,c,s,p,co,,,1,2\n")
                .find("test.csv:3: duplicate id 'a'"),
            std::string::npos);
  EXPECT_NE(error(header + "\n,b,micro,,,,c,s,p,co,,,1,2\n").find("empty id"), std::string::npos);
  EXPECT_NE(
      error(header + "\na,\"open,micro,,,,c,s,p,co,,,1,2\n").find("test.csv:2: a quoted field is not closed"),
      std::string::npos);
  EXPECT_NE(error(header + "\na,b\"c,micro,,,,c,s,p,co,,,1,2\n").find("quote inside an unquoted field"),
            std::string::npos);
  EXPECT_NE(error(header + "\na,\"b\"c,micro,,,,c,s,p,co,,,1,2\n").find("text after a closing quote"),
            std::string::npos);
}

TEST(BreweryDataset, LoadReportsUnreadableFiles) {
  TempDir dir;
  EXPECT_THROW((void)Dataset::load(dir.path() / "missing.csv"), DatasetError);
  EXPECT_THROW((void)Dataset::load(dir.path()), DatasetError);
  {
    std::ofstream f{dir.path() / "b.csv"};
    f << header << "\nq,Name,micro,,,,c,s,p,co,,,,";
  }
  const auto d = Dataset::load(dir.path() / "b.csv");
  EXPECT_EQ(d.size(), 1U);
  EXPECT_EQ(d.source(), (dir.path() / "b.csv").string());
}

TEST(BreweryDataSearch, OrderFlagEnvThenFoldersThenTheBuildDefault) {
  TempDir dir;
  const auto& root = dir.path();
  DataSearch s;
  s.cwd = root / "cwd";
  s.xdg_data_home = (root / "xdg").string();
  s.home = (root / "home").string();
  s.program_dir = root / "prefix/bin";
  s.xdg_data_dirs = (root / "dirs1").string() + ":" + (root / "dirs2").string();
  s.build_default = root / "build" / "breweries.csv";
  const auto installed = (root / "prefix/bin" / installed_data_dir() / "breweries.csv").lexically_normal();
  const std::vector<std::filesystem::path> order{root / "cwd/breweries.csv",
                                                 root / "xdg/parlab/breweries.csv",
                                                 root / "home/.local/share/parlab/breweries.csv",
                                                 installed,
                                                 root / "dirs1/parlab/breweries.csv",
                                                 root / "dirs2/parlab/breweries.csv",
                                                 root / "build/breweries.csv"};
  EXPECT_EQ(dataset_candidates(s), order);

  try {
    (void)locate_dataset(s);
    ADD_FAILURE() << "nothing exists yet";
  } catch (const DatasetError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("scripts/fetch-brewery-data"), std::string::npos) << what;
    EXPECT_NE(what.find("--data FILE"), std::string::npos) << what;
    EXPECT_NE(what.find("PARLAB_BREWERY_CSV"), std::string::npos) << what;
    EXPECT_NE(what.find((root / "xdg/parlab/breweries.csv").string()), std::string::npos) << what;
    EXPECT_NE(what.find(installed.string()), std::string::npos) << what;
    EXPECT_NE(what.find((root / "dirs2/parlab/breweries.csv").string()), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  // The last candidate that exists wins until an earlier one appears.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    std::filesystem::create_directories(it->parent_path());
    std::ofstream{*it} << header << '\n';
    EXPECT_EQ(locate_dataset(s), *it);
  }
  s.env = (root / "env.csv").string();
  EXPECT_EQ(dataset_candidates(s), std::vector<std::filesystem::path>{root / "env.csv"});
  try {
    (void)locate_dataset(s);
    ADD_FAILURE() << "an explicit PARLAB_BREWERY_CSV does not fall back";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string{e.what()}.find("PARLAB_BREWERY_CSV=" + s.env), std::string::npos);
  }
  s.flag = (root / "flag.csv").string();
  try {
    (void)locate_dataset(s);
    ADD_FAILURE() << "--data does not fall back";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string{e.what()}.find("--data " + s.flag), std::string::npos);
  }
  std::ofstream{s.flag} << header << '\n';
  EXPECT_EQ(locate_dataset(s), s.flag);

  DataSearch xdg_unset = DataSearch{};
  xdg_unset.home = "/h";
  EXPECT_EQ(dataset_candidates(xdg_unset),
            (std::vector<std::filesystem::path>{"/h/.local/share/parlab/breweries.csv",
                                                "/usr/local/share/parlab/breweries.csv",
                                                "/usr/share/parlab/breweries.csv"}))
      << "XDG_DATA_DIRS unset or empty is /usr/local/share:/usr/share";
}

TEST(BreweryDataSearch, TheInstalledCopyIsFoundBesideTheProgramWhereverThePrefixIs) {
  EXPECT_TRUE(std::filesystem::path{installed_data_dir()}.is_relative()) << installed_data_dir();
  EXPECT_EQ(std::filesystem::path{installed_data_dir()}.filename(), "parlab") << installed_data_dir();
  TempDir dir;
  const auto prefix = dir.path() / "moved" / "prefix";
  const auto csv = (prefix / "bin" / installed_data_dir() / "breweries.csv").lexically_normal();
  std::filesystem::create_directories(csv.parent_path());
  std::ofstream{csv} << header << '\n';
  DataSearch s;
  s.program_dir = prefix / "bin";
  s.xdg_data_dirs = (dir.path() / "none").string();
  EXPECT_EQ(locate_dataset(s), csv);
  EXPECT_EQ(csv.string().find(".."), std::string::npos) << "a clean path: " << csv;

  // This process's own folder is where /proc/self/exe is.
  const auto self = DataSearch::from_environment();
  std::error_code ec;
  EXPECT_EQ(self.program_dir, std::filesystem::read_symlink("/proc/self/exe", ec).parent_path());
  EXPECT_TRUE(self.flag.empty());
}

TEST(BreweryDataSearch, XdgDataDirsInOrderWithRelativeAndEmptyEntriesIgnored) {
  DataSearch s;
  s.xdg_data_dirs = "/opt/a/share::relative/share:/opt/b/share/:/opt/a/share";
  EXPECT_EQ(dataset_candidates(s), (std::vector<std::filesystem::path>{"/opt/a/share/parlab/breweries.csv",
                                                                       "/opt/b/share/parlab/breweries.csv"}));
  s.build_default = "/src/data/openbrewerydb/breweries.csv";
  s.xdg_data_dirs = ":";
  EXPECT_EQ(dataset_candidates(s),
            std::vector<std::filesystem::path>{"/src/data/openbrewerydb/breweries.csv"})
      << "a set but useless XDG_DATA_DIRS is not the default";
}

}  // namespace
