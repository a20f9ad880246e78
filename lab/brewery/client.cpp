#include "lab/brewery/client.hpp"

#include "lab/brewery/api.hpp"
#include "lab/brewery/states.hpp"
#include "lab/py_json.hpp"

#include <parlab/aio_pool.hpp>
#include <parlab/aio_tasks.hpp>
#include <parlab/errors.hpp>
#include <parlab/process_pool.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace parlab::brewery {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

/// Counts the elements of a top-level JSON array of objects without building the document, and
/// those whose "state_province" is the state.
class PageSax final : public nlohmann::json_sax<Json> {
 public:
  explicit PageSax(std::string_view state) : state_(state) {}

  bool null() override { return value("null"); }
  bool boolean(bool /*val*/) override { return value("a boolean"); }
  bool number_integer(number_integer_t /*val*/) override { return value("a number"); }
  bool number_unsigned(number_unsigned_t /*val*/) override { return value("a number"); }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return value("a number"); }
  bool string(string_t& val) override {
    if (depth_ == 2 && id_next_) {
      id_next_ = false;
      count_.ids.push_back(fnv1a(val));
      return true;
    }
    if (depth_ == 2 && state_next_) {
      state_next_ = false;
      if (same_state(val, state_)) ++count_.exact_rows;
      return true;
    }
    return value("a string");
  }
  bool binary(binary_t& /*val*/) override { return value("binary data"); }
  bool start_object(std::size_t /*elements*/) override {
    if (!open("an object")) return false;
    if (depth_ == 1) ++count_.rows;
    ++depth_;
    return true;
  }
  bool key(string_t& val) override {
    state_next_ = depth_ == 2 && val == "state_province";
    id_next_ = depth_ == 2 && val == "id";
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (!open("an array")) return false;
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    if (const auto bracket = what.find("] ");
        what.starts_with("[json.exception") && bracket != std::string::npos)
      what.erase(0, bracket + 2);
    error_ = "malformed JSON: " + what;
    return false;
  }

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] PageCount count() const { return count_; }

 private:
  /// FNV-1a, 64 bits: the same in every process (Mode::process hashes in a worker).
  static std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
    return hash;
  }
  /// A scalar at the current depth.
  bool value(const char* what) {
    id_next_ = false;  // an id that is no string is not checked
    if (depth_ == 2 && state_next_) {
      state_next_ = false;
      if (std::string_view{what} == "null") return true;
      return fail(std::string{"brewery "} + std::to_string(count_.rows) + " has a state_province that is " +
                  what + ", not a string");
    }
    if (depth_ >= 2) return true;
    return container_error(what);
  }
  /// An object or array starting at the current depth.
  bool open(const char* what) {
    id_next_ = false;
    if (depth_ == 2 && state_next_) {
      state_next_ = false;
      return fail(std::string{"brewery "} + std::to_string(count_.rows) + " has a state_province that is " +
                  what + ", not a string");
    }
    if (depth_ == 1 && std::string_view{what} == "an object") return true;
    if (depth_ >= 2) return true;
    return container_error(what);
  }
  bool container_error(const char* what) {
    if (depth_ == 0) return fail(std::string{"the body is "} + what + ", not a JSON array of breweries");
    return fail("element " + std::to_string(count_.rows + 1) + " of the array is " + what +
                ", not a brewery object");
  }
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  std::string_view state_;
  PageCount count_{};
  int depth_ = 0;
  bool state_next_ = false;
  bool id_next_ = false;
  std::string error_;
};

std::string shorten(std::string_view text, std::size_t limit = 200) {
  std::string out{text.substr(0, limit)};
  for (auto& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > limit) out += "...";
  return out;
}

/// The largest error body read as JSON for its "message": a server's error body may be as large as
/// the HTTP client accepts (64 MiB), and a parsed document takes many times its text; a larger one
/// is quoted, shortened, as text.
constexpr std::size_t max_parsed_error_body = std::size_t{64} << 10;

/// "HTTP 503 Service Unavailable after 4 attempts: <the API's message>".
std::string status_detail(const http::Response& response) {
  std::string detail = "HTTP " + std::to_string(response.status);
  if (!response.reason.empty()) detail += " " + response.reason;
  if (response.attempts > 1) detail += " after " + std::to_string(response.attempts) + " attempts";
  std::string message;
  const Json body =
      response.body.size() <= max_parsed_error_body ? Json::parse(response.body, nullptr, false) : Json{};
  if (body.is_object() && body.contains("message") && body["message"].is_string())
    message = body["message"].get<std::string>();
  else if (!response.body.empty())
    message = response.body;
  if (!message.empty()) detail += ": " + shorten(message);
  return detail;
}

/// Throws CountError unless the response to `state`'s page `page` is a 2xx.
void check_status(const http::Response& response, const std::string& state, std::size_t page) {
  if (!response.ok()) throw CountError(state, page, status_detail(response));
}

/// `state`'s page `page`; throws CountError unless it is a 2xx JSON array of breweries.
PageCount read_page(const http::Response& response, const std::string& state, std::size_t page) {
  check_status(response, state, page);
  try {
    return count_page(response.body, state);
  } catch (const std::invalid_argument& e) {
    throw CountError(state, page, e.what());
  }
}

/// The running count of one state, page by page, and the checks that keep a misbehaving server
/// from turning into a wrong count.
class Tally {
 public:
  Tally(std::string state, const CountOptions& options) : max_pages_(options.max_pages) {
    if (max_pages_ == 0) throw std::invalid_argument("CountOptions::max_pages must be at least 1");
    result_.state = std::move(state);
    if (options.exact) result_.exact_count = 0;
  }
  /// Adds page next_page(); true when it was the last one. Throws CountError.
  bool add(PageCount counted) {
    const std::size_t page = ++result_.pages;
    if (counted.rows > page_size)
      throw CountError(
          result_.state, page,
          std::to_string(counted.rows) + " breweries on a page of per_page=" + std::to_string(page_size));
    for (const std::uint64_t id : counted.ids)
      if (const auto [seen, added] = first_page_of_.emplace(id, page); !added)
        throw CountError(result_.state, page,
                         fmt::format("a brewery of this page was already on page {} (the same id): the "
                                     "server repeats breweries (does it ignore page=?), so no count can "
                                     "be trusted",
                                     seen->second));
    result_.brewery_count += counted.rows;
    if (result_.exact_count) *result_.exact_count += counted.exact_rows;
    const bool last = counted.rows < page_size;
    if (!last && page >= max_pages_)
      throw CountError(result_.state, page,
                       fmt::format("{} full pages and no end (CountOptions::max_pages): the server never "
                                   "sends the short page that ends the list",
                                   page));
    last_ = std::move(counted);
    return last;
  }
  /// The last page as it came when asked again: it must be what add() took. Throws CountError.
  void confirm(const PageCount& again) const {
    if (again == last_) return;
    throw CountError(result_.state, result_.pages,
                     fmt::format("the last page held {} breweries, and {}{} when asked again on a new "
                                 "connection: one answer was not this page's (a response the server "
                                 "sent unasked?) or the data changed",
                                 last_.rows, again.rows, again.rows == last_.rows ? " other ones" : ""));
  }
  [[nodiscard]] std::size_t next_page() const { return result_.pages + 1; }
  [[nodiscard]] StateCount take() { return std::move(result_); }

 private:
  StateCount result_;
  std::size_t max_pages_;
  std::unordered_map<std::uint64_t, std::size_t> first_page_of_;  // brewery id hash -> page
  PageCount last_;
};

std::string breweries_url(const CountOptions& options) {
  std::string base = options.api;
  while (base.ends_with('/'))
    base.pop_back();
  return base + "/breweries";
}

aio::Task<std::vector<Outcome<StateCount>>> to_thread_all(std::vector<std::string> states,
                                                          CountOptions options) {
  std::vector<aio::Task<StateCount>> tasks;
  tasks.reserve(states.size());
  for (auto& state : states)
    tasks.push_back(async_get_brewery_count(std::move(state), options));
  auto all = aio::gather(std::move(tasks), aio::return_exceptions);
  co_return co_await std::move(all);
}

/// count_page in a ProcessPool's worker (Mode::process): a plain function of values.
PageCount count_page_text(std::string body, std::string state) { return count_page(body, state); }

/// The request for page `page` of `state`.
http::Request page_request(const std::string& url, const std::string& state, std::size_t page,
                           bool new_connection) {
  return {.url = url, .params = page_params(state, page), .new_connection = new_connection};
}

/// `request` sent on `client`; a CountError for `state`'s page `page` when no response came.
aio::Task<http::Response> fetch(http::Client* client, http::Request request, std::string state,
                                std::size_t page) {
  std::optional<http::Response> response;
  std::string failure;
  try {
    auto get = client->request(std::move(request));
    response = co_await std::move(get);
  } catch (const http::HttpError& e) {
    failure = e.what();
  } catch (const http::TimeoutError& e) {
    failure = e.what();
  }
  if (!response) throw CountError(state, page, failure);
  co_return std::move(*response);
}

/// One page as fetched and counted.
struct FetchedPage {
  PageCount count;
  bool connection_reused = false;  ///< http::Response::connection_reused
};

/// Page `page` of `state` fetched on `client` and counted on `pool` when there is one (else on the
/// loop). Throws CountError.
aio::Task<FetchedPage> fetch_page(http::Client* client, std::string url, std::string state, std::size_t page,
                                  bool new_connection, ProcessPool* pool) {
  auto fetching = fetch(client, page_request(url, state, page, new_connection), state, page);
  http::Response response = co_await std::move(fetching);
  FetchedPage out{.count = {}, .connection_reused = response.connection_reused};
  if (pool == nullptr) {
    out.count = read_page(response, state, page);
    co_return out;
  }
  check_status(response, state, page);
  // The loop goes on with the other requests while a worker process counts this page.
  std::optional<PageCount> counted;
  std::string failure;
  try {
    auto counting = aio::run_in_executor(*pool, count_page_text, std::move(response.body), state);
    counted = co_await std::move(counting);
  } catch (const RemoteError& e) {  // count_page's std::invalid_argument, from the worker
    failure = e.message();
  } catch (const WorkerCrashed& e) {
    failure = e.what();
  }
  if (!counted) throw CountError(state, page, failure);
  out.count = std::move(*counted);
  co_return out;
}

/// The count page after page, as the seed does (count()'s loop, natively async), from `first` when
/// page 1 was already fetched.
aio::Task<StateCount> count_one_by_one(std::string state, http::Client* client, CountOptions options,
                                       ProcessPool* pool, std::optional<FetchedPage> first) {
  const std::string url = breweries_url(options);
  Tally tally{state, options};
  for (;;) {
    const std::size_t page = tally.next_page();
    FetchedPage fetched;
    if (first) {
      fetched = std::move(*first);
      first.reset();
    } else {
      auto fetching = fetch_page(client, url, state, page, false, pool);
      fetched = co_await std::move(fetching);
    }
    if (!tally.add(std::move(fetched.count))) continue;
    if (fetched.connection_reused) {  // the last page came after others on a keep-alive connection:
                                      // ask again (see count)
      auto again = fetch_page(client, url, state, page, true, pool);
      const FetchedPage asked_again = co_await std::move(again);
      tally.confirm(asked_again.count);
    }
    co_return tally.take();
  }
}

/// The largest /breweries/meta answer planned from: the real one is about 20 KB.
constexpr std::size_t max_meta_bytes = std::size_t{1} << 20;

/// The breweries of each state_province, as GET {api}/breweries/meta gives them under "by_state";
/// null when there is no plan.
using StateTotals = std::shared_ptr<const std::vector<std::pair<std::string, std::uint64_t>>>;

/// The breweries per state_province from one GET {api}/breweries/meta, or null when the answer is
/// none to plan from: no 2xx (after the client's retries), more than max_meta_bytes, no JSON object,
/// a "by_state" that is no object of whole numbers, or a "total" smaller than their sum.
aio::Task<StateTotals> fetch_state_totals(http::Client* client, std::string url) {
  std::optional<http::Response> response;
  try {
    auto get = client->request({.url = url + "/meta"});
    response = co_await std::move(get);
  } catch (const http::HttpError&) {
  } catch (const http::TimeoutError&) {
  }
  if (!response || !response->ok() || response->body.size() > max_meta_bytes) co_return nullptr;
  const Json meta = Json::parse(response->body, nullptr, false);
  if (!meta.is_object()) co_return nullptr;
  const auto by_state = meta.find("by_state");
  if (by_state == meta.end() || !by_state->is_object()) co_return nullptr;
  auto totals = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
  std::uint64_t sum = 0;
  for (const auto& [name, n] : by_state->items()) {
    if (!n.is_number_unsigned()) co_return nullptr;
    totals->emplace_back(name, n.get<std::uint64_t>());
    sum += totals->back().second;
  }
  if (const auto total = meta.find("total");
      total != meta.end() && (!total->is_number_unsigned() || total->get<std::uint64_t>() < sum))
    co_return nullptr;
  co_return totals;
}

/// The breweries GET /breweries?by_state=S lists by `totals`: those of every state_province that
/// LIKE '%S%' matches (virginia: Virginia and West Virginia).
std::uint64_t listed_total(const StateTotals& totals, const std::string& state) {
  const std::string pattern = "%" + state + "%";
  std::uint64_t n = 0;
  for (const auto& [name, count] : *totals)
    if (like(name, pattern)) n += count;
  return n;
}

/// The pages of a state of `total` breweries after page 1 (`first`), fetched at once: counted when
/// each holds what the total says and no brewery comes twice, else nullopt. Throws CountError for a
/// page that failed.
aio::Task<std::optional<StateCount>> count_planned(std::string state, std::size_t total, FetchedPage first,
                                                   http::Client* client, CountOptions options,
                                                   ProcessPool* pool) {
  const std::string url = breweries_url(options);
  const std::size_t pages = total / page_size + 1;
  std::vector<aio::Task<FetchedPage>> fetches;
  fetches.reserve(pages - 1);
  for (std::size_t page = 2; page <= pages; ++page)
    fetches.push_back(fetch_page(client, url, state, page, false, pool));
  auto fetching = aio::gather(std::move(fetches));
  std::vector<FetchedPage> fetched = co_await std::move(fetching);
  fetched.insert(fetched.begin(), std::move(first));
  std::unordered_set<std::uint64_t> ids;
  for (std::size_t i = 0; i < pages; ++i) {
    const std::size_t expected = i + 1 < pages ? page_size : total % page_size;
    if (fetched[i].count.rows != expected) co_return std::nullopt;
    for (const std::uint64_t id : fetched[i].count.ids)
      if (!ids.insert(id).second) co_return std::nullopt;
  }
  Tally tally{state, options};
  for (auto& page : fetched)
    (void)tally.add(std::move(page.count));
  StateCount counted = tally.take();
  counted.planned = true;
  co_return counted;
}

/// The meta's answer, asked for once and awaited by every state.
using PendingTotals = std::optional<aio::TaskHandle<StateTotals>>;

/// GET {api}/breweries/meta started on the loop when options.plan_from_meta.
PendingTotals start_meta(http::Client* client, const CountOptions& options) {
  if (!options.plan_from_meta) return std::nullopt;
  return aio::create_task(fetch_state_totals(client, breweries_url(options)));
}

/// Waits for `meta` to end, whatever its outcome: the client it uses must outlive it.
aio::Task<void> settle(PendingTotals meta) {
  if (!meta) co_return;
  try {
    auto waiting = aio::shield(*meta);
    (void)co_await std::move(waiting);
  } catch (const std::exception&) {  // each state that awaited it has its error already
  }
}

/// count_async, its pages counted on `pool` when there is one (else on the loop): page 1 goes out
/// at once (every count needs it), beside the meta; then the rest as planned, or one by one.
aio::Task<StateCount> count_pages(std::string state, http::Client* client, CountOptions options,
                                  ProcessPool* pool, PendingTotals meta) {
  if (!meta) {
    auto counting = count_one_by_one(std::move(state), client, std::move(options), pool, std::nullopt);
    co_return co_await std::move(counting);
  }
  auto first_page = fetch_page(client, breweries_url(options), state, 1, false, pool);
  FetchedPage first = co_await std::move(first_page);
  auto waiting = aio::shield(*meta);
  const StateTotals totals = co_await std::move(waiting);
  if (!totals) {  // no plan: on from page 2
    auto counting = count_one_by_one(std::move(state), client, std::move(options), pool, std::move(first));
    co_return co_await std::move(counting);
  }
  const std::uint64_t total = listed_total(totals, state);
  if (total / page_size + 1 > options.max_pages) {  // no plan of that many pages: on from page 2
    auto counting = count_one_by_one(std::move(state), client, std::move(options), pool, std::move(first));
    co_return co_await std::move(counting);
  }
  auto planned =
      count_planned(state, static_cast<std::size_t>(total), std::move(first), client, options, pool);
  if (std::optional<StateCount> counted = co_await std::move(planned)) co_return std::move(*counted);
  // The pages disagree with the meta: page by page from page 1.
  auto counting = count_one_by_one(std::move(state), client, std::move(options), pool, std::nullopt);
  co_return co_await std::move(counting);
}

aio::Task<StateCount> limited_count(std::string state, http::Client* client, aio::Semaphore* limit,
                                    CountOptions options, ProcessPool* pool, PendingTotals meta) {
  std::optional<aio::Semaphore::Guard> permit;
  if (limit != nullptr) {
    auto hold = limit->hold();
    permit.emplace(co_await std::move(hold));
  }
  auto counting = count_pages(std::move(state), client, std::move(options), pool, std::move(meta));
  co_return co_await std::move(counting);
}

/// count_states_async, the pages counted on `pool` when there is one.
aio::Task<std::vector<Outcome<StateCount>>> count_states(std::vector<std::string> states,
                                                         CountOptions options, std::size_t concurrency,
                                                         ProcessPool* pool) {
  const std::size_t in_flight = concurrency == 0 ? states.size() : std::min(concurrency, states.size());
  // Two connections per state in flight: a planned state fetches its pages at once (the 51 states
  // take 71 pages), and a page waiting for a connection costs a whole round trip.
  options.http.max_connections_per_host = std::max(options.http.max_connections_per_host, 2 * in_flight);
  const aio::Executor loop = co_await aio::this_loop();
  http::Client client{loop, options.http};
  std::optional<aio::Semaphore> limit;
  if (concurrency != 0) limit.emplace(concurrency);
  const PendingTotals meta = start_meta(&client, options);  // one meta for every state
  std::vector<aio::Task<StateCount>> tasks;
  tasks.reserve(states.size());
  for (auto& state : states)
    tasks.push_back(limited_count(std::move(state), &client, limit ? &*limit : nullptr, options, pool, meta));
  auto all = aio::gather(std::move(tasks), aio::return_exceptions);
  auto results = co_await std::move(all);
  auto settling = settle(meta);
  co_await std::move(settling);
  co_return results;
}

}  // namespace

CountError::CountError(std::string state, std::size_t page, const std::string& detail)
    : std::runtime_error(state + ": page " + std::to_string(page) + ": " + detail),
      state_(std::move(state)),
      page_(page) {}

http::Params page_params(const std::string& state, std::size_t page) {
  return {{"by_state", state}, {"per_page", std::to_string(page_size)}, {"page", std::to_string(page)}};
}

PageCount count_page(std::string_view body, std::string_view state) {
  PageSax sax{state};
  const bool parsed = Json::sax_parse(body, &sax);
  if (!parsed) throw std::invalid_argument(sax.error().empty() ? "malformed JSON" : sax.error());
  return sax.count();
}

StateCount count(const std::string& state, const CountOptions& options) {
  http::SyncClient client{options.http};
  const std::string url = breweries_url(options);
  const auto fetch = [&](std::size_t page, bool new_connection) {
    try {
      return client.request(page_request(url, state, page, new_connection));
    } catch (const http::HttpError& e) {
      throw CountError(state, page, e.what());
    } catch (const http::TimeoutError& e) {
      throw CountError(state, page, e.what());
    }
  };
  Tally tally{state, options};
  for (;;) {
    const std::size_t page = tally.next_page();
    const http::Response response = fetch(page, false);
    if (!tally.add(read_page(response, state, page))) continue;
    if (response.connection_reused) tally.confirm(read_page(fetch(page, true), state, page));
    return tally.take();
  }
}

aio::Task<StateCount> count_async(std::string state, http::Client* client, CountOptions options) {
  const PendingTotals meta = start_meta(client, options);
  std::optional<StateCount> counted;
  std::exception_ptr failure;
  try {
    auto counting = count_pages(std::move(state), client, std::move(options), nullptr, meta);
    counted = co_await std::move(counting);
  } catch (...) {
    failure = std::current_exception();
  }
  auto settling = settle(meta);
  co_await std::move(settling);
  if (failure) std::rethrow_exception(failure);
  co_return std::move(*counted);
}

aio::Task<StateCount> count_async(std::string state, CountOptions options) {
  http::Client client{co_await aio::this_loop(), options.http};
  auto counting = count_async(std::move(state), &client, std::move(options));
  co_return co_await std::move(counting);
}

aio::Task<StateCount> async_get_brewery_count(std::string state, CountOptions options) {
  return aio::to_thread([](const std::string& s, const CountOptions& o) { return count(s, o); },
                        std::move(state), std::move(options));
}

aio::Task<std::vector<StateCount>> get_brewery_counts_for_states(std::vector<std::string> states,
                                                                 CountOptions options) {
  std::vector<aio::Task<StateCount>> tasks;
  tasks.reserve(states.size());
  for (auto& state : states)
    tasks.push_back(async_get_brewery_count(std::move(state), options));
  auto all = aio::gather(std::move(tasks));
  co_return co_await std::move(all);
}

aio::Task<std::vector<Outcome<StateCount>>> count_states_async(std::vector<std::string> states,
                                                               CountOptions options,
                                                               std::size_t concurrency) {
  return count_states(std::move(states), std::move(options), concurrency, nullptr);
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::serial:
      return "serial";
    case Mode::to_thread:
      return "to_thread";
    case Mode::async:
      return "async";
    case Mode::process:
      return "process";
  }
  return "?";
}

std::optional<Mode> parse_mode(std::string_view name) {
  for (const Mode mode : {Mode::serial, Mode::to_thread, Mode::async, Mode::process})
    if (mode_name(mode) == name) return mode;
  return std::nullopt;
}

bool ModeRun::ok() const {
  return std::all_of(results.begin(), results.end(), [](const Outcome<StateCount>& r) { return r.ok(); });
}

std::size_t ModeRun::planned() const {
  return static_cast<std::size_t>(
      std::count_if(results.begin(), results.end(),
                    [](const Outcome<StateCount>& r) { return r.ok() && r.value().planned; }));
}

std::size_t ModeRun::pages() const {
  std::size_t n = 0;
  for (const auto& r : results)
    if (r.ok()) n += r.value().pages;
  return n;
}

ModeRun run_mode(Mode mode, const std::vector<std::string>& states, const CountOptions& options,
                 std::size_t concurrency) {
  ModeRun run;
  run.mode = mode;
  std::optional<ProcessPool> pool;  // started before the clock: the mode times the counting
  if (mode == Mode::process) pool.emplace();
  const auto start = Clock::now();
  switch (mode) {
    case Mode::serial:
      run.results.reserve(states.size());
      for (const auto& state : states) {
        try {
          run.results.push_back(Outcome<StateCount>::success(count(state, options)));
        } catch (...) {
          run.results.push_back(Outcome<StateCount>::failure(std::current_exception()));
        }
      }
      break;
    case Mode::to_thread:
      run.results = aio::run(to_thread_all(states, options));
      break;
    case Mode::async:
      run.results = aio::run(count_states_async(states, options, concurrency));
      break;
    case Mode::process:
      run.results = aio::run(count_states(states, options, concurrency, &*pool));
      break;
  }
  run.elapsed = Clock::now() - start;
  return run;
}

void probe_api(const CountOptions& options) {
  const std::string url = breweries_url(options);
  http::Response response;
  try {
    response = http::SyncClient{options.http}.get(url, {{"per_page", "1"}});
  } catch (const http::TimeoutError& e) {
    throw ApiUnavailable(ProbeFailure::timeout, e.what());
  } catch (const http::HttpError& e) {
    const auto reason = e.kind() == http::ErrorKind::tls       ? ProbeFailure::tls
                        : e.kind() == http::ErrorKind::connect ? ProbeFailure::unreachable
                                                               : ProbeFailure::not_the_api;
    throw ApiUnavailable(reason, e.what());
  }
  if (!response.ok())
    throw ApiUnavailable(ProbeFailure::not_the_api, "GET " + url + " answered " + status_detail(response));
  try {
    (void)count_page(response.body, "");
  } catch (const std::invalid_argument& e) {
    throw ApiUnavailable(ProbeFailure::not_the_api, "GET " + url + " answered " + e.what());
  }
}

double percent_faster(double serial_seconds, double async_seconds) {
  if (!(serial_seconds > 0))
    throw std::invalid_argument("percent_faster: the serial time must be positive (got " +
                                std::to_string(serial_seconds) + ")");
  return 100 * (serial_seconds - async_seconds) / serial_seconds;
}

std::string result_sentence(double serial_seconds, double async_seconds) {
  return fmt::format("async version was {:.2f}% faster than the serial version",
                     percent_faster(serial_seconds, async_seconds));
}

std::string async_json(std::string_view result, std::string_view host) {
  return "{\"result\": " + lab::py_json_string(result) + ", \"host\": " + lab::py_json_string(host) + "}";
}

}  // namespace parlab::brewery
