#include "extraction/worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "extraction/log.hpp"
#include "signal_name.hpp"
#include "worker_allocator.hpp"

extern char** environ;

namespace metafs::extraction {
namespace {

using extract::worker::kFrameHeaderBytes;
using extract::worker::kWorkerExitNoSandbox;
using extract::worker::ReplyStatus;

// Reads of a reply grow the buffer in steps, so a header announcing 64 MiB costs memory only
// when the bytes really come.
constexpr std::size_t kReadStep = 1 << 20;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(left.count() + 1, 60'000));
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attr_);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // Default dispositions and an empty mask: the daemon's FUSE threads block and ignore
    // signals that the worker must feel (SIGPIPE, SIGXCPU, ...). Its own process group: a
    // terminal's Ctrl-C goes to the daemon, which then ends its workers.
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setflags(
        &attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  explicit FileActions(int channel) {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_adddup2(&actions_, channel, 0);
    // Whatever the daemon forgot to mark close-on-exec stays behind too.
    posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::unique_ptr<WorkerProcess> WorkerProcess::spawn(const WorkerCommand& command,
                                                    Clock::time_point deadline, int cancel_fd) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  std::vector<std::string> args = {command.executable.string()};
  args.insert(args.end(), command.args.begin(), command.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The daemon's environment, with glibc's tunables for a worker (worker_allocator.hpp) last.
  std::vector<std::string> env_strings;
  constexpr std::string_view kTunables = "GLIBC_TUNABLES=";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::string_view(*entry).substr(0, kTunables.size()) != kTunables)
      env_strings.emplace_back(*entry);
  }
  env_strings.push_back(std::string(kTunables) +
                        extract::worker::worker_tunables(std::getenv("GLIBC_TUNABLES")));
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc;
  {
    FileActions actions(sv[1]);
    SpawnAttributes attributes;
    rc = ::posix_spawn(&pid, argv[0], actions.get(), attributes.get(), argv.data(), envp.data());
  }
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw std::runtime_error("cannot start " + command.executable.string() + ": " +
                             std::strerror(rc));
  }
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, sv[0], cancel_fd));
  Exchange hello = worker->read_reply(deadline);
  if (hello.outcome == Outcome::kReply && hello.header.status == ReplyStatus::kReady) {
    worker->counted_ = true;
    ready_count_.fetch_add(1, std::memory_order_relaxed);
    return worker;
  }
  if (hello.outcome == Outcome::kDied) {
    int status = worker->reap(std::chrono::milliseconds(1000));
    if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitNoSandbox) {
      throw std::runtime_error("the worker could not enter its sandbox (see its stderr)");
    }
    throw std::runtime_error("the worker ended before it was ready (" +
                             (WIFSIGNALED(status)
                                  ? extract::signal_name(WTERMSIG(status))
                                  : "status " + std::to_string(WEXITSTATUS(status))) +
                             ")");
  }
  throw std::runtime_error(hello.outcome == Outcome::kTimedOut
                               ? "the worker did not get ready in time"
                           : hello.outcome == Outcome::kCancelled
                               ? "the daemon is stopping"
                               : "the worker said something unexpected instead of hello");
}

WorkerProcess::~WorkerProcess() {
  if (counted_) ready_count_.fetch_sub(1, std::memory_order_relaxed);
  kill_and_reap();
  if (fd_ >= 0) ::close(fd_);
}

std::optional<double> WorkerProcess::cpu_seconds() const {
  if (reaped_) return std::nullopt;
  clockid_t clock{};
  struct timespec used {};
  if (::clock_getcpuclockid(pid_, &clock) != 0 || ::clock_gettime(clock, &used) != 0) {
    return std::nullopt;
  }
  return static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) * 1e-9;
}

std::optional<WorkerProcess::Usage> WorkerProcess::usage() const {
  if (reaped_) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "pid (comm) state ...": comm may hold spaces; the state follows its ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string state;
  if (!(fields >> state)) return std::nullopt;
  auto cpu = cpu_seconds();
  if (!cpu) return std::nullopt;
  Usage usage;
  usage.stopped = state == "T" || state == "t";
  usage.cpu_seconds = *cpu;
  return usage;
}

int WorkerProcess::kill_and_reap() {
  if (reaped_) return status_;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return status_;
}

int WorkerProcess::reap(std::chrono::milliseconds grace) {
  if (reaped_) return status_;
  auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    pid_t rc = ::waitpid(pid_, &status_, WNOHANG);
    if (rc == pid_ || (rc < 0 && errno == ECHILD)) {
      reaped_ = true;
      return status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return kill_and_reap();
}

WorkerProcess::Io WorkerProcess::wait_ready(short events, Clock::time_point deadline) {
  int wait = remaining_ms(deadline);
  if (wait == 0) return Io::kTimedOut;
  pollfd p[2] = {{fd_, events, 0}, {cancel_fd_, POLLIN, 0}};
  int rc = ::poll(p, cancel_fd_ >= 0 ? 2 : 1, wait);
  if (rc < 0 && errno != EINTR) return Io::kClosed;
  if (rc > 0 && cancel_fd_ >= 0 && p[1].revents != 0) return Io::kCancelled;
  return Io::kDone;  // ready, or woken early: the caller tries again
}

WorkerProcess::Outcome WorkerProcess::outcome_of(Io io) {
  switch (io) {
    case Io::kClosed:
      return Outcome::kDied;
    case Io::kCancelled:
      return Outcome::kCancelled;
    default:
      return Outcome::kTimedOut;
  }
}

WorkerProcess::Io WorkerProcess::read_exact(char* data, std::size_t size,
                                            Clock::time_point deadline) {
  while (size > 0) {
    ssize_t n = ::recv(fd_, data, size, MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Io::kClosed;
    if (Io io = wait_ready(POLLIN, deadline); io != Io::kDone) return io;
  }
  return Io::kDone;
}

WorkerProcess::Io WorkerProcess::write_all(const char* data, std::size_t size,
                                           Clock::time_point deadline) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Io::kClosed;
    if (Io io = wait_ready(POLLOUT, deadline); io != Io::kDone) return io;
  }
  return Io::kDone;
}

WorkerProcess::Exchange WorkerProcess::read_reply(Clock::time_point deadline) {
  Exchange result;
  std::string header(kFrameHeaderBytes, '\0');
  Io io = read_exact(header.data(), header.size(), deadline);
  if (io != Io::kDone) {
    result.outcome = outcome_of(io);
    return result;
  }
  auto decoded = extract::worker::decode_reply_header(header);
  if (!decoded) {
    result.outcome = Outcome::kBadReply;
    return result;
  }
  result.header = *decoded;
  std::size_t total = decoded->payload_bytes;
  while (result.payload.size() < total) {
    std::size_t have = result.payload.size();
    std::size_t step = std::min(kReadStep, total - have);
    result.payload.resize(have + step);
    io = read_exact(result.payload.data() + have, step, deadline);
    if (io != Io::kDone) {
      result.outcome = outcome_of(io);
      result.payload.clear();
      return result;
    }
  }
  result.outcome = Outcome::kReply;
  return result;
}

WorkerProcess::Io WorkerProcess::send_descriptor(const std::string& data, int fd, std::size_t* sent,
                                                 Clock::time_point deadline) {
  for (;;) {
    long n = extract::worker::send_with_descriptor(fd_, data, fd);
    if (n > 0) {
      *sent = static_cast<std::size_t>(n);
      return Io::kDone;
    }
    if (n != -EAGAIN && n != -EWOULDBLOCK) return Io::kClosed;
    if (Io io = wait_ready(POLLOUT, deadline); io != Io::kDone) return io;
  }
}

WorkerProcess::Exchange WorkerProcess::exchange(const std::string& request, int file,
                                                Clock::time_point deadline) {
  std::size_t sent = 0;
  Io io = send_descriptor(request, file, &sent, deadline);
  if (io == Io::kDone) io = write_all(request.data() + sent, request.size() - sent, deadline);
  if (io != Io::kDone) {
    Exchange result;
    result.outcome = outcome_of(io);
    return result;
  }
  return read_reply(deadline);
}

}  // namespace metafs::extraction
