#pragma once

#include <cstdint>

namespace metafs::extract::worker {

struct ServeOptions {
  std::uint64_t memory_bytes = 1ull << 30;  // RLIMIT_DATA; 0: unlimited
  double timeout_seconds = 10;              // the daemon's deadline per file; sets the CPU limit
  std::uint64_t max_files = 1000;           // the daemon recycles the worker after this many
  long uid = -1;                            // run as this account once warmed up (-1: keep ours)
  long parent_pid = -1;                     // the daemon: the worker ends when it is gone
  long gid = -1;
};

// The worker process's main loop (`metafs-extract --serve`). Descriptor 0 is a stream socket to
// the daemon. Moves it aside, points 0 at /dev/null and 1 at stderr, warms up the libraries,
// enters the sandbox, then answers one request at a time until the daemon closes the socket.
// Returns the process exit status: 0 after a clean end, 2 for a protocol error, 3 when the
// sandbox cannot be set up.
int serve(const ServeOptions& options);

}  // namespace metafs::extract::worker
