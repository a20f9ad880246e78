#pragma once
/// \file
/// The seed's brewery-async.py as code: count a state's breweries by paging through the Open Brewery
/// DB v1 API — blocking (count), natively async (count_async), and the seed's shape (to_thread +
/// gather) — plus the three timed modes `parlab brewery` compares and async.json's text.

#include <parlab/aio.hpp>
#include <parlab/http.hpp>
#include <parlab/outcome.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parlab::brewery {

/// The public Open Brewery DB v1 API (the seed's).
inline constexpr std::string_view public_api_url = "https://api.openbrewerydb.org/v1";

/// Rows per page the client asks for: the API's maximum, as the seed does.
inline constexpr std::size_t page_size = 200;

/// The largest body the count accepts: a full page of 200 breweries is about 100 KB, so 4 MiB is
/// 40 pages' worth; a larger answer is no page, and 51 states in flight must not hold 51 times the
/// HTTP client's default 64 MiB.
inline constexpr std::size_t max_page_bytes = std::size_t{4} << 20;

/// Where and how the client counts.
struct CountOptions {
  /// The v1 API's base URL: pages are GET {api}/breweries?by_state=S&per_page=200&page=N.
  std::string api{public_api_url};
  /// Also count the rows whose state_province is the state itself (see StateCount::exact_count).
  bool exact = false;
  /// Timeouts, retries (with Retry-After), connections per host, ca_file, rate limit of the HTTP
  /// client; its defaults but max_body_bytes = max_page_bytes.
  http::ClientOptions http{.max_body_bytes = max_page_bytes};
  /// Pages a state may take: a server that never sends a short page (or repeats its pages under new
  /// ids) is an error after this many full pages, not a count that runs for ever. 500 pages are
  /// 100,000 breweries; the whole Open Brewery DB holds about 11,800.
  std::size_t max_pages = 500;
  /// Native async only (count_async, count_states_async, Mode::async, Mode::process): one GET
  /// {api}/breweries/meta gives every state's total, and a state's pages are fetched all at once,
  /// checked against it (see count_async). false: page after page, as the seed does.
  bool plan_from_meta = true;
};

/// One state's count.
struct StateCount {
  std::string state;              ///< as asked: the by_state value sent
  std::size_t brewery_count = 0;  ///< rows the API returned, the seed's number: by_state is a substring
                                  ///< match, so "virginia" also counts West Virginia's breweries
  std::optional<std::size_t> exact_count{};  ///< with CountOptions::exact: the rows whose state_province
                                             ///< equals the state (same_state), e.g. 255 for virginia
  std::size_t pages = 0;                     ///< pages fetched, the last (short or empty) one included
  /// The count came from pages planned from /breweries/meta and fetched at once (see count_async);
  /// false when they were fetched one after another.
  bool planned = false;

  /// Two counts are equal when they count the same: how the pages were fetched is not compared.
  bool operator==(const StateCount& other) const {
    return state == other.state && brewery_count == other.brewery_count && exact_count == other.exact_count &&
           pages == other.pages;
  }
};

/// A state's count could not be established: a page failed after the HTTP client's retries (no
/// connection, timeout, TLS, or a final non-2xx status); its body is not a JSON array of breweries;
/// a brewery id came back a second time (a server that ignores page=); more than
/// CountOptions::max_pages pages; or the last page answered differently when it was asked again on
/// a new connection. Never a smaller count instead. what() reads "maryland: page 2: <why>".
class CountError : public std::runtime_error {
 public:
  CountError(std::string state, std::size_t page, const std::string& detail);
  /// The state being counted.
  [[nodiscard]] const std::string& state() const noexcept { return state_; }
  /// The page that failed (1-based).
  [[nodiscard]] std::size_t page() const noexcept { return page_; }

 private:
  std::string state_;
  std::size_t page_;
};

/// The query of one page: by_state, per_page=200 and page.
[[nodiscard]] http::Params page_params(const std::string& state, std::size_t page);

/// What one page held.
struct PageCount {
  std::size_t rows = 0;        ///< breweries on the page
  std::size_t exact_rows = 0;  ///< those whose state_province is the state (same_state)
  /// A 64-bit hash (FNV-1a) of each string "id" on the page, in order; breweries without one have
  /// none. The pages of a state must not share an id.
  std::vector<std::uint64_t> ids{};
  /// cereal: a PageCount crosses to a ProcessPool's worker and back (Mode::process).
  template <class Archive>
  void serialize(Archive& archive) {
    archive(rows, exact_rows, ids);
  }
  bool operator==(const PageCount&) const = default;
};

/// Counts a page's body: it must be a JSON array of objects (breweries). Throws
/// std::invalid_argument saying what is wrong (malformed JSON, not an array, an element that is no
/// object, a state_province that is neither a string nor null).
[[nodiscard]] PageCount count_page(std::string_view body, std::string_view state);

/// The seed's get_brewery_count, blocking (Python's requests): pages through the API from page 1,
/// adding each page's length, until a page is empty or shorter than 200. One keep-alive
/// connection per call. When the last page came on that connection after others, it is asked
/// again on a new one and must come back the same: HTTP/1.1 cannot tell a page's answer from a
/// response the server sent unasked, and a stray short answer would end the count early.
/// Throws CountError.
[[nodiscard]] StateCount count(const std::string& state, const CountOptions& options = {});

/// count() natively async on `client` (an http::Client of the running loop, which must outlive the
/// task; options.http is then the client's business, not read). With CountOptions::plan_from_meta,
/// one GET {api}/breweries/meta gives the breweries of every state_province ("by_state"); those
/// that by_state=S matches (LIKE '%S%', as the list filters) add up to the state's total T, hence
/// its pages: T / 200 + 1, the last one short (empty when T is a multiple of 200). Page 1 goes out
/// beside the meta, the others at once when it has come, and each must hold what T says (200 rows,
/// and T % 200 on the last) with no brewery twice. When they do not (the data changed since the
/// meta, or an answer was not its page's), the state is counted again page after page from page 1,
/// as the seed does; when the meta is none to plan from (an error, no JSON object, a by_state that
/// is no object of whole numbers, a T past max_pages) it goes on so from page 1. Either way the
/// count is the seed's.
[[nodiscard]] aio::Task<StateCount> count_async(std::string state, http::Client* client,
                                                CountOptions options);

/// count_async with an http::Client of its own.
[[nodiscard]] aio::Task<StateCount> count_async(std::string state, CountOptions options = {});

/// The seed's async_get_brewery_count: count() on the loop's default executor (asyncio.to_thread /
/// run_in_executor).
[[nodiscard]] aio::Task<StateCount> async_get_brewery_count(std::string state, CountOptions options = {});

/// The seed's get_brewery_counts_for_states: aio::gather over async_get_brewery_count, results in
/// input order; the first failure cancels the wait for the others and is rethrown, as
/// asyncio.gather raises.
[[nodiscard]] aio::Task<std::vector<StateCount>> get_brewery_counts_for_states(
    std::vector<std::string> states, CountOptions options = {});

/// Every state counted natively async on one http::Client, planned from one /breweries/meta for all
/// of them (see count_async): at most `concurrency` states in flight
/// (0: all at once) over two connections per state in flight (a planned state fetches its pages at
/// once), or options.http.max_connections_per_host when that is more. Each state's count or error,
/// in input order.
[[nodiscard]] aio::Task<std::vector<Outcome<StateCount>>> count_states_async(std::vector<std::string> states,
                                                                             CountOptions options,
                                                                             std::size_t concurrency = 0);

/// The ways `parlab brewery` counts a list of states.
enum class Mode {
  serial,     ///< count() for one state after the other (the seed's serial version)
  to_thread,  ///< the seed's async version: count() in the default executor, gathered
  async,      ///< native async: count_async on one event loop (count_states_async)
  process,    ///< native async fetches, and each page counted on a ProcessPool as it arrives
              ///< (aio::run_in_executor), while the loop fetches the other pages
};

/// "serial", "to_thread", "async" or "process".
[[nodiscard]] std::string_view mode_name(Mode mode);
/// The mode called `name`, or nullopt.
[[nodiscard]] std::optional<Mode> parse_mode(std::string_view name);

/// One timed run of a mode over a list of states.
struct ModeRun {
  Mode mode = Mode::serial;
  std::vector<Outcome<StateCount>> results{};  ///< each state's count or error, in input order
  std::chrono::duration<double> elapsed{};     ///< wall time of the whole run

  /// Whether every state was counted.
  [[nodiscard]] bool ok() const;
  /// Pages fetched by the states that were counted.
  [[nodiscard]] std::size_t pages() const;
  /// States counted from a plan (StateCount::planned).
  [[nodiscard]] std::size_t planned() const;
};

/// Runs `mode` over `states` and times it. Every state gets its count or its error (a failure
/// cancels nothing). `concurrency` caps the async mode's states in flight (0: all); the to_thread mode
/// uses the default executor's min(32, cpu_count() + 4) threads, as Python does.
[[nodiscard]] ModeRun run_mode(Mode mode, const std::vector<std::string>& states, const CountOptions& options,
                               std::size_t concurrency = 0);

/// Why probe_api failed.
enum class ProbeFailure {
  unreachable,  ///< no connection (DNS, refused, unreachable, connect timeout, dropped)
  tls,          ///< TLS handshake or certificate verification failed
  timeout,      ///< connected, but no answer in time
  not_the_api,  ///< an answer that the Open Brewery DB v1 API would not give
};

/// The API cannot be used; what() says why (without advice: the caller knows its flags).
class ApiUnavailable : public std::runtime_error {
 public:
  ApiUnavailable(ProbeFailure reason, const std::string& message)
      : std::runtime_error(message), reason_(reason) {}
  [[nodiscard]] ProbeFailure reason() const noexcept { return reason_; }

 private:
  ProbeFailure reason_;
};

/// One GET {api}/breweries?per_page=1 with options.http (its retries included): returns when it
/// answers 2xx with a JSON array, else throws ApiUnavailable. Run before timing, so that an
/// unreachable API is one clear error instead of one per state.
void probe_api(const CountOptions& options);

/// faster = 100 * (serial - async) / serial, the seed's formula. Throws std::invalid_argument when
/// serial_seconds is not positive.
[[nodiscard]] double percent_faster(double serial_seconds, double async_seconds);

/// The seed's sentence, with Python's f"{faster:0.2f}": "async version was 49.92% faster than the
/// serial version" (a negative number when async was slower).
[[nodiscard]] std::string result_sentence(double serial_seconds, double async_seconds);

/// async.json's text as the seed writes it, json.dumps({"result": ..., "host": ...}) with the
/// default separators and ensure_ascii, no newline at the end.
[[nodiscard]] std::string async_json(std::string_view result, std::string_view host);

}  // namespace parlab::brewery
