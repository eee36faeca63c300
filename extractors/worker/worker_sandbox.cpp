#include "worker_sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace metafs::extract::worker {
namespace {

constexpr rlim_t kMaxOpenFiles = 64;

void set_limit(int resource, rlim_t soft, rlim_t hard, const char* name) {
  struct rlimit limit {
    soft, hard
  };
  if (::setrlimit(resource, &limit) != 0) {
    throw std::runtime_error(std::string("cannot set ") + name + ": " + std::strerror(errno));
  }
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

// Adds an allow rule; a system call this architecture does not have is skipped.
void allow(scmp_filter_ctx ctx, const char* name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return;
  if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
    throw std::runtime_error(std::string("seccomp: cannot allow ") + name);
  }
}

void add(scmp_filter_ctx ctx, std::uint32_t action, const char* name, unsigned count,
         const scmp_arg_cmp* args) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return;
  if (seccomp_rule_add_array(ctx, action, nr, count, args) != 0) {
    throw std::runtime_error(std::string("seccomp: cannot add a rule for ") + name);
  }
}

}  // namespace

void apply_limits(const SandboxLimits& limits) {
  // RLIMIT_DATA, not RLIMIT_AS: netCDF-C reads a file through a read-only mapping of all of
  // it, which RLIMIT_AS would count at the file's full size.
  if (limits.data_bytes != 0) {
    set_limit(RLIMIT_DATA, limits.data_bytes, limits.data_bytes, "RLIMIT_DATA");
  }
  set_limit(RLIMIT_CPU, limits.cpu_budget_seconds, limits.cpu_budget_seconds, "RLIMIT_CPU");
  set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE");
  set_limit(RLIMIT_NOFILE, kMaxOpenFiles, kMaxOpenFiles, "RLIMIT_NOFILE");
  ::signal(SIGXFSZ, SIG_IGN);
  // A reload of the unit (`systemctl kill -s HUP`, every process of it) or a closed terminal
  // is for the daemon, which keeps its mount: not a reason for a worker to die mid-file.
  ::signal(SIGHUP, SIG_IGN);
  set_limit(RLIMIT_FSIZE, 0, 0, "RLIMIT_FSIZE");
}

void drop_privileges(long uid, long gid) {
  if (uid < 0) return;
  if (uid == 0 || gid < 0) throw std::runtime_error("workers may not run as root");
  for (int cap = 0; cap < 64; ++cap) {  // past the kernel's last one: EINVAL
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      throw std::runtime_error(std::string("PR_CAPBSET_DROP: ") + std::strerror(errno));
    }
  }
  if (::setgroups(0, nullptr) != 0 ||
      ::setresgid(static_cast<gid_t>(gid), static_cast<gid_t>(gid), static_cast<gid_t>(gid)) != 0 ||
      ::setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) != 0) {
    throw std::runtime_error(std::string("cannot change to the worker account: ") +
                             std::strerror(errno));
  }
  // Changing every uid away from 0 cleared the permitted and effective capabilities; check.
  if (::setresuid(0, 0, 0) == 0) throw std::runtime_error("root could be regained");
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw std::runtime_error(std::string("PR_SET_DUMPABLE: ") + std::strerror(errno));
  }
}

void allow_cpu_seconds(std::uint64_t seconds) {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  struct rlimit limit {};
  ::getrlimit(RLIMIT_CPU, &limit);
  rlim_t used = static_cast<rlim_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1);
  rlim_t soft = used + seconds;
  if (limit.rlim_max != RLIM_INFINITY && soft > limit.rlim_max) soft = limit.rlim_max;
  limit.rlim_cur = soft;
  (void)::setrlimit(RLIMIT_CPU, &limit);
}

void install_seccomp(const SandboxLimits& limits) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    throw std::runtime_error(std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno));
  }
  Filter filter(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!filter) throw std::runtime_error("seccomp_init failed");
  scmp_filter_ctx ctx = filter.get();

  // Reading files and asking about them.
  for (const char* name :
       {"read",      "readv",      "pread64",    "preadv",     "preadv2",   "lseek",
        "close",     "fstat",      "newfstatat", "stat",       "lstat",     "statx",
        "fstatfs",   "statfs",     "readlink",   "readlinkat", "getcwd",    "access",
        "faccessat", "faccessat2", "getdents64", "fcntl",      "fadvise64", "recvmsg"}) {
    allow(ctx, name);
  }
  // Memory without new executable mappings.
  for (const char* name : {"brk", "munmap", "mremap", "madvise"}) allow(ctx, name);
  const scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
  add(ctx, SCMP_ACT_ALLOW, "mmap", 1, &no_exec);
  add(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &no_exec);
  // Threads' synchronisation, signals, time, identity, randomness, limits of this process.
  for (const char* name : {"futex",
                           "exit",
                           "exit_group",
                           "rt_sigreturn",
                           "rt_sigprocmask",
                           "rt_sigaction",
                           "sigaltstack",
                           "getrandom",
                           "clock_gettime",
                           "clock_getres",
                           "gettimeofday",
                           "time",
                           "nanosleep",
                           "clock_nanosleep",
                           "sched_yield",
                           "getpid",
                           "gettid",
                           "getppid",
                           "getuid",
                           "geteuid",
                           "getgid",
                           "getegid",
                           "getrusage",
                           "getrlimit",
                           "setrlimit",
                           "sysinfo",
                           "sched_getaffinity",
                           "uname",
                           "restart_syscall"}) {
    allow(ctx, name);
  }
  const scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, 0);
  add(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &self);
  // abort() and raise() signal this process only.
  const scmp_arg_cmp own_pid = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid()));
  add(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &own_pid);
  // isatty() and friends: "not a terminal" rather than death.
  add(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 0, nullptr);
  // HDF5's file locks (netCDF-C asks for them): "not supported", which HDF5 tolerates.
  add(ctx, SCMP_ACT_ERRNO(ENOSYS), "flock", 0, nullptr);

  // Files come only as descriptors from the daemon: opening anything by name fails (EACCES),
  // so a parser taken over by a hostile file can read nothing else on the host. An open that
  // asks to write or create is fatal, as before.
  const scmp_datum_t write_flags =
      O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);
  const scmp_arg_cmp open_ro = SCMP_A1(SCMP_CMP_MASKED_EQ, write_flags, 0);
  const scmp_arg_cmp openat_ro = SCMP_A2(SCMP_CMP_MASKED_EQ, write_flags, 0);
  add(ctx, SCMP_ACT_ERRNO(EACCES), "open", 1, &open_ro);
  add(ctx, SCMP_ACT_ERRNO(EACCES), "openat", 1, &openat_ro);
  add(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, nullptr);

  // Writes: the reply channel, stdout (a copy of stderr) and stderr only.
  for (int fd : {limits.channel_fd, 1, 2}) {
    if (fd < 0) continue;
    const scmp_arg_cmp to_fd = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fd));
    add(ctx, SCMP_ACT_ALLOW, "write", 1, &to_fd);
    add(ctx, SCMP_ACT_ALLOW, "writev", 1, &to_fd);
  }

  if (int rc = seccomp_load(ctx); rc != 0) {
    throw std::runtime_error(std::string("seccomp_load: ") + std::strerror(-rc));
  }
}

}  // namespace metafs::extract::worker
