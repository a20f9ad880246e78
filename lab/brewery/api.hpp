#pragma once
/// \file
/// The Open Brewery DB v1 API as a pure query engine: (method, target, client, time) in, status,
/// headers and JSON body out. No sockets: the replica server and the tests both drive it.

#include "lab/brewery/dataset.hpp"
#include "lab/brewery/search.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parlab::brewery {

/// One HTTP request as the engine sees it.
struct Request {
  std::string method = "GET";
  std::string target;                           ///< e.g. "/v1/breweries?by_state=ohio&page=2"
  std::string client = "127.0.0.1";             ///< the rate limit's key: the client's IP address
  std::chrono::steady_clock::time_point now{};  ///< when it arrived (drives the rate limit window)
  std::string origin = "http://localhost";      ///< scheme and Host header: redirects' absolute URLs
  std::string if_none_match{};                  ///< the If-None-Match header ("" when absent)
};

/// The engine's answer. The body is JSON, present for HEAD too (the server sends no body then).
struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  ///< in the order they are sent
  std::string body;

  /// The value of header `name` (ASCII case-insensitive), or "" when absent.
  [[nodiscard]] std::string header(std::string_view name) const;
};

/// At most `limit` requests per client in each fixed window of `window`; the window starts at the
/// client's first request after the previous window ended.
struct RateLimit {
  std::uint32_t limit = 120;
  std::chrono::seconds window{60};
};

/// How the engine behaves beyond the dataset.
struct ApiOptions {
  std::optional<RateLimit> rate_limit = RateLimit{};  ///< nullopt: unlimited, no X-RateLimit headers
  std::uint64_t seed = 1;                             ///< seeds /v1/breweries/random
};

/// The values by_type and exclude_types accept, in the API's order.
[[nodiscard]] std::span<const std::string_view> brewery_types();

/// SQLite's `text LIKE pattern`: `%` matches any run of characters, `_` exactly one UTF-8
/// character, every other character itself with ASCII letters compared case-insensitively.
[[nodiscard]] bool like(std::string_view text, std::string_view pattern);

/// The v1 API over one dataset: GET (and HEAD) /v1/breweries, /v1/breweries/meta,
/// /v1/breweries/{id}, /v1/breweries/random and /v1/breweries/search (see docs/brewery.md).
/// handle() is thread-safe.
class Api {
 public:
  /// An engine over `data` (which must not be null).
  explicit Api(std::shared_ptr<const Dataset> data, ApiOptions options = {});
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  /// Answers one request as the real server orders it: routing (404), method (405), the rate
  /// limit (429, counting only requests that reached a route), then the endpoint (200, 404, 422).
  [[nodiscard]] Response handle(const Request& request);

  /// The dataset served.
  [[nodiscard]] const Dataset& data() const { return *data_; }
  /// The options in force.
  [[nodiscard]] const ApiOptions& options() const { return options_; }

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    std::uint32_t count = 0;
  };
  /// Counts the request; fills the X-RateLimit headers; returns a 429 when over the limit.
  std::optional<Response> admit(const Request& request,
                                std::vector<std::pair<std::string, std::string>>& headers);
  [[nodiscard]] std::vector<std::size_t> sample(std::size_t size);

  std::shared_ptr<const Dataset> data_;
  ApiOptions options_;
  SearchIndex search_;             ///< /v1/breweries/search
  std::vector<std::string> json_;  ///< the JSON object of each brewery (compact, fields in API order)
  std::mutex rate_mutex_;
  std::unordered_map<std::string, Window> windows_;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
};

}  // namespace parlab::brewery
