#pragma once
/// \file
/// parlab::cpu_count — how many CPUs this process may use, the way os.process_cpu_count() should
/// have been: affinity mask and cgroup CPU quota (v1 and v2) both count.

#include <filesystem>
#include <optional>

namespace parlab {

/// CPUs this process may use: min(affinity mask, cgroup CPU quota rounded up), at least 1.
[[nodiscard]] unsigned cpu_count();

/// Where cpu_count() looks; tests point this at a fake tree.
struct CpuSources {
  /// Mount point of the cgroup file systems: the v2 hierarchy itself, or a directory holding the
  /// v1 controller mounts (cpu,cpuacct/, cpu/, ...) and, on hybrid systems, unified/.
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  /// The process's cgroup membership, in the format of /proc/<pid>/cgroup.
  std::filesystem::path proc_self_cgroup = "/proc/self/cgroup";
};

/// cpu_count() with the cgroup quota read from `sources` (the affinity mask is still the real one).
[[nodiscard]] unsigned cpu_count(const CpuSources& sources);

/// The CPU quota of the cgroup hierarchy in CPUs (e.g. 1.5), or std::nullopt when unlimited.
/// The strictest limit between the process's cgroup and the root wins; unreadable or malformed
/// files impose no limit.
[[nodiscard]] std::optional<double> cgroup_cpu_quota(const CpuSources& sources);

/// CPUs in this process's affinity mask (at least 1).
[[nodiscard]] unsigned affinity_cpu_count();

}  // namespace parlab
