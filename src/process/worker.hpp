#pragma once
/// \file
/// A ProcessPool worker process: its loop over the frames the program sends it.

namespace parlab::detail::process {

/// Flushes std::cout, std::cerr and every C stream, so that output buffered before a fork is not
/// printed twice and a worker's output is out before it reports.
void flush_stdio();

/// The worker's whole life: serves frames on the stream socket `fd` (an initializer, chunks of
/// tasks) until the program says exit or goes away, recording the running task in the shared
/// page `page_fd`. Exits the process.
[[noreturn]] void worker_main(int fd, int page_fd);

}  // namespace parlab::detail::process
