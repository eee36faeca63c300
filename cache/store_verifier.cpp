#include "store_verifier.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/fmt/fmt.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include "signal_name.hpp"

extern char** environ;

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxMessage = 512;
constexpr auto kPollInterval = std::chrono::milliseconds(5);

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string read_message(int fd) {
  std::string out;
  char buffer[256];
  while (out.size() < kMaxMessage) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.substr(0, kMaxMessage);
}

}  // namespace

fs::path default_store_verifier() {
  if (const char* over = std::getenv("METAFS_CACHE_VERIFIER"); over != nullptr && *over != '\0') {
    return over;
  }
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "metafs-cache-verify";
  return self.parent_path() / "metafs-cache-verify";
}

std::optional<std::string> verify_store_out_of_process(const fs::path& dir,
                                                       const fs::path& verifier,
                                                       std::chrono::milliseconds deadline) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return "could not be verified (pipe: " + errno_text(errno) + ")";
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Default dispositions and no mask: a fault must end the child, whatever the daemon's
  // threads block or ignore.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string program = verifier.string(), argument = dir.string();
  char* argv[] = {program.data(), argument.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return fmt::format("could not be verified ({} cannot be started: {})", program, errno_text(rc));
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  bool timed_out = false;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      ::close(pipe_fds[0]);
      return "could not be verified (waitpid: " + errno_text(errno) + ")";
    }
    if (!timed_out && std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      timed_out = true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  std::string message = read_message(pipe_fds[0]);
  ::close(pipe_fds[0]);
  if (timed_out) {
    return fmt::format("its verification took longer than {} s", deadline.count() / 1000);
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("damaged: reading it killed the verifier by {}",
                       extract::signal_name(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) == 1) return "damaged: " + message;
  if (WEXITSTATUS(status) != 0) {
    return fmt::format("could not be verified ({} exited with {}: {})", program,
                       WEXITSTATUS(status), message);
  }
  return std::nullopt;
}

}  // namespace metafs::cache
