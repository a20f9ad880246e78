// soln.json's text, Python's json string quoting, and the atomic writer.
#include "lab/py_json.hpp"
#include "lab/runner.hpp"
#include "lab/system.hpp"

#include "support/files.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

using parlab::test::read_file;
using parlab::test::TempDir;

TEST(SolnJson, MatchesPythonsJsonDumpsIndent2) {
  parlab::lab::Answers answers;
  answers.prob1 = "[[2, 3], [6], [11, 12], [21]]";
  answers.part1 = 13.002;
  answers.part2 = 8.0071234;
  answers.part3 = 1e-05;
  answers.prob3 = "[[0.0, 1.0]]";
  answers.host = "h\xc3\xa9st\"x\\y\n\xf0\x9f\x98\x80";
  // Recorded from /usr/bin/python3: json.dumps({...same values...}, indent=2)
  const std::string expected = R"({
  "prob1": "[[2, 3], [6], [11, 12], [21]]",
  "prob2": {
    "part1": 13.002,
    "part2": 8.0071234,
    "part3": 1e-05
  },
  "prob3": "[[0.0, 1.0]]",
  "host": "h\u00e9st\"x\\y\n\ud83d\ude00"
})";
  EXPECT_EQ(parlab::lab::soln_json(answers), expected);
}

TEST(SolnJson, OnlyTheStepsThatRan) {
  parlab::lab::Answers answers;
  answers.prob1 = "[[2, 3]]";
  answers.host = "box";
  EXPECT_EQ(parlab::lab::soln_json(answers), "{\n  \"prob1\": \"[[2, 3]]\",\n  \"host\": \"box\"\n}");
}

TEST(PyJsonString, EscapesLikePython) {
  using parlab::lab::py_json_string;
  EXPECT_EQ(py_json_string("plain"), "\"plain\"");
  EXPECT_EQ(py_json_string("tab\there\r\b\f"), "\"tab\\there\\r\\b\\f\"");
  EXPECT_EQ(py_json_string(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(py_json_string("\x7f"), "\"\\u007f\"");
}

TEST(HostName, IsNotEmpty) { EXPECT_FALSE(parlab::lab::host_name().empty()); }

TEST(AtomicWrite, ReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  const auto path = dir.path() / "soln.json";
  parlab::lab::write_file_atomically(path, "old");
  parlab::lab::write_file_atomically(path, "new content");
  EXPECT_EQ(read_file(path), "new content");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST(AtomicWrite, AFailingWriteLeavesTheOldFileIntact) {
  TempDir dir;
  const auto path = dir.path() / "soln.json";
  parlab::lab::write_file_atomically(path, "old");
  // In a child limited to 16-byte files, writing 1 MiB fails (EFBIG) part-way through.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{16, 16};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      parlab::lab::write_file_atomically(path, std::string(1 << 20, 'x'));
      ::_exit(1);  // should have thrown
    } catch (const std::runtime_error&) {
      ::_exit(0);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the write did not report its failure";
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1)
      << "a temporary file was left behind";
}

TEST(AtomicWrite, MissingFolderIsAClearError) {
  try {
    parlab::lab::write_file_atomically("/nonexistent-parlab-dir/soln.json", "x");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-parlab-dir/soln.json"), std::string::npos);
  }
}

TEST(Steps, NamesRoundTrip) {
  using parlab::lab::Step;
  for (Step s : {Step::example, Step::prob1, Step::prob2, Step::prob3})
    EXPECT_EQ(parlab::lab::parse_step(parlab::lab::step_name(s)), s);
  EXPECT_FALSE(parlab::lab::parse_step("prob4").has_value());
}

}  // namespace
