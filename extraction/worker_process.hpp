#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker_protocol.hpp"

namespace metafs::extraction {

using Clock = std::chrono::steady_clock;

// How to start a worker: the executable (`metafs-extract`) and its arguments after argv[0].
struct WorkerCommand {
  std::filesystem::path executable;
  std::vector<std::string> args;
};

// One sandboxed extractor process and the daemon's end of its socket. Not thread-safe: one
// request at a time, from the thread that owns it. The destructor kills and reaps it.
class WorkerProcess {
 public:
  // Spawns the worker with posix_spawn (never fork: the daemon is threaded and holds LMDB and
  // FUSE state). The child gets its socket end as descriptor 0 and no other descriptor of the
  // daemon (closefrom 3), and the daemon's environment with glibc's tunables for a worker
  // added (GLIBC_TUNABLES, worker_allocator.hpp). Waits until `deadline` for its kReady frame.
  // Throws std::runtime_error saying why the worker could not be started. Once `cancel_fd` (an
  // eventfd of the pool, borrowed; -1: none) is readable, every wait on this worker ends with
  // kCancelled.
  static std::unique_ptr<WorkerProcess> spawn(const WorkerCommand& command,
                                              Clock::time_point deadline, int cancel_fd = -1);

  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Workers of this process that said they were ready and whose object still stands (a gauge
  // for stats.json: a freshly started daemon serves its first files once they are up). One
  // killed while idle counts until the request that next uses it finds it gone.
  static unsigned ready_count() { return ready_count_.load(std::memory_order_relaxed); }

  // The CPU time the process has used (its CPU-time clock, clock_getcpuclockid(3): one system
  // call, no /proc file to open and parse on each request). std::nullopt once it is gone.
  std::optional<double> cpu_seconds() const;
  // Whether the process is stopped (SIGSTOP, a tracer; from /proc/<pid>/stat) and its CPU
  // time (cpu_seconds()). std::nullopt once it is gone.
  struct Usage {
    bool stopped = false;
    double cpu_seconds = 0;
  };
  std::optional<Usage> usage() const;

  enum class Outcome {
    kReply,      // header and payload below
    kDied,       // the socket closed: the process exited or was killed
    kTimedOut,   // nothing complete before the deadline
    kBadReply,   // bytes that are not a reply frame of this version
    kCancelled,  // the pool is stopping: the worker may be mid-request
  };
  struct Exchange {
    Outcome outcome = Outcome::kDied;
    extract::worker::ReplyHeader header;
    std::string payload;
  };

  // Sends one encoded request with the data file's descriptor `file` attached (the worker gets
  // a copy of it) and reads its reply, never past `deadline`. The payload is read only up to
  // the length the (validated, capped) header announced.
  Exchange exchange(const std::string& request, int file, Clock::time_point deadline);

  // SIGKILL (unless already reaped) and reap; returns the wait status.
  int kill_and_reap();
  // For a worker whose socket closed: waits up to `grace` for it to exit by itself, then
  // kills it; returns the wait status.
  int reap(std::chrono::milliseconds grace);

 private:
  WorkerProcess(pid_t pid, int fd, int cancel_fd) : pid_(pid), fd_(fd), cancel_fd_(cancel_fd) {}

  enum class Io { kDone, kClosed, kTimedOut, kCancelled };
  // Waits until the socket is ready for `events` (kDone), the deadline or a cancellation.
  Io wait_ready(short events, Clock::time_point deadline);
  static Outcome outcome_of(Io io);
  Io read_exact(char* data, std::size_t size, Clock::time_point deadline);
  Io write_all(const char* data, std::size_t size, Clock::time_point deadline);
  // Sends the first bytes of `data` with `fd` attached; *sent says how many went.
  Io send_descriptor(const std::string& data, int fd, std::size_t* sent,
                     Clock::time_point deadline);
  Exchange read_reply(Clock::time_point deadline);

  static inline std::atomic<unsigned> ready_count_{0};
  bool counted_ = false;  // in ready_count_
  pid_t pid_;
  int fd_;
  int cancel_fd_;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace metafs::extraction
