#pragma once
/// \file
/// PoolBackend: what BasicPool requires of the backend that runs its chunks of calls
/// (ThreadBackend, ProcessBackend, MpiBackend; docs/design.md shows where each one plugs in).

#include <concepts>
#include <cstddef>
#include <exception>
#include <stop_token>

namespace parlab::detail {

/// Stand-ins for what a job hands to Backend::run, to check that run accepts it. Declared only:
/// they appear in requires-expressions, never in a call.
namespace backend_archetype {
/// The task: a plain function, which every backend can run.
using Fn = int (*)(int);
/// `at(i)`: item i of the chunk.
struct At {
  int& operator()(std::size_t i);
};
/// Where run reports each item.
struct Sink {
  void value(std::size_t i, int&& result);
  /// A task that returns nothing succeeded.
  void value(std::size_t i);
  void error(std::size_t i, std::exception_ptr error);
  /// Item i did not run, or was stopped, because the job stopped: not an error of the item.
  void cancelled(std::size_t i);
  /// The job's stop: requested by AsyncResult::cancel() or a fail-fast map's first error.
  std::stop_token stop_token() const;
};
}  // namespace backend_archetype

/// What BasicPool<B> requires of its backend B. BasicPool's scheduler (scheduler.hpp) owns the
/// worker threads and the queue of jobs; a job (map_job.hpp, apply_job.hpp, imap_job.hpp) hands
/// each chunk it claims to the backend, which only runs it.
///
/// - `B(workers, args...)`: made with the pool's worker count and the arguments given to
///   BasicPool's constructor after it (checked there, since they vary by backend).
/// - `b.default_chunksize(items, workers)`: items per chunk of a map whose caller gives none.
/// - `b.run(fn, at, begin, end, sink)`: runs fn on items [begin, end), `at(i)` giving item i, and
///   reports every item once before it returns: `sink.value(i, result)`, `sink.value(i)` when fn
///   returns void, or `sink.error(i, exception)`. It must not throw (it runs on a worker thread):
///   a failure of the backend (a dead worker, terminate()) is the error of the items it hit.
///   Once `sink.stop_token().stop_requested()`, run reports the items it has not started with
///   `sink.cancelled(i)` (it checks before each item, or each batch it sends away) and stops
///   the running ones if it can, reporting them cancelled too: Pool hands the token to a task
///   that takes one, ProcessPool kills the worker process (it watches the token at least every
///   few milliseconds while `stop_possible()`), MpiPool lets a batch already sent finish. The
///   pool's worker threads call it, several at once, one chunk per thread at a time;
///   `current_worker_index()` (scheduler.hpp) tells them apart, so a backend can give each
///   thread its own worker process or rank. run is a template over fn, at and sink: the concept
///   checks that it takes a plain function with int items; which other functions and item types
///   it takes, run's own static_asserts say (run_remote in remote_call.hpp, for the backends
///   that send calls away).
/// - `b.terminate()`: Pool::terminate() after the queue was dropped; the backend may stop the
///   chunks it is running (their items fail with PoolTerminated) or let them finish.
/// - `b.shutdown()`: Pool::join() after the worker threads exited; the backend lets its own
///   workers go.
/// - Optionally `b.check_callable(fn)` (ChecksCallable).
template <class B>
concept PoolBackend = std::destructible<B> &&
    requires(B& backend, std::size_t n, backend_archetype::Fn& fn, backend_archetype::At& at,
             backend_archetype::Sink& sink) {
  { backend.default_chunksize(n, n) } -> std::convertible_to<std::size_t>;
  backend.run(fn, at, n, n, sink);
  backend.terminate();
  backend.shutdown();
};

/// A backend that must find the function elsewhere (another process, another rank) checks it on
/// the caller's thread, before any work is queued, and throws for one it cannot run.
template <class B, class Fn>
concept ChecksCallable = requires(const B& backend, const Fn& fn) {
  backend.check_callable(fn);
};

}  // namespace parlab::detail
