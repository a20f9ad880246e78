// `parlab lab` as a user runs it: answers on disk, exit status 2 with one line for bad input,
// and nothing written then.
#include "support/cli.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

using parlab::test::read_file;
using parlab::test::TempDir;

using parlab::test::one_line;
using parlab::test::Run;

/// Runs `parlab` with `args`, capturing stdout and stderr into files of `dir`.
Run parlab(const std::vector<std::string>& args, const fs::path& dir) {
  return parlab::test::run_program(PARLAB_CLI, args, dir);
}

TEST(LabCli, VersionIsTheProjectsVersion) {
  TempDir dir;
  const auto run = parlab({"--version"}, dir.path());
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, std::string{"parlab "} + PARLAB_PROJECT_VERSION + "\n");
  EXPECT_EQ(run.err, "");
}

TEST(LabCli, Prob1WritesTheExactAnswer) {
  TempDir dir;
  auto run = parlab({"lab", "--step", "prob1", "--out", dir.path().string()}, dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const auto soln = nlohmann::json::parse(read_file(dir.path() / "soln.json"));
  EXPECT_EQ(soln["prob1"], "[[2, 3], [6], [11, 12], [21]]");
  EXPECT_TRUE(soln.contains("host"));
  EXPECT_FALSE(soln.contains("prob2"));
  EXPECT_NE(run.out.find("[[2, 3], [6], [11, 12], [21]]"), std::string::npos);
  EXPECT_EQ(run.out.find('\r'), std::string::npos) << "control characters without a terminal";
  EXPECT_EQ(run.out.find('\033'), std::string::npos);
}

TEST(LabCli, Prob3MatchesNumpyByteForByteAndJsonHasEveryTiming) {
  TempDir dir;
  auto run = parlab(
      {"lab", "--step", "prob1,prob3", "--workers", "3", "--json", "--out", dir.path().string()}, dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const auto soln = nlohmann::json::parse(read_file(dir.path() / "soln.json"));
  std::string expected = read_file(fs::path(PARLAB_LAB_TEST_DATA_DIR) / "prob3_expected.txt");
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r'))
    expected.pop_back();
  EXPECT_EQ(soln["prob3"].get<std::string>(), expected);

  const auto record = nlohmann::json::parse(run.out);  // stdout is pure JSON with --json
  EXPECT_EQ(record["workers"], 3);
  ASSERT_EQ(record["prob3"].size(), 5U);
  EXPECT_EQ(record["prob3"][4]["name"], "XXL");
  EXPECT_EQ(record["prob3"][4]["rows"], 100000);
  EXPECT_GT(record["prob3"][4]["serial"].get<double>(), 0.0);
  EXPECT_NE(run.err.find("Dataset"), std::string::npos) << "the narration goes to stderr with --json";
}

TEST(LabCli, ExampleAgreesAcrossAllFourMethods) {
  TempDir dir;
  auto run = parlab({"lab", "--step", "example", "--json", "--out", dir.path().string()}, dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const auto record = nlohmann::json::parse(run.out);
  EXPECT_EQ(record["example"]["rows"], 1000000);
  // numpy: RandomState(100).randint(0, 10, size=[1000000, 5]) counted within [4, 8]
  EXPECT_EQ(record["example"]["first10"], nlohmann::json::parse("[4, 2, 1, 2, 3, 2, 2, 2, 2, 2]"));
  EXPECT_NE(run.err.find("all four agree"), std::string::npos);
}

/// Checks the soln.json in `dir` against a threads-backend run's: same prob1 and prob3, and a
/// prob2 that ran.
void expect_the_threads_answers(const fs::path& dir) {
  TempDir threads_dir;
  auto threads = parlab({"lab", "--step", "prob1,prob3", "--out", threads_dir.path().string()}, threads_dir.path());
  ASSERT_EQ(threads.status, 0) << threads.err;
  const auto a = nlohmann::json::parse(read_file(threads_dir.path() / "soln.json"));
  const auto b = nlohmann::json::parse(read_file(dir / "soln.json"));
  EXPECT_EQ(b["prob1"], a["prob1"]);
  EXPECT_EQ(b["prob3"], a["prob3"]);
  EXPECT_GT(b["prob2"]["part1"].get<double>(), 0.0);
}

TEST(LabCli, ProcessesBackendRunsEveryStepWithTheThreadsAnswers) {
  TempDir processes_dir;
  auto processes =
      parlab({"lab", "--backend", "processes", "--workers", "2", "--json", "--out", processes_dir.path().string()},
             processes_dir.path());
  ASSERT_EQ(processes.status, 0) << processes.err;
  expect_the_threads_answers(processes_dir.path());
  // The run's own record: every step ran, on the processes backend.
  const auto record = nlohmann::json::parse(processes.out);  // workers print to stderr
  EXPECT_EQ(record["backend"], "processes");
  EXPECT_EQ(record["example"]["rows"], 1000000);
  EXPECT_NE(processes.err.find("all four agree"), std::string::npos);
}

#ifdef PARLAB_MPIRUN
/// mpirun and its flags, "|"-separated (PARLAB_MPIRUN, tests/lab/CMakeLists.txt), split in words.
std::vector<std::string> words(std::string_view launcher) {
  std::vector<std::string> args;
  for (std::string_view rest = launcher; !rest.empty();) {
    const auto bar = rest.find('|');
    args.emplace_back(rest.substr(0, bar));
    rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
  }
  return args;
}

/// `parlab lab --backend mpi --json` as an MPI job of `np` ranks started by `launcher`, writing
/// into `dir`.
parlab::test::Run mpi_lab(std::string_view launcher, const char* np, const fs::path& dir) {
  auto args = words(launcher);
  const std::string mpirun = args.front();
  args.erase(args.begin());
  args.insert(args.end(), {"-np", np, PARLAB_CLI, "lab", "--backend", "mpi", "--json", "--out", dir.string()});
  return parlab::test::run_program(mpirun.c_str(), args, dir);
}

TEST(LabCli, MpiBackendRunsEveryStepWithTheThreadsAnswers) {
  TempDir mpi_dir;
  auto mpi = mpi_lab(PARLAB_MPIRUN, "3", mpi_dir.path());
  ASSERT_EQ(mpi.status, 0) << mpi.err;
  expect_the_threads_answers(mpi_dir.path());
  // Only rank 0 runs the lab: one record on stdout, for two worker ranks.
  const auto record = nlohmann::json::parse(mpi.out);
  EXPECT_EQ(record["backend"], "mpi");
  EXPECT_EQ(record["workers"], 2);
  EXPECT_EQ(record["example"]["rows"], 1000000);
  EXPECT_NE(mpi.err.find("all four agree"), std::string::npos);
  EXPECT_TRUE(record["lost_ranks"].empty());
}

/// The pid of the process whose environment holds `entry` and whose command line holds `word`
/// (0 if there is none).
long find_process(const std::string& entry, const std::string& word) {
  for (const auto& proc : fs::directory_iterator("/proc")) {
    const std::string name = proc.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream environ{proc.path() / "environ"}, cmdline{proc.path() / "cmdline"};
    const std::string env{std::istreambuf_iterator<char>(environ), {}};
    const std::string cmd{std::istreambuf_iterator<char>(cmdline), {}};
    if (env.find(std::string{'\0'} + entry + '\0') != std::string::npos && cmd.find(word) != std::string::npos)
      return std::stol(name);
  }
  return 0;
}

// A worker rank killed from outside mid-lab, in a job started with recovery: the lab finishes on
// the other ranks with every answer the threads backend gives, and says which rank it lost.
TEST(LabCli, MpiBackendLosesAWorkerRankAndStillWritesTheThreadsAnswers) {
  TempDir mpi_dir;
  parlab::test::Run mpi;
  std::thread job{[&] { mpi = mpi_lab(PARLAB_MPIRUN_RECOVERY, "4", mpi_dir.path()); }};
  long victim = 0;
  for (int i = 0; i < 300 && victim == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    victim = find_process("OMPI_COMM_WORLD_RANK=2", mpi_dir.path().string());
  }
  if (victim != 0) {
    std::this_thread::sleep_for(std::chrono::seconds{3});  // into the lab's example step
    ::kill(static_cast<pid_t>(victim), SIGKILL);
  }
  job.join();
  ASSERT_NE(victim, 0) << "worker rank 2 never started:\n" << mpi.err;
  expect_the_threads_answers(mpi_dir.path());  // mpirun's status is 0 under recovery whatever happens
  const auto record = nlohmann::json::parse(mpi.out);
  ASSERT_EQ(record["lost_ranks"].size(), 1U) << mpi.err;
  EXPECT_EQ(record["lost_ranks"][0]["rank"], 2);
  EXPECT_EQ(record["lost_ranks"][0]["pid"], victim);
  EXPECT_NE(mpi.err.find("mpi: worker rank 2 (pid " + std::to_string(victim) + ") was lost (its process"),
            std::string::npos)
      << mpi.err;
  EXPECT_NE(mpi.err.find("all four agree"), std::string::npos);
}
#endif

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

class LabCliBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(LabCliBadInput, OneLineOnStderrExitTwoNothingWritten) {
  TempDir dir;
  auto args = GetParam().args;
  args.insert(args.begin(), "lab");
  if (std::find(args.begin(), args.end(), "--out") == args.end()) {
    args.push_back("--out");
    args.push_back(dir.path().string());
  }
  auto run = parlab(args, dir.path());
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_NE(run.err.find(GetParam().message), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  EXPECT_FALSE(fs::exists(dir.path() / "soln.json"));
}

INSTANTIATE_TEST_SUITE_P(Cases, LabCliBadInput,
                         ::testing::Values(BadInput{{"--step", "prob9"}, "unknown step 'prob9'"},
                                           BadInput{{"--workers", "0"}, "--workers must be at least 1"},
                                           BadInput{{"--workers", "-4"}, "--workers must be at least 1"},
                                           BadInput{{"--workers", "100000"}, "absurd"},
                                           BadInput{{"--workers", "two"}, "--workers"},
                                           BadInput{{"--backend", "mpi"}, "mpirun -np N parlab lab --backend mpi"},
                                           BadInput{{"--backend", "gpu"}, "unknown --backend 'gpu'"},
                                           BadInput{{"--busy", "nap"}, "--busy must be sleep or spin"},
                                           BadInput{{"--out", "/proc/version/sub"},
                                                    "--out /proc/version/sub"},
                                           BadInput{{"--bogus"}, "--bogus"}));

TEST(LabCli, NoSubcommandIsAUsageError) {
  TempDir dir;
  auto run = parlab({}, dir.path());
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(one_line(run.err)) << run.err;
}

TEST(LabCli, HelpExitsZero) {
  TempDir dir;
  auto run = parlab({"lab", "--help"}, dir.path());
  EXPECT_EQ(run.status, 0);
  EXPECT_NE(run.out.find("--workers"), std::string::npos);
}

}  // namespace
