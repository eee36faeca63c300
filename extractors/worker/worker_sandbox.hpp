#pragma once

#include <cstdint>
#include <string>

namespace metafs::extract::worker {

struct SandboxLimits {
  std::uint64_t data_bytes = 1ull << 30;  // RLIMIT_DATA (heap, private writable maps); 0: none
  // RLIMIT_CPU hard limit for the worker's whole life; the soft limit is moved per file.
  std::uint64_t cpu_budget_seconds = 3600;
  int channel_fd = -1;  // the only descriptor besides 1 and 2 that may be written
};

// Resource limits: RLIMIT_DATA, RLIMIT_CPU, RLIMIT_FSIZE = 0 (SIGXFSZ ignored, so a write to a
// regular file fails with EFBIG instead of killing), RLIMIT_CORE = 0, RLIMIT_NOFILE small.
// Throws std::runtime_error naming the limit that could not be set.
void apply_limits(const SandboxLimits& limits);

// PR_SET_NO_NEW_PRIVS, then the seccomp allow-list (see README.md). Irreversible: call it
// after every library is initialised. Any other system call kills the process with SIGSYS.
// Throws std::runtime_error when the filter cannot be installed.
void install_seccomp(const SandboxLimits& limits);

// Becomes `uid`:`gid` with no supplementary groups and no capabilities (the bounding set is
// emptied first, so nothing can regain them) and not dumpable (no other process of that
// account may ptrace it or read its memory). A no-op when `uid` < 0. Throws std::runtime_error
// when any step fails or root is still held afterwards.
void drop_privileges(long uid, long gid);

// Lets this file use at most `seconds` more CPU time (soft RLIMIT_CPU; SIGXCPU after that).
void allow_cpu_seconds(std::uint64_t seconds);

}  // namespace metafs::extract::worker
