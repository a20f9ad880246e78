#include "bench/harness/engine.hpp"

#include "bench/harness/measure.hpp"
#include "lab/usage_error.hpp"

#if defined(PARLAB_HAS_MPI)
#include <parlab/mpi_pool.hpp>
#endif

#include <algorithm>
#include <iostream>
#include <stdexcept>

namespace parlab::bench {

#if defined(PARLAB_HAS_MPI)
namespace {

/// Rank 0's measurement of one workload on the job's MpiPool, as the parent measures its own rows.
Result measure_on_ranks(Workload& w, const std::string& key, Cid id, std::size_t workers, const Settings& c) {
  Result r;
  r.workload = key;
  r.contender = id;
  r.workers = workers;
  r.verified = true;
  if (!w.runs(id)) {
    r.status = Status::skipped;
    r.note = cannot_send_note;
    return r;
  }
  w.prepare();
  try {
    Team serial_team{{Cid::serial}, 1};
    Result reference;
    run_once(w, {Cid::serial, 1, 0, true}, serial_team, reference, true);  // the reference output
    if (reference.status != Status::ok) throw std::runtime_error("serial C++ reference: " + reference.note);
    Team team{{id}, workers};
    warm_and_time(w, {id, workers, 0, true}, team, r, c.warmup, mpi_warmup_max(c), c.repeat, [] {});
  } catch (const std::exception& e) {
    r.status = Status::failed;
    r.note = e.what();
  }
  w.release();
  return r;
}

/// The child job's report: {"ranks", "workers", "results": [...]}.
Json measure_workloads(const Options& o) {
  const Settings c = mode_settings(o);
  const auto ranks = static_cast<std::size_t>(parlab::MpiPool::ranks());
  if (ranks < 2)
    throw std::runtime_error("--mpi-child needs worker ranks: run it under mpirun -np N, N >= 2");
  const std::size_t workers = ranks - 1;
  const Cid id = ranks == 2 ? Cid::mpi_pool_np2 : Cid::mpi_pool_np3;
  Json out = Json::object();
  out["ranks"] = ranks;
  out["workers"] = workers;
  Json results = Json::array();
  auto workloads = make_workloads(c.sizes);
  for (const auto& key : o.workloads) {
    const auto it =
        std::find_if(workloads.begin(), workloads.end(), [&](const auto& w) { return w->info().key == key; });
    if (it == workloads.end()) throw std::runtime_error("--mpi-child: unknown workload '" + key + "'");
    const Result r = measure_on_ranks(**it, key, id, workers, c);
    results.push_back({{"workload", key},
                       {"status", status_name(r.status)},
                       {"note", r.note},
                       {"workers", workers},
                       {"warmup_s", r.warmup_s},
                       {"samples_s", r.samples_s}});
  }
  out["results"] = std::move(results);
  return out;
}

}  // namespace
#endif

int run_mpi_child(const Options& o) {
#if defined(PARLAB_HAS_MPI)
  parlab::MpiPool::start();  // worker ranks serve from here and never return
  Json out;
  try {
    out = measure_workloads(o);
  } catch (const std::exception& e) {
    out = Json{{"error", e.what()}};
  }
  std::cout << out.dump() << std::endl;
  return 0;
#else
  static_cast<void>(o);
  throw lab::UsageError("--mpi-child: MpiPool is not in this build of parlab");
#endif
}

}  // namespace parlab::bench
