// wordcount: MapReduce's classic, with parlab::map_reduce.
//
//   example_wordcount [DIR]
//
// Counts words (ASCII letters, lowercased; anything else separates words) (a) over a generated
// corpus of 200 documents, fixed seed, on a ProcessPool, and (b) over every regular file under
// DIR, on a thread Pool. Without DIR, (b) counts a temporary directory the program fills with the
// corpus's documents, one file each, and removes again, so its counts must equal (a)'s. The
// mapper emits (word, 1) pairs, the combiner sums them per document inside the map task, the
// reducer sums per word. Every count is checked against a serial count; exit 1 on a mismatch.

#include <parlab/mapreduce.hpp>
#include <parlab/process_pool.hpp>
#include "check.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using Counts = std::map<std::string, long>;

/// The words of `text`: runs of ASCII letters, lowercased.
std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 128 && std::isalpha(byte) != 0) {
      word += static_cast<char>(std::tolower(byte));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Mapper, combiner and reducer are captureless lambdas: a ProcessPool rebuilds them in its
// worker processes from their type (a thread Pool would take any callable).
constexpr auto count_words = [](const std::string& text) {
  std::vector<std::pair<std::string, long>> pairs;
  for (std::string& word : split_words(text))
    pairs.emplace_back(std::move(word), 1);
  return pairs;
};
constexpr auto count_file_words = [](const std::string& path) { return count_words(read_file(path)); };
constexpr auto add_counts = [](const std::string& /*word*/, const std::vector<long>& counts) {
  return std::accumulate(counts.begin(), counts.end(), 0L);
};

/// `documents` documents of 20 to 79 words drawn from a small vocabulary, frequent words first,
/// with capitals and punctuation; the same for a given seed everywhere (std::mt19937 is exact).
std::vector<std::string> make_corpus(std::size_t documents, std::uint32_t seed) {
  static constexpr std::string_view vocabulary[] = {
      "the",    "of",     "and",   "a",      "to",   "in",      "is",     "pool",   "worker",  "map",
      "reduce", "key",    "value", "thread", "task", "process", "result", "chunk",  "shuffle", "combiner",
      "input",  "output", "word",  "count",  "sort", "merge",   "python", "native", "fast",    "lazy"};
  constexpr std::size_t n = std::size(vocabulary);
  std::mt19937 rng{seed};
  std::vector<std::string> corpus;
  corpus.reserve(documents);
  for (std::size_t d = 0; d < documents; ++d) {
    std::string text;
    const std::size_t words = 20 + rng() % 60;
    for (std::size_t w = 0; w < words; ++w) {
      const std::size_t rank = (rng() % n) * (rng() % n) / n;  // skewed towards the first words
      std::string word{vocabulary[rank]};
      if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      text += word;
      text += rng() % 8 == 0 ? ", " : " ";
    }
    text += "END.\n";
    corpus.push_back(std::move(text));
  }
  return corpus;
}

Counts serial_count(const std::vector<std::string>& texts) {
  Counts counts;
  for (const std::string& text : texts)
    for (const std::string& word : split_words(text))
      ++counts[word];
  return counts;
}

/// Prints the number of words, of distinct words, and the `top` most frequent ones.
void print_top(const Counts& counts, std::size_t top) {
  const long total = std::accumulate(counts.begin(), counts.end(), 0L,
                                     [](long sum, const auto& entry) { return sum + entry.second; });
  std::cout << "  " << total << " words, " << counts.size() << " distinct; the "
            << std::min(top, counts.size()) << " most frequent:\n";
  std::vector<std::pair<std::string, long>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  ranked.resize(std::min(top, ranked.size()));
  for (const auto& [word, count] : ranked)
    std::cout << "  " << std::setw(8) << count << "  " << word << '\n';
}

/// The regular files under `dir`, recursively, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry :
       fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

/// Writes each document to its own file in a fresh directory; removes it when destroyed.
class CorpusDirectory {
 public:
  explicit CorpusDirectory(const std::vector<std::string>& documents)
      : path_(fs::temp_directory_path() / ("parlab-wordcount-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
    for (std::size_t i = 0; i < documents.size(); ++i) {
      std::ostringstream name;
      name << "doc" << std::setw(3) << std::setfill('0') << i << ".txt";
      std::ofstream{path_ / name.str(), std::ios::binary} << documents[i];
    }
  }
  CorpusDirectory(const CorpusDirectory&) = delete;
  CorpusDirectory& operator=(const CorpusDirectory&) = delete;
  ~CorpusDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && !fs::is_directory(argv[1]))) {
    std::cerr << "usage: example_wordcount [DIR]   (DIR: a directory whose files to count)\n";
    return 2;
  }
  try {
    // (a) A generated corpus on worker processes.
    const std::vector<std::string> documents = make_corpus(200, 2024);
    parlab::ProcessPool processes{2};
    // Map count_words over the documents, combine each document's pairs in its worker (the
    // first add_counts), group by word, reduce each word's counts (the second add_counts).
    std::map<std::string, long> counts =
        parlab::map_reduce(processes, documents, count_words, add_counts, add_counts);
    std::cout << "corpus: " << documents.size() << " generated documents (ProcessPool)\n";
    print_top(counts, 10);
    check(counts == serial_count(documents), "map_reduce over the corpus equals a serial count");

    // (b) The files of a directory, on worker threads; each map task reads its file.
    const bool generated = argc < 2;
    std::optional<CorpusDirectory> scratch;
    if (generated) scratch.emplace(documents);
    const fs::path dir = generated ? scratch->path() : fs::path{argv[1]};
    const std::vector<std::string> files = files_under(dir);
    parlab::Pool threads{2};
    parlab::MapReduceOptions options;
    options.chunksize = 8;  // files per map chunk
    std::map<std::string, long> file_counts =
        parlab::map_reduce(threads, files, count_file_words, add_counts, add_counts, options);
    std::vector<std::string> texts;
    texts.reserve(files.size());
    for (const std::string& file : files)
      texts.push_back(read_file(file));
    check(file_counts == serial_count(texts), "map_reduce over the directory equals a serial count");
    if (generated) {
      check(file_counts == counts, "the directory's counts equal the corpus's");
      std::cout << "directory: " << files.size()
                << " files, the corpus written one document per file (Pool): "
                << "the same counts as the corpus\n";
    } else {
      std::cout << "directory " << dir.string() << ": " << files.size() << " files (Pool)\n";
      print_top(file_counts, 10);
    }
  } catch (const std::exception& e) {
    std::cerr << "wordcount: " << e.what() << '\n';
    return 1;
  }
}
