#include "lab/workloads.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "lab/pyrepr.hpp"

namespace parlab::lab {

namespace {

__extension__ using Uint128 = unsigned __int128;

int bit_width_64(uint64_t value) { return static_cast<int>(std::bit_width(value)); }

int bit_width_128(Uint128 value) {
  const auto high = static_cast<uint64_t>(value >> 64);
  if (high != 0) {
    return 64 + bit_width_64(high);
  }
  return bit_width_64(static_cast<uint64_t>(value));
}

/// `a / b` correctly rounded (to nearest, ties to even), as Python's int true division.
double divide_correctly_rounded(uint64_t a, uint64_t b) {
  if (a == 0) {
    return 0.0;
  }
  // Scale a so that the quotient has at least 62 significant bits, then round once.
  const int scale = 127 - bit_width_64(a);
  const Uint128 numerator = static_cast<Uint128>(a) << scale;
  Uint128 quotient = numerator / b;
  const bool inexact = numerator % b != 0;
  const int shift = bit_width_128(quotient) - 53;
  const Uint128 rest = quotient & ((Uint128{1} << shift) - 1);
  const Uint128 half = Uint128{1} << (shift - 1);
  quotient >>= shift;
  if (rest > half || (rest == half && (inexact || (quotient & 1) != 0))) {
    ++quotient;
  }
  return std::ldexp(static_cast<double>(static_cast<uint64_t>(quotient)), shift - scale);
}

std::mutex& log_mutex() {
  static std::mutex mutex;
  return mutex;
}

void write_line(std::ostream* log, const std::string& line) {
  if (log == nullptr) {
    return;
  }
  const std::lock_guard lock(log_mutex());
  log->write(line.data(), static_cast<std::streamsize>(line.size()));
  log->flush();
}

std::string fixed3(double value) {
  std::array<char, 64> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, 3);
  return {buf.data(), result.ptr};
}

/// CPU time this thread has used, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Burns `seconds` of this thread's CPU time: a fixed amount of work, so threads that share a
/// core take longer in wall time, as real CPU-bound work does.
void spin_for_cpu(double seconds) {
  // The volatile store keeps the arithmetic observable, so the loop cannot be deleted.
  volatile uint64_t sink = 0;
  uint64_t x = 0x9e3779b97f4a7c15U;
  const double until = thread_cpu_seconds() + seconds;
  do {
    for (int i = 0; i < 4096; ++i) {
      x = x * 6364136223846793005U + 1442695040888963407U;
    }
    sink = x;
  } while (thread_cpu_seconds() < until);
  static_cast<void>(sink);
}

}  // namespace

int howmany_within_range(const std::vector<int64_t>& row, int64_t minimum, int64_t maximum) {
  return static_cast<int>(
      std::count_if(row.begin(), row.end(), [=](int64_t n) { return minimum <= n && n <= maximum; }));
}

int howmany_within_range_rowonly(const std::vector<int64_t>& row) { return howmany_within_range(row, 4, 8); }

std::vector<int64_t> common_items(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> sorted_b = b;
  std::sort(sorted_b.begin(), sorted_b.end());
  std::vector<int64_t> out;
  for (const int64_t x : a) {
    if (std::binary_search(sorted_b.begin(), sorted_b.end(), x)) {
      out.push_back(x);
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> prob1_list_a() { return {{1, 2, 3}, {5, 6, 7, 8}, {10, 11, 12}, {20, 21}}; }

std::vector<std::vector<int64_t>> prob1_list_b() {
  return {{2, 3, 4, 5}, {6, 9, 10}, {11, 12, 13, 14}, {21, 24, 25}};
}

double busy_work(double seconds, BusyMode mode, std::ostream* log) {
  if (!std::isfinite(seconds) || seconds < 0.0 || seconds > busy_work_max_seconds) {
    throw std::invalid_argument("busy_work: seconds must be finite, >= 0 and <= " +
                                py_str(busy_work_max_seconds) + ", got " + py_str(seconds));
  }
  std::ostringstream who;
  who << "Process " << ::getpid() << " (thread " << std::this_thread::get_id() << ")";
  write_line(log, who.str() + ": busy for " + py_str(seconds) + " s (" +
                      (mode == BusyMode::sleep ? "sleep" : "spin") + ")\n");

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  // Round the duration up so that the deadline is never before start + seconds.
  const auto deadline = start + std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(seconds));
  if (mode == BusyMode::sleep) {
    while (Clock::now() < deadline) {
      std::this_thread::sleep_until(deadline);
    }
  } else {
    spin_for_cpu(seconds);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  write_line(log, who.str() + ": done in " + fixed3(elapsed) + " s\n");
  return elapsed;
}

std::vector<double> normalize(const std::vector<int64_t>& row) {
  if (row.empty()) {
    throw std::invalid_argument("normalize: empty row (min and max are undefined)");
  }
  const auto [min_it, max_it] = std::minmax_element(row.begin(), row.end());
  std::vector<double> out(row.size(), 0.0);
  if (*min_it == *max_it) {
    return out;
  }
  // x - min and max - min are exact in uint64_t (0 <= x - min <= max - min < 2**64).
  const auto min = static_cast<uint64_t>(*min_it);
  const uint64_t span = static_cast<uint64_t>(*max_it) - min;
  if (span <= (uint64_t{1} << 53)) {
    // Every difference is exact in a double, so one IEEE division is Python's result.
    const auto span_d = static_cast<double>(span);
    for (size_t i = 0; i < row.size(); ++i) {
      out[i] = static_cast<double>(static_cast<uint64_t>(row[i]) - min) / span_d;
    }
  } else {
    for (size_t i = 0; i < row.size(); ++i) {
      out[i] = divide_correctly_rounded(static_cast<uint64_t>(row[i]) - min, span);
    }
  }
  return out;
}

std::vector<double> normalize(const std::vector<double>& row) {
  if (row.empty()) {
    throw std::invalid_argument("normalize: empty row (min and max are undefined)");
  }
  double min = row.front();
  double max = row.front();
  for (const double x : row) {
    if (x < min) {
      min = x;
    }
    if (x > max) {
      max = x;
    }
  }
  std::vector<double> out(row.size(), 0.0);
  if (min == max) {
    return out;
  }
  for (size_t i = 0; i < row.size(); ++i) {
    out[i] = (row[i] - min) / (max - min);
  }
  return out;
}

}  // namespace parlab::lab
