#include "bench/harness/measure.hpp"

#include <exception>
#include <set>

namespace parlab::bench {

std::vector<Point> plan(const Workload& w, const Settings& c) {
  std::vector<Point> points;
  std::set<std::size_t> cols(c.sweep_workers.begin(), c.sweep_workers.end());
  cols.insert(c.main_workers);
  points.push_back({Cid::serial, 1, 0, true});
  // The main table first, then the sweeps.
  for (const Cid id :
       {Cid::parlab, Cid::openmp, Cid::tbb, Cid::std_par, Cid::serial_into, Cid::parlab_map_into,
        Cid::openmp_into, Cid::tbb_into, Cid::std_par_into, Cid::process_pool})
    if (w.runs(id)) points.push_back({id, id == Cid::serial_into ? 1 : c.main_workers, 0, true});
  for (const Cid id :
       {Cid::parlab, Cid::openmp, Cid::tbb, Cid::std_par, Cid::parlab_map_into, Cid::process_pool}) {
    if (!w.runs(id)) continue;
    for (const auto n : cols)
      if (n != c.main_workers) points.push_back({id, n, 0, false});
  }
  if (w.sweeps_chunksize() && w.runs(Cid::parlab)) {
    const std::size_t automatic = w.auto_chunksize(c.main_workers);
    for (std::size_t chunk = 1; chunk < automatic; chunk *= 10)
      points.push_back({Cid::parlab, c.main_workers, chunk, false});
  }
  return points;
}

void run_once(Workload& w, const Point& p, Team& team, Result& r, bool warmup) {
  if (r.status == Status::failed) return;
  try {
    const auto outcome = w.run(p.id, team, p.chunksize);
    (warmup ? r.warmup_s : r.samples_s).push_back(outcome.seconds);
    if (!outcome.correct && r.status == Status::ok) {
      r.status = Status::wrong;
      r.verified = false;
      r.note = outcome.problem;
    }
  } catch (const std::exception& e) {
    r.status = Status::failed;
    r.verified = false;
    r.note = e.what();
  }
}

}  // namespace parlab::bench
