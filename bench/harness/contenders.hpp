#pragma once
/// \file
/// The contenders of `parlab bench`: one map over a vector (out[i] = f(in[i])) done by a serial
/// loop, parlab::Pool, OpenMP, oneTBB and std::execution::par, each written the way a user of
/// that tool would write it. Every "alloc" form returns a fresh std::vector, as Pool::map does;
/// every "into" form writes into a vector the caller allocated, as Pool::map_into does.
///
/// Compiled into the `parlab` command with OpenMP / oneTBB when CMake found them
/// (PARLAB_BENCH_OPENMP, PARLAB_BENCH_TBB, PARLAB_BENCH_STD_PAR).

#include <parlab/codec.hpp>
#include <parlab/pool.hpp>
#include <parlab/process_pool.hpp>
#if defined(PARLAB_HAS_MPI)
#include <parlab/mpi_pool.hpp>
#endif

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(PARLAB_BENCH_TBB)
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#endif
#if defined(PARLAB_BENCH_STD_PAR)
#include <algorithm>
#include <execution>
#endif

namespace parlab::bench {

/// How a loop's items cost: the same (static split) or very different (hand out one at a time).
enum class Balance { uniform, uneven };

/// What f returns for an element of `In`.
template <class In, class F>
using result_of_t = std::decay_t<std::invoke_result_t<const F&, const In&>>;

/// Whether this build's Pool has map_into (the lead added it while the harness was written;
/// the row appears when it is there, and says "not built" when it is not).
template <class P, class F, class In, class Out>
concept HasMapInto = requires(P& pool, F f, const std::vector<In>& in, std::vector<Out>& out,
                              MapOptions options) {
  pool.map_into(f, in, out, options);
};

// ---- serial -------------------------------------------------------------------------------

template <class In, class F, class R>
void serial_into(const std::vector<In>& in, const F& f, std::vector<R>& out) {
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(in[i]);
}

/// The serial loop: a sized vector, then out[i] = f(in[i]) — the parallel rows' loop on one
/// thread. (reserve + push_back is the other natural form; its capacity check per item keeps
/// the compiler from vectorising the trivial task, which made it 2x slower than this.)
template <class In, class F>
std::vector<result_of_t<In, F>> serial_alloc(const std::vector<In>& in, const F& f) {
  std::vector<result_of_t<In, F>> out(in.size());
  serial_into(in, f, out);
  return out;
}

// ---- parlab::Pool -------------------------------------------------------------------------

/// Pool::map with `chunksize` (0 = automatic).
template <class In, class F>
std::vector<result_of_t<In, F>> parlab_alloc(Pool& pool, const std::vector<In>& in, const F& f,
                                             std::size_t chunksize) {
  return pool.map(f, in, MapOptions{.chunksize = chunksize});
}

template <class In, class F, class R>
void parlab_into(Pool& pool, const std::vector<In>& in, const F& f, std::vector<R>& out,
                 std::size_t chunksize) {
  if constexpr (HasMapInto<Pool, F, In, R>) {
    pool.map_into(f, in, out, MapOptions{.chunksize = chunksize});
  } else {
    static_cast<void>(pool), static_cast<void>(in), static_cast<void>(f), static_cast<void>(out),
        static_cast<void>(chunksize);
  }
}

// ---- parlab::ProcessPool ------------------------------------------------------------------

/// Whether ProcessPool can run f over a vector of `In`: f is a plain function or a captureless
/// lambda (it is rebuilt in the worker process), and its argument and result travel by codec.hpp.
template <class In, class F>
concept ProcessMappable =
    detail::RemoteFn<F>::sendable && codec::Serializable<In> && codec::Serializable<result_of_t<In, F>>;

/// ProcessPool::map with automatic chunks: returns a new std::vector, like Python's Pool.map
/// (for ProcessMappable<In, F> only).
template <class In, class F>
std::vector<result_of_t<In, F>> process_alloc(ProcessPool& pool, const std::vector<In>& in, const F& f) {
  return pool.map(f, in);
}

// ---- parlab::MpiPool ----------------------------------------------------------------------

#if defined(PARLAB_HAS_MPI)
/// MpiPool::map with automatic chunks (rank 0 of an mpirun job; ProcessMappable<In, F> only:
/// MpiPool sends a function and its data the way ProcessPool does).
template <class In, class F>
std::vector<result_of_t<In, F>> mpi_alloc(MpiPool& pool, const std::vector<In>& in, const F& f) {
  return pool.map(f, in);
}
#endif

// ---- OpenMP -------------------------------------------------------------------------------

#if defined(PARLAB_BENCH_OPENMP)
template <class In, class F, class R>
void openmp_into(const std::vector<In>& in, const F& f, std::vector<R>& out, int threads, Balance balance) {
  const std::size_t n = in.size();
  if (balance == Balance::uniform) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::size_t i = 0; i < n; ++i)
      out[i] = f(in[i]);
  } else {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (std::size_t i = 0; i < n; ++i)
      out[i] = f(in[i]);
  }
}

template <class In, class F>
std::vector<result_of_t<In, F>> openmp_alloc(const std::vector<In>& in, const F& f, int threads,
                                             Balance balance) {
  std::vector<result_of_t<In, F>> out(in.size());
  openmp_into(in, f, out, threads, balance);
  return out;
}
#endif

// ---- oneTBB and std::execution::par (libstdc++ runs it on oneTBB) --------------------------

#if defined(PARLAB_BENCH_TBB)
/// A oneTBB arena of exactly `threads` threads, also when that is more than the cores (the
/// global_control lifts oneTBB's default cap of one thread per core for the sweep).
class TbbTeam {
 public:
  explicit TbbTeam(int threads)
      : control_(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads)),
        arena_(threads) {}
  template <class Fn>
  void run(Fn&& fn) {
    arena_.execute(std::forward<Fn>(fn));
  }

 private:
  tbb::global_control control_;
  tbb::task_arena arena_;
};

template <class In, class F, class R>
void tbb_into(TbbTeam& team, const std::vector<In>& in, const F& f, std::vector<R>& out) {
  team.run([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, in.size()),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        for (std::size_t i = r.begin(); i != r.end(); ++i)
                          out[i] = f(in[i]);
                      });
  });
}

template <class In, class F>
std::vector<result_of_t<In, F>> tbb_alloc(TbbTeam& team, const std::vector<In>& in, const F& f) {
  std::vector<result_of_t<In, F>> out(in.size());
  tbb_into(team, in, f, out);
  return out;
}
#endif

#if defined(PARLAB_BENCH_STD_PAR)
template <class In, class F, class R>
void std_par_into(TbbTeam& team, const std::vector<In>& in, const F& f, std::vector<R>& out) {
  team.run([&] { std::transform(std::execution::par, in.begin(), in.end(), out.begin(), f); });
}

template <class In, class F>
std::vector<result_of_t<In, F>> std_par_alloc(TbbTeam& team, const std::vector<In>& in, const F& f) {
  std::vector<result_of_t<In, F>> out(in.size());
  std_par_into(team, in, f, out);
  return out;
}
#endif

}  // namespace parlab::bench
