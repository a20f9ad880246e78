#include "parlab/cpu.hpp"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace parlab {
namespace {

namespace fs = std::filesystem;

// cgroup files are a few bytes; anything larger is not one.
constexpr std::size_t kMaxFileSize = 64 * 1024;

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileSize) return std::nullopt;
  }
  if (in.bad()) return std::nullopt;
  return text;
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> tokens;
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  std::size_t pos = text.find_first_not_of(kSpace);
  while (pos != std::string_view::npos) {
    const std::size_t end = text.find_first_of(kSpace, pos);
    tokens.push_back(text.substr(pos, end == std::string_view::npos ? end : end - pos));
    pos = end == std::string_view::npos ? end : text.find_first_not_of(kSpace, end);
  }
  return tokens;
}

std::optional<std::int64_t> parse_int(std::string_view token) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
  return value;
}

std::optional<double> quota_ratio(std::optional<std::int64_t> quota, std::optional<std::int64_t> period) {
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

// A single-token file such as cpu.cfs_quota_us.
std::optional<std::int64_t> read_int_file(const fs::path& path) {
  const auto text = read_small_file(path);
  if (!text) return std::nullopt;
  const auto tokens = split_whitespace(*text);
  if (tokens.size() != 1) return std::nullopt;
  return parse_int(tokens[0]);
}

// cgroup v2 cpu.max: "max 100000" or "150000 100000".
std::optional<double> v2_limit(const fs::path& dir) {
  const auto text = read_small_file(dir / "cpu.max");
  if (!text) return std::nullopt;
  const auto tokens = split_whitespace(*text);
  if (tokens.size() != 2 || tokens[0] == "max") return std::nullopt;
  return quota_ratio(parse_int(tokens[0]), parse_int(tokens[1]));
}

// cgroup v1 cpu.cfs_quota_us (-1 = unlimited) over cpu.cfs_period_us.
std::optional<double> v1_limit(const fs::path& dir) {
  return quota_ratio(read_int_file(dir / "cpu.cfs_quota_us"), read_int_file(dir / "cpu.cfs_period_us"));
}

std::optional<double> stricter(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

bool directory_exists(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The strictest limit from the process's cgroup `cgroup_path` up to the hierarchy's mount point.
// When the path does not exist under the mount (a namespaced container sees its own cgroup as
// the mount root), only the mount root's own files count.
template <class ReadLimit>
std::optional<double> walk_up(const fs::path& mount, std::string_view cgroup_path, ReadLimit read_limit) {
  std::vector<fs::path> dirs{mount};
  bool escapes = false;
  for (const fs::path& part : fs::path(cgroup_path).relative_path()) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      escapes = true;
      break;
    }
    dirs.push_back(dirs.back() / part);
  }
  if (escapes || !directory_exists(dirs.back())) dirs.resize(1);

  std::optional<double> limit;
  for (const fs::path& dir : dirs)
    limit = stricter(limit, read_limit(dir));
  return limit;
}

struct CgroupLine {
  std::string_view controllers;
  std::string_view path;
};

// "hierarchy-id:controller-list:cgroup-path" lines; the path may itself contain ':'.
std::vector<CgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<CgroupLine> lines;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const std::size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    const std::size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    lines.push_back({line.substr(first + 1, second - first - 1), line.substr(second + 1)});
  }
  return lines;
}

bool lists_cpu_controller(std::string_view controllers) {
  while (!controllers.empty()) {
    const std::size_t comma = controllers.find(',');
    if (controllers.substr(0, comma) == "cpu") return true;
    if (comma == std::string_view::npos) break;
    controllers.remove_prefix(comma + 1);
  }
  return false;
}

// Pure v2 mounts the hierarchy at the root; hybrid systems mount it at unified/.
fs::path v2_mount(const fs::path& root) {
  std::error_code ec;
  if (fs::exists(root / "cgroup.controllers", ec)) return root;
  if (directory_exists(root / "unified")) return root / "unified";
  return root;
}

std::optional<fs::path> v1_cpu_mount(const fs::path& root, std::string_view controllers) {
  for (const fs::path& candidate :
       {root / controllers, root / "cpu,cpuacct", root / "cpuacct,cpu", root / "cpu"}) {
    if (directory_exists(candidate)) return candidate;
  }
  return std::nullopt;
}

struct CpuSetDeleter {
  void operator()(cpu_set_t* set) const noexcept { CPU_FREE(set); }
};

}  // namespace

std::optional<double> cgroup_cpu_quota(const CpuSources& sources) {
  const auto text = read_small_file(sources.proc_self_cgroup);
  if (!text) return std::nullopt;

  std::optional<double> limit;
  for (const CgroupLine& line : parse_proc_cgroup(*text)) {
    if (line.controllers.empty()) {
      limit = stricter(limit, walk_up(v2_mount(sources.cgroup_root), line.path, v2_limit));
    } else if (lists_cpu_controller(line.controllers)) {
      if (const auto mount = v1_cpu_mount(sources.cgroup_root, line.controllers)) {
        limit = stricter(limit, walk_up(*mount, line.path, v1_limit));
      }
    }
  }
  return limit;
}

unsigned affinity_cpu_count() {
  // Grow the set until the kernel's CPU count fits (EINVAL means the set is too small).
  for (std::size_t cpus = 1024; cpus <= (std::size_t{1} << 22); cpus *= 2) {
    const std::unique_ptr<cpu_set_t, CpuSetDeleter> set(CPU_ALLOC(cpus));
    if (!set) break;
    const std::size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set.get());
    if (sched_getaffinity(0, size, set.get()) == 0) {
      return static_cast<unsigned>(std::max(1, CPU_COUNT_S(size, set.get())));
    }
    if (errno != EINVAL) break;
  }
  return std::max(1U, std::thread::hardware_concurrency());
}

unsigned cpu_count(const CpuSources& sources) {
  const unsigned affinity = affinity_cpu_count();
  const auto quota = cgroup_cpu_quota(sources);
  if (!quota || *quota >= static_cast<double>(affinity)) return affinity;
  return std::max(1U, static_cast<unsigned>(std::ceil(*quota)));
}

unsigned cpu_count() { return cpu_count(CpuSources{}); }

}  // namespace parlab
