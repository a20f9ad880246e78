#pragma once
/// \file
/// The lab notebook's worker functions: counting values in a range, common items of two
/// rows (Problem 1), busy work (Problem 2) and min-max normalisation (Problem 3).

#include <cstdint>
#include <iostream>
#include <vector>

namespace parlab::lab {

/// How many values n of `row` satisfy `minimum <= n <= maximum`.
int howmany_within_range(const std::vector<int64_t>& row, int64_t minimum, int64_t maximum);

/// `howmany_within_range(row, 4, 8)`: the notebook's one-argument variant for `Pool.map`.
int howmany_within_range_rowonly(const std::vector<int64_t>& row);

/// The items of `a` that are also in `b`, in `a`'s order (duplicates in `a` are kept), as
/// Python's `[x for x in a if x in b]`.
std::vector<int64_t> common_items(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

/// Problem 1's `list_a`: `[[1, 2, 3], [5, 6, 7, 8], [10, 11, 12], [20, 21]]`.
std::vector<std::vector<int64_t>> prob1_list_a();

/// Problem 1's `list_b`: `[[2, 3, 4, 5], [6, 9, 10], [11, 12, 13, 14], [21, 24, 25]]`.
std::vector<std::vector<int64_t>> prob1_list_b();

/// How `busy_work` spends its time.
enum class BusyMode {
  sleep,  ///< Sleep, like the lab's `time.sleep` (no CPU used).
  spin,   ///< Burn that much of the thread's CPU time: fixed work, slower when cores are shared.
};

/// The longest `busy_work` accepts, in seconds (about 116 days).
inline constexpr double busy_work_max_seconds = 1.0e7;

/// The lab's `do_busy_work`: writes a line with the process and thread id to `log`, sleeps
/// for `seconds` (or, for spin, burns `seconds` of CPU time), writes the elapsed time, and returns the
/// elapsed seconds measured with std::chrono::steady_clock (never less than `seconds`). Each line is one
/// write to `log`, serialised across all `busy_work` calls, so concurrent calls never interleave within a
/// line; `log == nullptr` writes nothing. Throws std::invalid_argument if `seconds` is negative, not finite
/// or above `busy_work_max_seconds`.
double busy_work(double seconds, BusyMode mode, std::ostream* log = &std::cout);

/// Min-max normalisation of an int row as the notebook's Python computes it:
/// `z = (x - min) / (max - min)`, with Python's exact integer differences and correctly
/// rounded int/int division (identical to plain double arithmetic while max - min <= 2**53);
/// a row whose values are all equal gives all 0.0. Throws std::invalid_argument if empty.
std::vector<double> normalize(const std::vector<int64_t>& row);

/// Min-max normalisation of a float row, in double arithmetic as Python does it, with
/// Python's `min`/`max` semantics (first of equal elements; NaN only wins in first place).
/// All-equal values give all 0.0. Throws std::invalid_argument if `row` is empty.
std::vector<double> normalize(const std::vector<double>& row);

}  // namespace parlab::lab
