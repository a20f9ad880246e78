#pragma once
/// \file
/// `parlab brewery`'s command line: the seed's brewery-async.py — count breweries per state through
/// the Open Brewery DB API serially, the seed's way (to_thread + gather) and natively async; write
/// async.json.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace parlab::cli {

/// The command line of `parlab brewery`, as parsed (validated by run_brewery_command).
struct BreweryOptions {
  CLI::App* command = nullptr;      ///< the subcommand, to ask whether it was given
  std::vector<std::string> states;  ///< --states; empty: the seed's four
  std::string api;                  ///< --api URL or "embedded"; empty: the public API
  std::vector<std::string> modes{"serial", "to_thread", "async"};
  std::int64_t concurrency = 0;  ///< --concurrency N: async mode's states in flight; 0: all
  bool exact = false;
  bool one_by_one = false;  ///< --one-by-one: native async pages one after another (no /breweries/meta)
  std::string cacert;
  bool allow_unknown = false;
  std::string out = ".";
  std::string data;        ///< --data FILE for --api embedded; empty: the search order of docs/brewery.md
  std::string rate_limit;  ///< --rate-limit N/s, N/min, N/h or off; empty: 120/min, off for embedded
};

/// Adds the `brewery` subcommand to `app`; CLI11 fills `options` when it parses.
void add_brewery_command(CLI::App& app, BreweryOptions& options);

/// Whether `parlab brewery` was the subcommand given.
[[nodiscard]] bool brewery_selected(const BreweryOptions& options);

/// Runs `parlab brewery`: 0 when every state was counted, 1 when the API cannot be used or a state
/// failed (one line per failure on stderr; async.json is then not written), 2 for bad input (one
/// line on stderr, nothing written).
[[nodiscard]] int run_brewery_command(const BreweryOptions& options);

}  // namespace parlab::cli
