#pragma once

#include <string>
#include <string_view>

namespace metafs::extract::worker {

// Test-only fault injection. Honoured only when the environment variable
// METAFS_WORKER_TEST_FAULT is set, as KIND or KIND:SUBSTRING (the fault then hits only paths
// containing SUBSTRING). KIND is one of
//   crash    the worker dies of SIGSEGV
//   hang     the worker sleeps forever (the daemon's wall-clock deadline fires)
//   spin     the worker burns CPU forever (the CPU limit or the deadline fires)
//   oom      the worker allocates until the memory limit (RLIMIT_DATA) refuses
//   garbage  the worker replies with bytes that are not a valid reply
//   huge     the worker announces a reply longer than the daemon accepts
//   exit     the worker exits with status 7 without replying
// and, to prove the sandbox holds, attempts that seccomp must stop (SIGSYS); should one
// succeed, the worker exits with status 9:
//   socket   opens an AF_INET socket
//   exec     execs /bin/true
//   fork     forks
//   write    creates a file in /tmp for writing
class FaultPlan {
 public:
  enum class Kind {
    kNone,
    kCrash,
    kHang,
    kSpin,
    kOom,
    kGarbage,
    kHuge,
    kExit,
    kSocket,
    kExec,
    kFork,
    kWrite
  };

  static FaultPlan from_environment();

  // The fault to inject for a request for `path` (kNone almost always).
  Kind for_path(std::string_view path) const;

 private:
  Kind kind_ = Kind::kNone;
  std::string path_contains_;
};

// Crashes, hangs, spins, allocates or tries to leave the sandbox as asked. Throws
// std::bad_alloc for kOom; returns for kNone and the reply faults, which the caller injects.
void trigger(FaultPlan::Kind kind);

}  // namespace metafs::extract::worker
