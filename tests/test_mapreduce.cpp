// map_reduce: the same answers as a serial computation on Pool and ProcessPool; the combiner
// runs in the map task; errors name the right phase's index.
#include "parlab/mapreduce.hpp"
#include "parlab/process_pool.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <iterator>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using WordCounts = std::vector<std::pair<std::string, long>>;

/// a + b (g++ 12 warns falsely, -Wrestrict, about "literal" + std::string).
std::string cat(std::string a, const std::string& b) {
  a += b;
  return a;
}

/// Lowercased words (runs of letters) of `text`.
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c)) != 0) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

/// A deterministic corpus: `docs` documents of words from a small vocabulary, with capitals and
/// punctuation.
std::vector<std::string> corpus(std::size_t docs) {
  static const char* const vocabulary[] = {"the",  "Quick",   "brown", "fox", "JUMPS",
                                           "over", "lazy",    "dog",   "a",   "pool",
                                           "of",   "workers", "maps",  "and", "reduces"};
  std::vector<std::string> out;
  unsigned state = 12345;
  for (std::size_t d = 0; d < docs; ++d) {
    std::string text;
    const std::size_t words = 5 + d % 17;
    for (std::size_t w = 0; w < words; ++w) {
      state = state * 1103515245u + 12345u;
      text += vocabulary[(state >> 16) % std::size(vocabulary)];
      text += (state >> 8) % 5 == 0 ? ", " : " ";
    }
    out.push_back(text + "end.");
  }
  return out;
}

std::map<std::string, long> serial_count(const std::vector<std::string>& docs) {
  std::map<std::string, long> out;
  for (const auto& doc : docs)
    for (const auto& word : words_of(doc))
      ++out[word];
  return out;
}

// Captureless lambdas: they work on both pools.
constexpr auto emit_words = [](const std::string& text) {
  WordCounts out;
  for (auto& word : words_of(text))
    out.emplace_back(std::move(word), 1);
  return out;
};
constexpr auto sum = [](const std::string& /*key*/, const std::vector<long>& values) {
  return std::accumulate(values.begin(), values.end(), 0L);
};
/// The reducer that says how many values reached it.
constexpr auto value_count = [](const std::string& /*key*/, const std::vector<long>& values) {
  return static_cast<long>(values.size());
};

template <class P>
class MapReduceTest : public ::testing::Test {
 protected:
  P pool{2};
};
using Pools = ::testing::Types<parlab::Pool, parlab::ProcessPool>;
TYPED_TEST_SUITE(MapReduceTest, Pools);

TYPED_TEST(MapReduceTest, WordCountEqualsSerialCount) {
  const auto docs = corpus(60);
  const std::map<std::string, long> counts = parlab::map_reduce(this->pool, docs, emit_words, sum);
  EXPECT_EQ(counts, serial_count(docs));
  EXPECT_EQ(counts.at("quick"), serial_count(docs).at("quick"));  // lowercased
}

TYPED_TEST(MapReduceTest, CombinerGivesTheSameAnswerAndFoldsEachInput) {
  const auto docs = corpus(40);
  const auto expected = serial_count(docs);
  parlab::MapReduceOptions options;
  options.chunksize = 3;
  EXPECT_EQ(parlab::map_reduce(this->pool, docs, emit_words, sum, sum, options), expected);

  // Without a combiner the reducer receives one value per occurrence; with one, one value per
  // document that has the word: the combiner folded each document's pairs before the shuffle.
  std::map<std::string, long> docs_with_word;
  for (const auto& doc : docs) {
    const auto words = words_of(doc);
    for (const auto& word : std::set<std::string>(words.begin(), words.end()))
      ++docs_with_word[word];
  }
  EXPECT_EQ(parlab::map_reduce(this->pool, docs, emit_words, value_count), expected);
  EXPECT_EQ(parlab::map_reduce(this->pool, docs, emit_words, sum, value_count), docs_with_word);
  EXPECT_NE(docs_with_word, expected);  // the corpus does repeat words within a document
}

TYPED_TEST(MapReduceTest, MapperErrorIsATaskErrorWithTheInputIndex) {
  const std::vector<int> inputs{1, 2, 3, 4, 5, 6, 7};
  auto mapper = [](int x) {
    if (x == 4 || x == 6) throw std::invalid_argument(cat("bad input ", std::to_string(x)));
    return std::vector<std::pair<int, int>>{{x % 2, x}};
  };
  auto reducer = [](const int& /*key*/, std::vector<int> values) { return values.size(); };
  try {
    (void)parlab::map_reduce(this->pool, inputs, mapper, reducer, {.chunksize = 1});
    FAIL() << "no TaskError";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 3U);  // inputs[3] == 4: the lowest failing input
    EXPECT_THAT(e.what(), ::testing::HasSubstr("bad input 4"));
  }
}

TYPED_TEST(MapReduceTest, ReducerErrorIsATaskErrorWithTheKeyPosition) {
  const std::vector<int> inputs{5, 1, 3, 2, 4, 0};
  auto mapper = [](int x) {
    return std::vector<std::pair<std::string, int>>{{cat("k", std::to_string(x)), x}};
  };
  auto reducer = [](const std::string& key, std::vector<int> values) {
    if (key == "k3") throw std::runtime_error(cat("cannot reduce ", key));
    return values.front();
  };
  try {
    (void)parlab::map_reduce(this->pool, inputs, mapper, reducer);
    FAIL() << "no TaskError";
  } catch (const parlab::TaskError& e) {
    EXPECT_EQ(e.index(), 3U);  // k0 k1 k2 k3: the fourth key in sorted order
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cannot reduce k3"));
  }
}

TYPED_TEST(MapReduceTest, EmptyInputGivesAnEmptyMap) {
  const std::vector<std::string> none;
  EXPECT_TRUE(parlab::map_reduce(this->pool, none, emit_words, sum).empty());
  EXPECT_TRUE(parlab::map_reduce(this->pool, none, emit_words, sum, sum).empty());
  // Inputs that emit nothing.
  const std::vector<std::string> blanks{"", " ", "...", "42"};
  EXPECT_TRUE(parlab::map_reduce(this->pool, blanks, emit_words, sum).empty());
}

TYPED_TEST(MapReduceTest, KeysSortedValuesInInputOrderWithStringKeysAndVectorValues) {
  // Keys are emitted in reverse order; values are vectors; each key's values must arrive in
  // input order even though chunks of one input complete in any order.
  std::vector<int> inputs(30);
  std::iota(inputs.begin(), inputs.end(), 0);
  auto mapper = [](int x) {
    std::vector<std::pair<std::string, std::vector<int>>> out;
    for (int k = 2; k >= 0; --k)
      if (x % (k + 1) == 0) out.emplace_back(cat("key", std::to_string(k)), std::vector<int>{x, -x});
    return out;
  };
  auto concat = [](const std::string& /*key*/, std::vector<std::vector<int>> values) {
    std::vector<int> out;
    for (auto& v : values)
      out.insert(out.end(), v.begin(), v.end());
    return out;
  };
  const std::map<std::string, std::vector<int>> result =
      parlab::map_reduce(this->pool, inputs, mapper, concat, {.chunksize = 1, .reduce_chunksize = 1});
  ASSERT_EQ(result.size(), 3U);
  std::vector<std::string> keys;
  for (const auto& [key, values] : result)
    keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("key0", "key1", "key2"));
  for (int k = 0; k < 3; ++k) {
    std::vector<int> expected;
    for (int x : inputs)
      if (x % (k + 1) == 0) expected.insert(expected.end(), {x, -x});
    EXPECT_EQ(result.at(cat("key", std::to_string(k))), expected) << "key" << k;
  }
}

TYPED_TEST(MapReduceTest, ProgressReportsBothPhases) {
  const auto docs = corpus(20);
  std::atomic<std::size_t> map_total{0}, reduce_total{0};
  std::atomic<bool> map_finished{false}, reduce_finished{false};
  parlab::MapReduceOptions options;
  options.chunksize = 4;
  options.reduce_chunksize = 2;
  options.progress = [&](std::size_t done, std::size_t total) {
    map_total = total;
    if (done == total) map_finished = true;
  };
  options.reduce_progress = [&](std::size_t done, std::size_t total) {
    reduce_total = total;
    if (done == total) reduce_finished = true;
  };
  const auto counts = parlab::map_reduce(this->pool, docs, emit_words, sum, std::move(options));
  EXPECT_EQ(map_total.load(), 20U);
  EXPECT_TRUE(map_finished.load());
  EXPECT_EQ(reduce_total.load(), counts.size());
  EXPECT_TRUE(reduce_finished.load());
}

// The combiner runs in the map task, on the worker process: its values carry the worker's pid.
TEST(MapReduceProcess, CombinerRunsInTheWorkerProcess) {
  parlab::ProcessPool pool{2};
  const auto docs = corpus(30);
  auto mapper = [](const std::string& text) {
    std::vector<std::pair<std::string, std::pair<long, long>>> out;
    for (auto& word : words_of(text))
      out.emplace_back(std::move(word), std::pair<long, long>{1, 0});
    return out;
  };
  auto combiner = [](const std::string& /*key*/, const std::vector<std::pair<long, long>>& values) {
    long n = 0;
    for (const auto& v : values)
      n += v.first;
    return std::pair<long, long>{n, static_cast<long>(::getpid())};
  };
  auto reducer = [](const std::string& /*key*/, const std::vector<std::pair<long, long>>& values) {
    std::pair<long, std::set<long>> out{0, {}};
    for (const auto& [n, pid] : values) {
      out.first += n;
      out.second.insert(pid);
    }
    return out;
  };
  const auto result = parlab::map_reduce(pool, docs, mapper, combiner, reducer, {.chunksize = 1});
  const auto expected = serial_count(docs);
  ASSERT_EQ(result.size(), expected.size());
  const auto workers = pool.pids();
  for (const auto& [word, reduced] : result) {
    EXPECT_EQ(reduced.first, expected.at(word)) << word;
    for (long pid : reduced.second) {
      EXPECT_NE(pid, static_cast<long>(::getpid())) << word;
      EXPECT_THAT(workers, ::testing::Contains(pid)) << word;
    }
  }
}

// On a thread pool any callable works: capturing lambdas, state; the combiner runs once per input
// on a worker thread.
TEST(MapReduceThreads, CapturingCallablesAndCombinerPerInput) {
  parlab::Pool pool{3};
  const auto docs = corpus(50);
  const std::string suffix = "!";
  std::atomic<int> combines{0};
  std::mutex mu;
  std::set<std::thread::id> combiner_threads;
  auto mapper = [&suffix](const std::string& text) {
    WordCounts out;
    for (auto& word : words_of(text))
      out.emplace_back(word + suffix, 1);
    return out;
  };
  auto combiner = [&](const std::string& /*key*/, const std::vector<long>& values) {
    ++combines;
    std::lock_guard lock{mu};
    combiner_threads.insert(std::this_thread::get_id());
    return std::accumulate(values.begin(), values.end(), 0L);
  };
  std::size_t combines_expected = 0;
  for (const auto& doc : docs) {
    const auto words = words_of(doc);
    combines_expected += std::set<std::string>(words.begin(), words.end()).size();
  }
  const auto counts = parlab::map_reduce(pool, docs, mapper, combiner, sum);
  std::map<std::string, long> expected;
  for (const auto& [word, n] : serial_count(docs))
    expected[word + suffix] = n;
  EXPECT_EQ(counts, expected);
  EXPECT_EQ(static_cast<std::size_t>(combines.load()), combines_expected);
  EXPECT_FALSE(combiner_threads.contains(std::this_thread::get_id()));
}

// A map_reduce inside a task of the same pool (nested use) finishes.
TEST(MapReduceThreads, NestedInATaskOfTheSamePool) {
  parlab::Pool pool{1};
  const auto docs = corpus(10);
  const auto total = pool.apply([&] {
    long n = 0;
    for (const auto& [word, count] : parlab::map_reduce(pool, docs, emit_words, sum))
      n += count;
    return n;
  });
  long expected = 0;
  for (const auto& [word, count] : serial_count(docs))
    expected += count;
  EXPECT_EQ(total, expected);
}

}  // namespace
