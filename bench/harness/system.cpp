#include "bench/harness/system.hpp"

#include "bench/harness/workloads.hpp"
#include "bench_config.hpp"

#include <parlab/cpu.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace parlab::bench {

namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string compiler() {
#if defined(__clang__)
  return std::string{"clang++ "} + __clang_version__;
#elif defined(__GNUC__)
  return std::string{"g++ "} + __VERSION__;
#else
  return "unknown";
#endif
}

/// "model name" of /proc/cpuinfo, and the number of distinct (physical id, core id) pairs.
std::pair<std::string, unsigned> cpu_model_and_cores() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line, model, physical;
  std::set<std::pair<std::string, std::string>> cores;
  unsigned processors = 0;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto key = trim(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++processors;
      physical.clear();
    } else if (key == "model name" && model.empty()) {
      model = value;
    } else if (key == "physical id") {
      physical = value;
    } else if (key == "core id") {
      cores.emplace(physical, value);
    }
  }
  const unsigned n = cores.empty() ? processors : static_cast<unsigned>(cores.size());
  return {model.empty() ? "unknown" : model, n == 0 ? std::thread::hardware_concurrency() : n};
}

long long mem_total_mib() {
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  long long kib = 0;
  while (in >> key) {
    if (key == "MemTotal:") {
      in >> kib;
      return kib / 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

std::atomic<pid_t> child_group{0};

extern "C" void forward_signal(int sig) {
  const pid_t group = child_group.load();
  if (group > 0) ::kill(-group, sig);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

/// A temporary file, already unlinked: only its descriptor remains.
int anonymous_file() {
  std::string tmpl = "/tmp/parlab-bench-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    throw std::runtime_error(std::string{"cannot create a temporary file: "} + std::strerror(errno));
  ::unlink(tmpl.c_str());
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  if (::lseek(fd, 0, SEEK_SET) < 0) return out;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

Json machine_info() {
  const auto [model, cores] = cpu_model_and_cores();
  utsname uts{};
  ::uname(&uts);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Json quota = nullptr;
  if (auto q = parlab::cgroup_cpu_quota(parlab::CpuSources{})) quota = *q;
  Json m = Json::object();
  m["host"] = host;
  m["cpu_model"] = model;
  m["cores"] = cores;
  m["logical_cpus"] = std::thread::hardware_concurrency();
  m["cpu_count"] = parlab::cpu_count();
  m["affinity_cpus"] = parlab::affinity_cpu_count();
  m["cgroup_cpu_quota"] = quota;
  m["memory_mib"] = mem_total_mib();
  m["os"] = std::string{uts.sysname} + " " + uts.release + " " + uts.machine;
  m["compiler"] = compiler();
  m["cxx_flags"] = PARLAB_BENCH_CXX_FLAGS;
  m["build_type"] = PARLAB_BENCH_BUILD_TYPE;
  m["runtimes"] = runtime_versions();
  m["load_average_1m"] = load_average();
  return m;
}

double load_average() {
  std::ifstream in{"/proc/loadavg"};
  double one = -1;
  if (!(in >> one)) return -1;
  return one;
}

std::optional<std::string> find_executable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return executable(name) ? std::optional{name} : std::nullopt;
  const char* path = std::getenv("PATH");
  std::istringstream dirs{path ? path : "/usr/local/bin:/usr/bin:/bin"};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return std::nullopt;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  if (argv.empty()) throw std::invalid_argument("run_process: no program");
  const int out_fd = anonymous_file();
  const int err_fd = anonymous_file();
  struct Close {
    int a, b;
    ~Close() {
      ::close(a);
      ::close(b);
    }
  } closer{out_fd, err_fd};

  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  ::posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  ::posix_spawnattr_init(&attr);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  ::posix_spawnattr_setpgroup(&attr, 0);

  // Forward Ctrl-C / SIGTERM to the child's group (it has its own, so the terminal's signal does
  // not reach it), then stop as the signal says.
  struct sigaction forward {
  }, old_int{}, old_term{};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  child_group = pid;
  ::sigaction(SIGINT, &forward, &old_int);
  ::sigaction(SIGTERM, &forward, &old_term);

  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // WNOWAIT: the child stays a zombie, so its process group cannot be reused by another
    // process while we kill what is left in it.
    siginfo_t info{};
    const int w = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (w == 0 && info.si_pid == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  // Whatever the child left behind in its group (e.g. pool workers of a crashed Python).
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  child_group = 0;

  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  result.out = read_all(out_fd);
  result.err = read_all(err_fd);
  return result;
}

std::string last_line(const std::string& text) {
  std::istringstream in{text};
  std::string line, last;
  while (std::getline(in, line))
    if (!trim(line).empty()) last = trim(line);
  return last;
}

}  // namespace parlab::bench
