#include "bench/harness/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>

namespace parlab::bench {

const std::vector<ContenderSpec>& contender_specs() {
  static const std::vector<ContenderSpec> specs{
      {Cid::serial, "serial", "serial C++",
       "a plain loop on one thread into a std::vector allocated per call: out[i] = f(in[i])", false, false},
      {Cid::parlab, "parlab", "parlab Pool.map",
       "parlab::Pool::map: returns a new std::vector, like Python's Pool.map", true, false},
      {Cid::openmp, "openmp", "OpenMP", "#pragma omp parallel for into a std::vector allocated per call",
       true, false},
      {Cid::tbb, "tbb", "oneTBB",
       "tbb::parallel_for over a blocked_range into a std::vector allocated per call", true, false},
      {Cid::std_par, "std_par", "std::execution::par",
       "std::transform(std::execution::par, ...) (libstdc++ on oneTBB) into a std::vector allocated per call",
       true, false},
      {Cid::serial_into, "serial_into", "serial C++, into",
       "the serial loop writing into a preallocated vector", false, true},
      {Cid::parlab_map_into, "parlab_map_into", "parlab map_into",
       "parlab::Pool::map_into: writes into the caller's preallocated vector", true, true},
      {Cid::openmp_into, "openmp_into", "OpenMP, into", "OpenMP writing into a preallocated vector", true,
       true},
      {Cid::tbb_into, "tbb_into", "oneTBB, into", "oneTBB writing into a preallocated vector", true, true},
      {Cid::std_par_into, "std_par_into", "std::execution::par, into",
       "std::transform(std::execution::par) into a preallocated vector", true, true},
      {Cid::python_serial, "python_serial", "Python serial",
       "the notebook's function in a Python loop, [f(x) for x in data] (bench/python/workloads.py)", false,
       false},
      {Cid::python_pool, "python_pool", "Python Pool.map",
       "the notebook's multiprocessing.Pool(cpu_count).map(f, data) (bench/python/workloads.py)", true,
       false},
      {Cid::process_pool, "process_pool", "parlab ProcessPool",
       "parlab::ProcessPool::map: worker processes, arguments and results sent through codec.hpp (cereal); "
       "returns a new std::vector, like Python's Pool.map",
       true, false},
      {Cid::mpi_pool_np2, "mpi_pool_np2", "parlab MpiPool -np 2",
       "parlab::MpiPool::map in a child job, mpirun -np 2 parlab bench --mpi-child: rank 0 drives, 1 worker "
       "rank; arguments and results sent through codec.hpp (cereal) over MPI",
       true, false},
      {Cid::mpi_pool_np3, "mpi_pool_np3", "parlab MpiPool -np 3",
       "parlab::MpiPool::map in a child job, mpirun -np 3 parlab bench --mpi-child: rank 0 drives, 2 worker "
       "ranks; arguments and results sent through codec.hpp (cereal) over MPI",
       true, false},
  };
  return specs;
}

const ContenderSpec& spec(Cid id) {
  for (const auto& s : contender_specs())
    if (s.id == id) return s;
  throw std::logic_error("parlab bench: unknown contender");
}

double Result::median() const {
  if (samples_s.empty()) return 0;
  auto v = samples_s;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Result::min() const {
  return samples_s.empty() ? 0 : *std::min_element(samples_s.begin(), samples_s.end());
}

double Result::max() const {
  return samples_s.empty() ? 0 : *std::max_element(samples_s.begin(), samples_s.end());
}

double Latency::quantile(double q) const {
  if (samples_s.empty()) return 0;
  auto v = samples_s;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  const std::size_t k = std::min(v.size() - 1, rank > 0 ? rank - 1 : 0);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double Latency::mean() const {
  if (samples_s.empty()) return 0;
  double sum = 0;
  for (const double s : samples_s)
    sum += s;
  return sum / static_cast<double>(samples_s.size());
}

const Contender& Run::contender(Cid id) const {
  for (const auto& c : contenders)
    if (c.id == id) return c;
  throw std::logic_error("parlab bench: contender missing from the run");
}

const Result* Run::find(std::string_view workload, Cid id, std::size_t workers) const {
  for (const auto& r : results)
    if (r.workload == workload && r.contender == id && r.workers == workers &&
        (!r.chunksize || r.chunksize_auto))
      return &r;
  return nullptr;
}

const Result* Run::main(std::string_view workload, Cid id) const {
  for (const auto& r : results)
    if (r.workload == workload && r.contender == id && r.main) return &r;
  return nullptr;
}

const Latency* Run::latency_of(Cid id) const {
  for (const auto& l : latency)
    if (l.contender == id) return &l;
  return nullptr;
}

}  // namespace parlab::bench
