// aio_brewery_pool: both halves of the lab from one event loop. The brewery task's pages are
// fetched natively async (parlab::http) from the Open Brewery DB replica this program starts on
// 127.0.0.1, so it runs offline; each page, as it arrives, is handed to a ProcessPool that parses
// and counts it (aio::run_in_executor) while the other states' fetches are in flight. The totals
// are the lab's: the program checks them against brewery::count_states_async, the natively async
// mode of `parlab brewery`.
//
// Every line printed is fixed (the replica's port and the timings are never printed), and the
// program checks its own results (exit 1 on a wrong one).

#include "check.hpp"
#include "lab/brewery/client.hpp"
#include "lab/brewery/dataset.hpp"
#include "lab/brewery/replica_server.hpp"
#include "lab/brewery/states.hpp"

#include <parlab/aio.hpp>
#include <parlab/aio_pool.hpp>
#include <parlab/http.hpp>
#include <parlab/process_pool.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aio = parlab::aio;
namespace brewery = parlab::brewery;
namespace http = parlab::http;
using namespace std::chrono_literals;

namespace {

/// What the pool makes of one page: the lab's two counts, and the rows by brewery type.
struct PageTally {
  std::size_t rows = 0;        // breweries on the page (the seed's count)
  std::size_t exact_rows = 0;  // those whose state_province is the state itself
  std::map<std::string, std::size_t> by_type;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(rows, exact_rows, by_type);
  }
};

// The CPU half, in a worker process: a plain function, so it can cross to one. count_page is the
// lab's own page counter.
PageTally tally_page(std::string body, std::string state) {
  const brewery::PageCount counted = brewery::count_page(body, state);
  PageTally tally{counted.rows, counted.exact_rows, {}};
  for (const auto& row : nlohmann::json::parse(body)) {
    const auto& type = row["brewery_type"];
    ++tally.by_type[type.is_string() ? type.get<std::string>() : "unknown"];
  }
  return tally;
}

/// One state's totals.
struct StateTotals {
  std::string state;
  std::size_t pages = 0;
  PageTally tally;
};

/// Requests in flight on the loop, and the most there were when a page went to the pool.
struct Overlap {
  int fetching = 0;
  int most_fetching_at_handoff = 0;
};

// The I/O half, on the loop: page after page of one state, each page's tally awaited from the
// pool while the loop goes on with the other states' requests.
aio::Task<StateTotals> count_state(std::string state, std::string url, http::Client* client,
                                   parlab::ProcessPool* pool, Overlap* overlap) {
  StateTotals totals{state, 0, {}};
  for (;;) {
    auto get = client->get(url, brewery::page_params(state, totals.pages + 1));
    ++overlap->fetching;
    http::Response page = co_await std::move(get);
    --overlap->fetching;
    page.raise_for_status();
    ++totals.pages;
    overlap->most_fetching_at_handoff = std::max(overlap->most_fetching_at_handoff, overlap->fetching);
    // Python: await loop.run_in_executor(process_pool, tally_page, page.text, state)
    PageTally tally = co_await aio::run_in_executor(*pool, tally_page, std::move(page.body), state);
    totals.tally.rows += tally.rows;
    totals.tally.exact_rows += tally.exact_rows;
    for (const auto& [type, n] : tally.by_type)
      totals.tally.by_type[type] += n;
    if (tally.rows < brewery::page_size) co_return totals;  // the seed's last-page rule
  }
}

aio::Task<std::vector<StateTotals>> count_all(std::string api, parlab::ProcessPool* pool, Overlap* overlap) {
  const aio::Executor loop = co_await aio::this_loop();
  http::Client client{loop};
  std::vector<aio::Task<StateTotals>> states;
  for (const std::string_view state : brewery::seed_states())
    states.push_back(count_state(std::string(state), api + "/breweries", &client, pool, overlap));
  auto all = aio::gather(std::move(states));  // every state at once, on one loop
  co_return co_await std::move(all);
}

}  // namespace

int main() {
  parlab::ProcessPool pool{2};  // before any thread of the replica: workers fork from a quiet process

  brewery::ServerOptions options;
  options.data = std::make_shared<const brewery::Dataset>(
      brewery::Dataset::load(brewery::locate_dataset(brewery::DataSearch::from_environment())));
  options.latency = 20ms;
  options.jitter = 0ms;
  options.rate_limit = std::nullopt;
  brewery::ReplicaServer replica{options};
  replica.start();
  const std::string api = replica.url() + "/v1";

  Overlap overlap;
  const std::vector<StateTotals> totals = aio::run(count_all(api, &pool, &overlap));

  std::size_t all_rows = 0;
  std::size_t all_pages = 0;
  for (const StateTotals& t : totals) {
    std::cout << t.state << ": " << t.tally.rows << " breweries (" << t.tally.exact_rows
              << " in the state itself), pages fetched: " << t.pages << "; by type:";
    for (const auto& [type, n] : t.tally.by_type)
      std::cout << ' ' << type << '=' << n;
    std::cout << '\n';
    all_rows += t.tally.rows;
    all_pages += t.pages;
  }
  std::cout << "total: " << all_rows << " breweries, pages fetched: " << all_pages
            << ", counted on a ProcessPool of " << pool.size() << " workers\n";
  // The four states start together, so the first page to arrive goes to the pool while the
  // other three requests are still out.
  check(overlap.most_fetching_at_handoff >= 1, "a page went to the pool while other fetches were in flight");
  std::cout << "pages went to the pool while other states' fetches were in flight\n";

  // The lab's brewery task (native async, exact counts) over the same states gives the same numbers.
  std::vector<std::string> states(brewery::seed_states().begin(), brewery::seed_states().end());
  brewery::CountOptions lab_options;
  lab_options.api = api;
  lab_options.exact = true;
  const auto lab = aio::run(brewery::count_states_async(states, lab_options));
  check(lab.size() == totals.size(), "one count per state");
  for (std::size_t i = 0; i < lab.size(); ++i) {
    const brewery::StateCount& expected = lab[i].value();
    check(expected.brewery_count == totals[i].tally.rows, "the lab's count");
    check(expected.exact_count == totals[i].tally.exact_rows, "the lab's exact count");
    check(expected.pages == totals[i].pages, "the lab's pages");
    std::size_t typed = 0;
    for (const auto& [type, n] : totals[i].tally.by_type)
      typed += n;
    check(typed == totals[i].tally.rows, "every row has a type");
  }
  std::cout << "the lab's brewery task (native async) counts the same\n";
  replica.stop();
}
