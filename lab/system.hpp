#pragma once
/// \file
/// What the lab asks of the operating system: this machine's host name, the output folder, and
/// files written atomically.

#include <filesystem>
#include <string>
#include <string_view>

namespace parlab::lab {

/// This machine's host name (Python's socket.gethostname()).
[[nodiscard]] std::string host_name();
/// Writes `content` to `path` through a temporary file in the same folder and a rename: readers
/// see the old file or the new one, never a partial one. Throws std::runtime_error.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);
/// Creates the folder `dir` of a command's --out if it is missing, and checks that it is a writable
/// folder. Throws UsageError ("--out DIR: ...") when it is not.
void create_out_folder(const std::filesystem::path& dir);

}  // namespace parlab::lab
