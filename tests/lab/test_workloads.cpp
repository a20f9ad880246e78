// Expected values recorded from CPython 3.11.2 with numpy 1.24.2 (/usr/bin/python3), using
// the notebook's  def normalize(r): mn, mx = min(r), max(r); return [0.0]*len(r) if mx == mn
//                 else [(x - mn) / (mx - mn) for x in r]
#include "lab/workloads.hpp"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lab/numpy_random.hpp"
#include "lab/pyrepr.hpp"

namespace {

using namespace parlab::lab;
using Ints = std::vector<int64_t>;
using Rows = std::vector<Ints>;

std::string read_expected(const std::string& name) {
  const std::string path = std::string(PARLAB_LAB_TEST_DATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  return text;
}

std::string normalize_rows_str(const Rows& rows) {
  std::vector<std::vector<double>> out;
  for (const auto& row : rows) {
    out.push_back(normalize(row));
  }
  return py_str(out);
}

// Parses "Process <pid> (thread <id>): <tail>" and returns the tail. (std::regex is avoided:
// g++ 12 reports false maybe-uninitialized warnings in it under the sanitizers.)
std::optional<std::string> busy_line_tail(std::string_view line) {
  const auto skip = [&line](std::string_view text) {
    if (line.substr(0, text.size()) != text) {
      return false;
    }
    line.remove_prefix(text.size());
    return true;
  };
  const auto skip_digits = [&line] {
    size_t n = 0;
    while (n < line.size() && line[n] >= '0' && line[n] <= '9') {
      ++n;
    }
    line.remove_prefix(n);
    return n > 0;
  };
  if (skip("Process ") && skip_digits() && skip(" (thread ") && skip_digits() && skip("): ")) {
    return std::string(line);
  }
  return std::nullopt;
}

// True for "done in <digits>.<3 digits> s".
bool is_done_tail(std::string_view tail) {
  if (tail.substr(0, 8) != "done in " || tail.size() < 8 + 7 || tail.substr(tail.size() - 2) != " s") {
    return false;
  }
  const std::string_view number = tail.substr(8, tail.size() - 10);
  const size_t dot = number.find('.');
  return dot != std::string_view::npos && dot > 0 && number.size() - dot - 1 == 3 &&
         std::all_of(number.begin(), number.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Seconds the calling thread has been runnable (running, or queued for a CPU), from Linux's
// /proc/thread-self/schedstat; nullopt where the kernel does not provide it.
std::optional<double> thread_runnable_seconds() {
  std::ifstream in("/proc/thread-self/schedstat");
  uint64_t run_ns = 0;
  uint64_t wait_ns = 0;
  if (!(in >> run_ns >> wait_ns)) {
    return std::nullopt;
  }
  return static_cast<double>(run_ns + wait_ns) * 1e-9;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(Workloads, HowmanyWithinRange) {
  EXPECT_EQ(howmany_within_range({8, 8, 3, 7, 7}, 4, 8), 4);
  EXPECT_EQ(howmany_within_range({4, 8, 3, 9}, 4, 8), 2);  // both bounds inclusive
  EXPECT_EQ(howmany_within_range({}, 4, 8), 0);
  EXPECT_EQ(howmany_within_range({-5, 0, 5}, -5, -5), 1);
  EXPECT_EQ(howmany_within_range({1, 2, 3}, 3, 1), 0);
  EXPECT_EQ(howmany_within_range_rowonly({0, 4, 8, 9, 6}), 3);
}

TEST(Workloads, HowmanyOnTheNotebookData) {
  RandomState rs(100);
  const auto rows = rs.randint_rows(0, 10, 1000000, 5);
  std::vector<int> counts;
  counts.reserve(rows.size());
  long long total = 0;
  for (const auto& row : rows) {
    counts.push_back(howmany_within_range(row, 4, 8));
    ASSERT_EQ(counts.back(), howmany_within_range_rowonly(row));
    total += counts.back();
  }
  EXPECT_EQ(std::vector<int>(counts.begin(), counts.begin() + 10),
            (std::vector<int>{4, 2, 1, 2, 3, 2, 2, 2, 2, 2}));
  EXPECT_EQ(total, 2500560);
}

TEST(Workloads, CommonItemsProblem1) {
  const auto a = prob1_list_a();
  const auto b = prob1_list_b();
  EXPECT_EQ(py_str(a), "[[1, 2, 3], [5, 6, 7, 8], [10, 11, 12], [20, 21]]");
  EXPECT_EQ(py_str(b), "[[2, 3, 4, 5], [6, 9, 10], [11, 12, 13, 14], [21, 24, 25]]");
  ASSERT_EQ(a.size(), b.size());
  Rows answer;
  for (size_t i = 0; i < a.size(); ++i) {
    answer.push_back(common_items(a[i], b[i]));
  }
  EXPECT_EQ(py_str(answer), "[[2, 3], [6], [11, 12], [21]]");
}

TEST(Workloads, CommonItemsKeepsOrderAndDuplicatesOfA) {
  EXPECT_EQ(common_items({3, 1, 2, 1}, {1, 3}), (Ints{3, 1, 1}));
  EXPECT_EQ(common_items({}, {1}), Ints{});
  EXPECT_EQ(common_items({1, 2}, {}), Ints{});
  EXPECT_EQ(common_items({5, -1, 7}, {7, 7, -1}), (Ints{-1, 7}));
}

TEST(Workloads, NormalizeSmallRows) {
  EXPECT_EQ(py_str(normalize(Ints{2, 3, 4, 5})), "[0.0, 0.3333333333333333, 0.6666666666666666, 1.0]");
  EXPECT_EQ(py_str(normalize(Ints{6, 9, 10, 12})), "[0.0, 0.5, 0.6666666666666666, 1.0]");
  EXPECT_EQ(py_str(normalize(Ints{11, 12, 13, 14})), "[0.0, 0.3333333333333333, 0.6666666666666666, 1.0]");
  EXPECT_EQ(py_str(normalize(Ints{21, 24, 25, 26})), "[0.0, 0.6, 0.8, 1.0]");
  EXPECT_EQ(py_str(normalize(Ints{100, 100, 100, 100})), "[0.0, 0.0, 0.0, 0.0]");
  EXPECT_EQ(py_str(normalize(Ints{7})), "[0.0]");
}

TEST(Workloads, NormalizeHugeIntsLikePython) {
  // Python subtracts ints exactly and rounds int / int once; converting to double first
  // would give 1.3322676295501873e-15 and 1.0 in the last row.
  EXPECT_EQ(py_str(normalize(Ints{0, (int64_t{1} << 60) + 1, 3, std::numeric_limits<int64_t>::max()})),
            "[0.0, 0.125, 3.2526065174565133e-19, 1.0]");
  EXPECT_EQ(py_str(normalize(Ints{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                                  12345678901234567, 0})),
            "[0.0, 1.0, 0.5006692605942763, 0.5]");
  EXPECT_EQ(py_str(normalize(Ints{-5, 7, 3, (int64_t{1} << 53) + 1, int64_t{1} << 53})),
            "[0.0, 1.332267629550187e-15, 8.881784197001246e-16, 1.0, 0.9999999999999999]");
}

TEST(Workloads, NormalizeFloatRows) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  using Doubles = std::vector<double>;
  EXPECT_EQ(py_str(normalize(Doubles{0.5, -1.25, 3.0, 1e-300})),
            "[0.4117647058823529, 0.0, 1.0, 0.29411764705882354]");
  EXPECT_EQ(py_str(normalize(Doubles{1.0, inf, 2.0})), "[0.0, nan, 0.0]");
  EXPECT_EQ(py_str(normalize(Doubles{3.0, 3.0})), "[0.0, 0.0]");
  EXPECT_EQ(py_str(normalize(Doubles{0.1, 0.2, 0.3})), "[0.0, 0.5000000000000001, 1.0]");
  EXPECT_EQ(py_str(normalize(Doubles{nan, 1.0, 2.0})), "[nan, nan, nan]");
  EXPECT_EQ(py_str(normalize(Doubles{1.0, nan, 2.0})), "[0.0, nan, 1.0]");
}

TEST(Workloads, NormalizeEmptyRowThrows) {
  EXPECT_THROW(normalize(Ints{}), std::invalid_argument);
  EXPECT_THROW(normalize(std::vector<double>{}), std::invalid_argument);
  try {
    normalize(Ints{});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("empty row"), std::string::npos) << e.what();
  }
}

TEST(Workloads, Prob3SmallFirstFiveRowsMatchPython) {
  // np.random.seed(42); rows = np.random.randint(0, 1000, size=(100, 50)).tolist()
  // str([normalize(r) for r in rows[:5]])
  RandomState rs(42);
  const auto small = rs.randint_rows(0, 1000, 100, 50);
  EXPECT_EQ(normalize_rows_str(Rows(small.begin(), small.begin() + 5)),
            read_expected("small_first5_expected.txt"));
}

TEST(Workloads, Prob3AnswerMatchesPython) {
  // np.random.seed(42), then sizes (100, 50), (1000, 50), (10000, 50), (50000, 100) and
  // XXL (100000, 100) from one stream; prob3 = str() of XXL's first 5 normalised rows.
  RandomState rs(42);
  std::vector<int64_t> discard(50000);
  for (const size_t count : {size_t{5000}, size_t{50000}, size_t{500000}, size_t{5000000}}) {
    for (size_t done = 0; done < count; done += discard.size()) {
      const size_t n = std::min(discard.size(), count - done);
      rs.randint_fill(0, 1000, std::span<int64_t>(discard.data(), n));
    }
  }
  // Later XXL rows come after these in the stream, so they do not change the first five.
  const auto xxl_head = rs.randint_rows(0, 1000, 5, 100);
  EXPECT_EQ(Ints(xxl_head[0].begin(), xxl_head[0].begin() + 10),
            (Ints{228, 43, 961, 647, 423, 971, 223, 361, 576, 60}));
  EXPECT_EQ(Ints(xxl_head[4].end() - 5, xxl_head[4].end()), (Ints{954, 662, 530, 195, 670}));
  EXPECT_EQ(normalize_rows_str(xxl_head), read_expected("prob3_expected.txt"));
}

TEST(Workloads, BusyWorkSleeps) {
  std::ostringstream log;
  const auto runnable_before = thread_runnable_seconds();
  const double cpu_before = thread_cpu_seconds();
  const double elapsed = busy_work(0.2, BusyMode::sleep, &log);
  const double cpu = thread_cpu_seconds() - cpu_before;
  EXPECT_GE(elapsed, 0.2);
  const auto runnable_after = thread_runnable_seconds();
  EXPECT_LT(cpu, 0.1) << "sleeping should not burn CPU";
  if (runnable_before && runnable_after) {
    EXPECT_LT(*runnable_after - *runnable_before, 0.5 * elapsed) << "sleeping should block";
  }
  const std::string text = log.str();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 2U) << text;
  EXPECT_EQ(busy_line_tail(lines[0]), "busy for 0.2 s (sleep)") << text;
  const auto done = busy_line_tail(lines[1]);
  ASSERT_TRUE(done.has_value()) << text;
  EXPECT_TRUE(is_done_tail(*done)) << text;
  EXPECT_NE(text.find("Process " + std::to_string(::getpid()) + " "), std::string::npos) << text;
}

TEST(Workloads, BusyWorkSpins) {
  std::ostringstream log;
  const auto runnable_before = thread_runnable_seconds();
  const double cpu_before = thread_cpu_seconds();
  const double elapsed = busy_work(0.2, BusyMode::spin, &log);
  const double cpu = thread_cpu_seconds() - cpu_before;
  const auto runnable_after = thread_runnable_seconds();
  EXPECT_GE(elapsed, 0.2);
  EXPECT_GT(cpu, 0.0);
  // Independent of machine load: a spinning thread never blocks, so it is runnable (on a
  // CPU or queued for one) for the whole call.
  if (runnable_before && runnable_after) {
    EXPECT_GE(*runnable_after - *runnable_before, 0.5 * elapsed) << "spinning should not block";
  }
  EXPECT_NE(log.str().find("busy for 0.2 s (spin)\n"), std::string::npos) << log.str();
}

TEST(Workloads, BusyWorkZeroAndNoLog) {
  EXPECT_GE(busy_work(0.0, BusyMode::sleep, nullptr), 0.0);
  EXPECT_GE(busy_work(0.0, BusyMode::spin, nullptr), 0.0);
  std::ostringstream log;
  EXPECT_GE(busy_work(0.01, BusyMode::sleep, &log), 0.01);
  EXPECT_NE(log.str().find("busy for 0.01 s"), std::string::npos) << log.str();
}

TEST(Workloads, BusyWorkRejectsBadDurations) {
  std::ostringstream log;
  for (const double bad : {-1.0, -1e-9, std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(), busy_work_max_seconds * 2}) {
    EXPECT_THROW(busy_work(bad, BusyMode::sleep, &log), std::invalid_argument) << bad;
  }
  EXPECT_TRUE(log.str().empty()) << "nothing is printed for rejected input";
}

TEST(Workloads, BusyWorkLinesDoNotInterleave) {
  std::ostringstream log;
  std::vector<std::thread> threads;
  constexpr int thread_count = 8;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 20; ++i) {
        busy_work(0.0, (t + i) % 2 == 0 ? BusyMode::sleep : BusyMode::spin, &log);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const auto lines = split_lines(log.str());
  EXPECT_EQ(lines.size(), size_t{thread_count} * 20 * 2);
  for (const auto& line : lines) {
    const auto tail = busy_line_tail(line);
    ASSERT_TRUE(tail.has_value()) << line;
    EXPECT_TRUE(*tail == "busy for 0.0 s (sleep)" || *tail == "busy for 0.0 s (spin)" || is_done_tail(*tail))
        << line;
  }
}

}  // namespace
