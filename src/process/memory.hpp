#pragma once
/// \file
/// How much memory a ProcessPool worker holds: its resident set size, for max_memory_per_child
/// and max_memory_hard.

#include <cstddef>
#include <optional>

namespace parlab::detail::process {

/// The resident set size of process `pid` in bytes (/proc/<pid>/statm), or nullopt when it
/// cannot be read (the process is gone).
[[nodiscard]] std::optional<std::size_t> resident_bytes(long pid);

}  // namespace parlab::detail::process
