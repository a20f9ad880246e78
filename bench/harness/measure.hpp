#pragma once
/// \file
/// One measurement of `parlab bench`: the points a workload is measured at, and the runs of one
/// point (warm-ups until steady, then the timed runs, every output checked).

#include "bench/harness/model.hpp"
#include "bench/harness/settings.hpp"
#include "bench/harness/workloads.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace parlab::bench {

/// One measurement to make.
struct Point {
  Cid id;
  std::size_t workers;
  std::size_t chunksize;  ///< 0: automatic (parlab rows)
  bool main;              ///< a main-table row
};

/// The measurements of one workload, serial first (its output is the reference).
[[nodiscard]] std::vector<Point> plan(const Workload& w, const Settings& settings);

/// One timed run of `p` into `r`; a wrong output or an exception marks the row.
void run_once(Workload& w, const Point& p, Team& team, Result& r, bool warmup);

/// Warm-up runs of `p` until the block is in its steady state (two runs in a row within 10% of
/// each other, at least `warmup` and at most `warmup_max`: first calls fault in fresh memory,
/// start threads, fill caches), then `runs` timed runs; `tick` after each run.
template <class Tick>
void warm_and_time(Workload& w, const Point& p, Team& team, Result& r, std::size_t warmup,
                   std::size_t warmup_max, std::size_t runs, Tick&& tick) {
  const std::size_t before = r.warmup_s.size();
  for (;;) {
    run_once(w, p, team, r, true);
    tick();
    const std::size_t n = r.warmup_s.size() - before;
    if (r.status == Status::failed || n >= warmup_max) break;
    if (n >= warmup) {
      const double a = r.warmup_s[r.warmup_s.size() - 1], b = r.warmup_s[r.warmup_s.size() - 2];
      if (std::abs(a - b) <= 0.1 * std::max(a, b)) break;
    }
  }
  for (std::size_t i = 0; i < runs; ++i) {
    run_once(w, p, team, r, false);
    tick();
  }
}

/// The note of a row whose function cannot be sent to another process.
inline constexpr const char* cannot_send_note =
    "this workload's function captures state, so it cannot be sent to a worker process";

}  // namespace parlab::bench
