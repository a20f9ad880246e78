#pragma once
/// \file
/// parlab::map_reduce — MapReduce over any pool (Pool, ProcessPool, MpiPool): a map phase on the
/// pool, an optional combiner in the same task as the mapper, a shuffle by key in the caller, and
/// a reduce phase on the pool.

#include "parlab/detail/remote_call.hpp"
#include "parlab/pool.hpp"

#include <concepts>
#include <cstddef>
#include <functional>
#include <map>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace parlab {

/// How map_reduce splits and reports its two phases.
struct MapReduceOptions {
  /// Inputs per chunk a worker claims in the map phase (0: the pool's default, as for map).
  std::size_t chunksize = 0;
  /// Keys per chunk a worker claims in the reduce phase (0: the pool's default, as for map).
  std::size_t reduce_chunksize = 0;
  /// Map phase: called after each chunk with (inputs done, inputs), as MapOptions::progress.
  decltype(MapOptions::progress) progress{};
  /// Reduce phase: called after each chunk with (keys done, distinct keys).
  decltype(MapOptions::progress) reduce_progress{};
};

namespace detail {

/// Combiner slot of a map task that has none.
struct NoCombiner {};

/// What a mapper returns: std::vector<std::pair<K, V>>.
template <class T>
struct KeyValues {
  static constexpr bool ok = false;
  using key = int;
  using value = int;
};
template <class K, class V>
struct KeyValues<std::vector<std::pair<K, V>>> {
  static constexpr bool ok = true;
  using key = K;
  using value = V;
};

/// The mapper's result for the elements of Inputs (int when it cannot be called with them, so
/// that only map_reduce's own message reports the mistake).
template <class Mapper, class Inputs,
          bool = std::is_invocable_v<Mapper&, std::ranges::range_reference_t<Inputs>>>
struct MapperOutput {
  using type = std::decay_t<std::invoke_result_t<Mapper&, std::ranges::range_reference_t<Inputs>>>;
};
template <class Mapper, class Inputs>
struct MapperOutput<Mapper, Inputs, false> {
  using type = int;
};

/// The reducer's result for key K and values V (void when it cannot be called with them).
template <class Reducer, class K, class V, bool = std::is_invocable_v<Reducer&, const K&, std::vector<V>&&>>
struct ReducerOutput {
  using type = std::decay_t<std::invoke_result_t<Reducer&, const K&, std::vector<V>&&>>;
};
template <class Reducer, class K, class V>
struct ReducerOutput<Reducer, K, V, false> {
  using type = void;
};

/// Pools whose tasks run in this process (worker threads), where any callable works.
template <class P>
inline constexpr bool in_process_pool = std::is_base_of_v<BasicPool<ThreadBackend>, P>;

/// Groups `pairs` by key (in key order, values in their order) and folds each group with
/// `combiner` into one value.
template <class Combiner, class K, class V>
std::vector<std::pair<K, V>> combine_pairs(Combiner& combiner, std::vector<std::pair<K, V>>&& pairs) {
  std::map<K, std::vector<V>> groups;
  for (auto& [key, value] : pairs)
    groups[std::move(key)].push_back(std::move(value));
  std::vector<std::pair<K, V>> out;
  out.reserve(groups.size());
  while (!groups.empty()) {
    auto node = groups.extract(groups.begin());
    V folded = std::invoke(combiner, std::as_const(node.key()), std::move(node.mapped()));
    out.emplace_back(std::move(node.key()), std::move(folded));
  }
  return out;
}

/// The map task: the mapper, then (if any) the combiner on that task's pairs, in the worker.
/// Empty when the mapper and combiner are, so a process pool can rebuild it from its type.
template <class Mapper, class Combiner>
struct MapTask {
  [[no_unique_address]] Mapper mapper;
  [[no_unique_address]] Combiner combiner;
  template <class Input>
  auto operator()(Input&& input) {
    auto pairs = std::invoke(mapper, std::forward<Input>(input));
    if constexpr (std::is_same_v<Combiner, NoCombiner>) {
      return pairs;
    } else {
      return combine_pairs(combiner, std::move(pairs));
    }
  }
};

/// The reduce task: the reducer on one key and all its values (moved in).
template <class Reducer, class K, class V>
struct ReduceTask {
  [[no_unique_address]] Reducer reducer;
  auto operator()(std::pair<K, std::vector<V>>& group) {
    return std::invoke(reducer, std::as_const(group.first), std::move(group.second));
  }
};

template <class PoolT, class Inputs, class Mapper, class Combiner, class Reducer>
auto run_map_reduce(PoolT& pool, Inputs&& inputs, Mapper mapper, Combiner combiner, Reducer reducer,
                    MapReduceOptions options) {
  constexpr bool has_combiner = !std::is_same_v<Combiner, NoCombiner>;
  using MapOut = typename MapperOutput<Mapper, Inputs>::type;
  using K = typename KeyValues<MapOut>::key;
  using V = typename KeyValues<MapOut>::value;
  using R = typename ReducerOutput<Reducer, K, V>::type;

  static_assert(std::is_invocable_v<Mapper&, std::ranges::range_reference_t<Inputs>>,
                "parlab::map_reduce: the mapper cannot be called with an element of the inputs");
  static_assert(
      !std::is_invocable_v<Mapper&, std::ranges::range_reference_t<Inputs>> || KeyValues<MapOut>::ok,
      "parlab::map_reduce: the mapper must return std::vector<std::pair<Key, Value>>");
  constexpr bool combiner_ok = [] {
    if constexpr (!has_combiner) {
      return true;
    } else if constexpr (std::is_invocable_v<Combiner&, const K&, std::vector<V>&&>) {
      return std::is_convertible_v<std::invoke_result_t<Combiner&, const K&, std::vector<V>&&>, V>;
    } else {
      return false;
    }
  }();
  static_assert(
      !KeyValues<MapOut>::ok || combiner_ok,
      "parlab::map_reduce: the combiner must be callable as combiner(const Key&, std::vector<Value>) "
      "and return a Value");
  static_assert(
      !KeyValues<MapOut>::ok || std::is_invocable_v<Reducer&, const K&, std::vector<V>&&>,
      "parlab::map_reduce: the reducer must be callable as reducer(const Key&, std::vector<Value>)");
  static_assert(!KeyValues<MapOut>::ok || !std::is_invocable_v<Reducer&, const K&, std::vector<V>&&> ||
                    !std::is_void_v<R>,
                "parlab::map_reduce: the reducer must return a value");
  static_assert(!KeyValues<MapOut>::ok || std::totally_ordered<K>,
                "parlab::map_reduce: keys are sorted (std::map): the key type needs operator<");
  static_assert(
      in_process_pool<PoolT> || (Rebuildable<Mapper> && Rebuildable<Combiner> && Rebuildable<Reducer>),
      "parlab::map_reduce on a process pool (ProcessPool, MpiPool) rebuilds the mapper, combiner and "
      "reducer in the worker from their types: pass captureless lambdas or empty function objects "
      "(wrap a plain function in a lambda: [](const In& x) { return f(x); })");

  if constexpr (KeyValues<MapOut>::ok && combiner_ok && !std::is_void_v<R> && std::totally_ordered<K> &&
                (in_process_pool<PoolT> ||
                 (Rebuildable<Mapper> && Rebuildable<Combiner> && Rebuildable<Reducer>))) {
    // Map (and combine) on the pool.
    MapOptions map_options;
    map_options.chunksize = options.chunksize;
    map_options.progress = std::move(options.progress);
    std::vector<std::vector<std::pair<K, V>>> mapped =
        pool.map(MapTask<Mapper, Combiner>{std::move(mapper), std::move(combiner)},
                 std::forward<Inputs>(inputs), std::move(map_options));

    // Shuffle here: keys sorted, each key's values in input order.
    std::map<K, std::vector<V>> groups;
    for (auto& task : mapped) {
      for (auto& [key, value] : task)
        groups[std::move(key)].push_back(std::move(value));
      std::vector<std::pair<K, V>>().swap(task);
    }
    std::vector<std::pair<K, std::vector<V>>> shuffled;
    shuffled.reserve(groups.size());
    while (!groups.empty()) {
      auto node = groups.extract(groups.begin());
      shuffled.emplace_back(std::move(node.key()), std::move(node.mapped()));
    }

    // Reduce on the pool; the keys stay here and are put beside their results.
    MapOptions reduce_options;
    reduce_options.chunksize = options.reduce_chunksize;
    reduce_options.progress = std::move(options.reduce_progress);
    std::vector<R> reduced =
        pool.map(ReduceTask<Reducer, K, V>{std::move(reducer)}, shuffled, std::move(reduce_options));
    std::map<K, R> out;
    for (std::size_t i = 0; i < shuffled.size(); ++i)
      out.emplace_hint(out.end(), std::move(shuffled[i].first), std::move(reduced[i]));
    return out;
  } else {
    return std::map<K, int>{};  // unreachable: a static_assert above has failed
  }
}

}  // namespace detail

/// MapReduce on `pool`: `mapper(input)` returns a std::vector<std::pair<Key, Value>> for each
/// input (map phase, pool.map); the pairs are grouped by key here (shuffle); then
/// `reducer(const Key&, std::vector<Value>)` runs once per distinct key (reduce phase, pool.map)
/// and returns that key's Result (the values are moved in: it may take them by value). Returns
/// std::map<Key, Result>: sorted by key, each reducer seeing its key's values in input order.
/// Empty input gives an empty map.
///
/// Errors: a mapper that throws makes map_reduce throw the pool's TaskError whose index() is the
/// input's position (the reduce phase does not run); a reducer that throws, a TaskError whose
/// index() is the key's position among the distinct keys in sorted order.
///
/// On a Pool any callables work (they may hold state, shared by the worker threads). On a process
/// pool (ProcessPool, MpiPool) the mapper, combiner and reducer must be captureless lambdas or
/// empty function objects — a compile-time error says so otherwise — and inputs, keys, values and
/// results must cross the process boundary (parlab/codec.hpp).
template <class PoolT, std::ranges::input_range Inputs, class Mapper, class Reducer>
auto map_reduce(PoolT& pool, Inputs&& inputs, Mapper mapper, Reducer reducer, MapReduceOptions options = {}) {
  return detail::run_map_reduce(pool, std::forward<Inputs>(inputs), std::move(mapper), detail::NoCombiner{},
                                std::move(reducer), std::move(options));
}

/// map_reduce with a combiner: `combiner(const Key&, std::vector<Value>)` returns one Value. It
/// runs in the map task itself, on the worker, right after the mapper (Hadoop's combiner): it
/// folds that input's values of each key, so fewer pairs come back to the shuffle. The reducer
/// then sees one combined value per input that emitted the key (in input order), so a combiner
/// suits a reducer that gives the same answer on partial results (sums, counts, minima). On a
/// process pool it too must be a captureless lambda or an empty function object.
template <class PoolT, std::ranges::input_range Inputs, class Mapper, class Combiner, class Reducer>
requires(!std::same_as<std::remove_cvref_t<Reducer>, MapReduceOptions>) auto map_reduce(
    PoolT& pool, Inputs&& inputs, Mapper mapper, Combiner combiner, Reducer reducer,
    MapReduceOptions options = {}) {
  return detail::run_map_reduce(pool, std::forward<Inputs>(inputs), std::move(mapper), std::move(combiner),
                                std::move(reducer), std::move(options));
}

}  // namespace parlab
