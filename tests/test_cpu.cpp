#include "parlab/cpu.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using parlab::affinity_cpu_count;
using parlab::cgroup_cpu_quota;
using parlab::cpu_count;
using parlab::CpuSources;

constexpr const char* kPrintEnv = "PARLAB_TEST_PRINT_CPU_COUNT";
constexpr const char* kPrintPrefix = "parlab-cpu-count=";

// A fake /sys/fs/cgroup + /proc/self/cgroup in a fresh temporary directory.
class FakeCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "parlab-test-cpu-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed, errno " << errno;
    dir_ = pattern;
    sources_.cgroup_root = dir_ / "sys-fs-cgroup";
    sources_.proc_self_cgroup = dir_ / "proc-self-cgroup";
    fs::create_directories(sources_.cgroup_root);
  }

  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static void write(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }

  void proc_cgroup(const std::string& content) { write(sources_.proc_self_cgroup, content); }
  // A file under the fake cgroup root, e.g. cgroup_file("app/cpu.max", "max 100000\n").
  void cgroup_file(const std::string& relative, const std::string& content) {
    write(sources_.cgroup_root / relative, content);
  }
  void v2_root() { cgroup_file("cgroup.controllers", "cpuset cpu io memory pids\n"); }

  fs::path dir_;
  CpuSources sources_;
};

unsigned expected_count(unsigned quota_rounded_up) {
  return std::max(1U, std::min(affinity_cpu_count(), quota_rounded_up));
}

// --- cgroup v2 ---

TEST_F(FakeCgroup, V2QuotaOneAndAHalf) {
  v2_root();
  proc_cgroup("0::/app\n");
  cgroup_file("app/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(1.5));
  EXPECT_EQ(cpu_count(sources_), expected_count(2));
}

TEST_F(FakeCgroup, V2MaxIsUnlimited) {
  v2_root();
  proc_cgroup("0::/app\n");
  cgroup_file("app/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);
  EXPECT_EQ(cpu_count(sources_), affinity_cpu_count());
}

TEST_F(FakeCgroup, V2ParentStricterThanChildWins) {
  v2_root();
  proc_cgroup("0::/parent/child\n");
  cgroup_file("parent/cpu.max", "100000 100000\n");
  cgroup_file("parent/child/cpu.max", "300000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(1.0));
  EXPECT_EQ(cpu_count(sources_), 1U);
}

TEST_F(FakeCgroup, V2ChildStricterThanParentWins) {
  v2_root();
  proc_cgroup("0::/parent/child\n");
  cgroup_file("parent/cpu.max", "400000 100000\n");
  cgroup_file("parent/child/cpu.max", "50000 100000\n");
  cgroup_file("parent/child/grandchild/cpu.max", "10000 100000\n");  // not on our path
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(0.5));
}

TEST_F(FakeCgroup, V2UnlimitedLevelsDoNotHideLimitedOnes) {
  v2_root();
  proc_cgroup("0::/a/b/c\n");
  cgroup_file("a/cpu.max", "max 100000\n");
  cgroup_file("a/b/cpu.max", "250000 100000\n");
  cgroup_file("a/b/c/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(2.5));
}

TEST_F(FakeCgroup, V2NamespacedPathFallsBackToMountRoot) {
  v2_root();
  proc_cgroup("0::/docker/0123abcd\n");  // not present under the container's own mount
  cgroup_file("cpu.max", "200000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(2.0));
}

TEST_F(FakeCgroup, V2PathEscapingTheNamespaceFallsBackToMountRoot) {
  v2_root();
  proc_cgroup("0::/../../outside\n");
  cgroup_file("cpu.max", "300000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(3.0));
}

TEST_F(FakeCgroup, V2HybridUnifiedMount) {
  proc_cgroup("1:cpu:/\n0::/app\n");
  cgroup_file("cpu/cpu.cfs_quota_us", "-1\n");
  cgroup_file("cpu/cpu.cfs_period_us", "100000\n");
  cgroup_file("unified/cgroup.controllers", "");
  cgroup_file("unified/app/cpu.max", "75000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(0.75));
}

TEST_F(FakeCgroup, QuotaBelowOneCpuGivesOne) {
  v2_root();
  proc_cgroup("0::/tiny\n");
  cgroup_file("tiny/cpu.max", "20000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(0.2));
  EXPECT_EQ(cpu_count(sources_), 1U);
}

TEST_F(FakeCgroup, QuotaAboveAffinityIsCappedByAffinity) {
  v2_root();
  proc_cgroup("0::/big\n");
  cgroup_file("big/cpu.max", "100000000000 100000\n");  // a million CPUs
  EXPECT_EQ(cpu_count(sources_), affinity_cpu_count());
}

// --- cgroup v1 ---

TEST_F(FakeCgroup, V1QuotaOverPeriod) {
  proc_cgroup("12:pids:/grp\n4:cpu,cpuacct:/grp\n3:memory:/grp\n");
  cgroup_file("cpu,cpuacct/grp/cpu.cfs_quota_us", "250000\n");
  cgroup_file("cpu,cpuacct/grp/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(2.5));
  EXPECT_EQ(cpu_count(sources_), expected_count(3));
}

TEST_F(FakeCgroup, V1SeparateCpuMount) {
  proc_cgroup("2:cpuacct:/grp\n1:cpu:/grp\n");
  cgroup_file("cpu/grp/cpu.cfs_quota_us", "50000\n");
  cgroup_file("cpu/grp/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(0.5));
  EXPECT_EQ(cpu_count(sources_), 1U);
}

TEST_F(FakeCgroup, V1QuotaMinusOneIsUnlimited) {
  proc_cgroup("4:cpu,cpuacct:/grp\n");
  cgroup_file("cpu,cpuacct/grp/cpu.cfs_quota_us", "-1\n");
  cgroup_file("cpu,cpuacct/grp/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);
  EXPECT_EQ(cpu_count(sources_), affinity_cpu_count());
}

TEST_F(FakeCgroup, V1ParentStricterThanChildWins) {
  proc_cgroup("4:cpu,cpuacct:/parent/child\n");
  cgroup_file("cpu,cpuacct/parent/cpu.cfs_quota_us", "100000\n");
  cgroup_file("cpu,cpuacct/parent/cpu.cfs_period_us", "100000\n");
  cgroup_file("cpu,cpuacct/parent/child/cpu.cfs_quota_us", "-1\n");
  cgroup_file("cpu,cpuacct/parent/child/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(1.0));
}

TEST_F(FakeCgroup, V1NamespacedPathFallsBackToMountRoot) {
  proc_cgroup("4:cpu,cpuacct:/docker/0123abcd\n");
  cgroup_file("cpu,cpuacct/cpu.cfs_quota_us", "150000\n");
  cgroup_file("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::optional<double>(1.5));
}

// --- bad input ---

TEST_F(FakeCgroup, MissingFilesAreUnlimited) {
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);  // no /proc/self/cgroup at all
  EXPECT_EQ(cpu_count(sources_), affinity_cpu_count());

  proc_cgroup("0::/app\n4:cpu,cpuacct:/app\n");  // no cpu.max, no v1 mount
  fs::create_directories(sources_.cgroup_root / "app");
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);

  cgroup_file("cpu,cpuacct/app/cpu.cfs_quota_us", "50000\n");  // period missing
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);

  sources_.cgroup_root = dir_ / "does-not-exist";
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);
}

TEST_F(FakeCgroup, MalformedCpuMaxIsUnlimited) {
  v2_root();
  proc_cgroup("0::/app\n");
  for (const std::string content :
       {"", "\n", "garbage", "150000", "150000 100000 7", "abc 100000", "150000 abc", "1.5e5 100000",
        "150000x 100000", "0 100000", "-150000 100000", "150000 0", "150000 -100000", "max",
        "99999999999999999999999 100000"}) {
    cgroup_file("app/cpu.max", content);
    EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt) << "cpu.max: \"" << content << '"';
    EXPECT_EQ(cpu_count(sources_), affinity_cpu_count()) << "cpu.max: \"" << content << '"';
  }
}

TEST_F(FakeCgroup, MalformedV1FilesAreUnlimited) {
  proc_cgroup("4:cpu,cpuacct:/grp\n");
  for (const auto& [quota, period] :
       std::vector<std::pair<std::string, std::string>>{{"", "100000"},
                                                        {"abc", "100000"},
                                                        {"50000", ""},
                                                        {"50000", "zero"},
                                                        {"50000", "0"},
                                                        {"50000 50000", "100000"},
                                                        {"0", "100000"},
                                                        {"-2", "100000"}}) {
    cgroup_file("cpu,cpuacct/grp/cpu.cfs_quota_us", quota);
    cgroup_file("cpu,cpuacct/grp/cpu.cfs_period_us", period);
    EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt)
        << "quota \"" << quota << "\", period \"" << period << '"';
  }
}

TEST_F(FakeCgroup, MalformedProcSelfCgroupIsUnlimited) {
  v2_root();
  cgroup_file("cpu.max", "100000 100000\n");
  for (const std::string content : {"", "garbage\n", "0\n", "cpu\n", "\n\n"}) {
    proc_cgroup(content);
    EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt) << "/proc/self/cgroup: \"" << content << '"';
  }
}

TEST_F(FakeCgroup, UnreadableFileIsUnlimited) {
  v2_root();
  proc_cgroup("0::/app\n");
  fs::create_directories(sources_.cgroup_root / "app" / "cpu.max");  // a directory: open works, read fails
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);

  sources_.proc_self_cgroup = dir_;  // /proc/self/cgroup itself unreadable
  EXPECT_EQ(cgroup_cpu_quota(sources_), std::nullopt);
}

// --- affinity ---

// The first CPU in this process's affinity mask (CPU 0 unless something pinned us elsewhere).
int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) return cpu;
  }
  return 0;
}

TEST(AffinityCpuCount, MatchesTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(affinity_cpu_count(), static_cast<unsigned>(CPU_COUNT(&set)));
}

TEST(AffinityCpuCount, PinnedChildSeesOneCpu) {
  const int cpu = first_allowed_cpu();
  const pid_t pid = ::fork();
  ASSERT_NE(pid, -1) << "fork failed, errno " << errno;
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) ::_exit(2);
    if (affinity_cpu_count() != 1) ::_exit(3);
    if (cpu_count() != 1) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: sched_setaffinity failed, 3: affinity_cpu_count() != 1, "
                                       "4: cpu_count() != 1";
}

// Prints cpu_count() for TasksetPinsToOneCpu, which runs this binary under taskset.
TEST(CpuCountHelper, PrintCpuCount) {
  if (std::getenv(kPrintEnv) == nullptr)
    GTEST_SKIP() << "helper for TasksetPinsToOneCpu; runs only with " << kPrintEnv;
  std::printf("\n%s%u\n", kPrintPrefix, cpu_count());
  std::fflush(stdout);
}

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  dirs += ':';
  for (std::size_t start = 0, colon = 0; (colon = dirs.find(':', start)) != std::string::npos;
       start = colon + 1) {
    const fs::path candidate = fs::path(dirs.substr(start, colon - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

// Runs argv with kPrintEnv set and returns its exit status and stdout.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult run_with_print_env(std::vector<std::string> args) {
  std::vector<std::string> env_strings{std::string(kPrintEnv) + "=1"};
  for (char** entry = environ; *entry != nullptr; ++entry)
    env_strings.emplace_back(*entry);
  std::vector<char*> envp;
  for (std::string& entry : env_strings)
    envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (std::string& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  RunResult result;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned == 0) {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) result.output.append(buffer, static_cast<std::size_t>(n));
    }
    ::waitpid(pid, &result.status, 0);
  }
  ::close(pipe_fds[0]);
  return result;
}

TEST(CpuCount, TasksetPinsToOneCpu) {
  const auto taskset = find_in_path("taskset");
  if (!taskset) GTEST_SKIP() << "taskset (util-linux) is not installed";
  // /proc/self/exe would name taskset once taskset execs it, so resolve it here.
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  ASSERT_FALSE(ec) << "cannot resolve /proc/self/exe: " << ec.message();

  const RunResult run = run_with_print_env({*taskset, "-c", std::to_string(first_allowed_cpu()),
                                            self.string(), "--gtest_filter=CpuCountHelper.PrintCpuCount"});
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0)
      << "status " << run.status << ", output:\n"
      << run.output;
  const std::size_t at = run.output.find(kPrintPrefix);
  ASSERT_NE(at, std::string::npos) << "helper printed no count:\n" << run.output;
  EXPECT_EQ(std::atoi(run.output.c_str() + at + std::char_traits<char>::length(kPrintPrefix)), 1)
      << run.output;
}

// --- this machine ---

TEST(CpuCount, WithinHardwareConcurrency) {
  const unsigned count = cpu_count();
  EXPECT_GE(count, 1U);
  const unsigned hardware = std::thread::hardware_concurrency();
  if (hardware != 0) {
    EXPECT_LE(count, hardware);
  }
  EXPECT_LE(count, affinity_cpu_count());
}

TEST(CpuCount, DefaultSourcesAreTheRealSystem) {
  EXPECT_EQ(cpu_count(CpuSources{}), cpu_count());
  const auto quota = cgroup_cpu_quota(CpuSources{});
  if (quota) {
    EXPECT_GT(*quota, 0.0);
  }
}

}  // namespace
