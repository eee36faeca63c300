// Signals sent to a real daemon, as the README's table says: a stop signal unmounts cleanly
// and exits 0, the others leave the mount serving; none leaves a dead mount. And the
// extractor workers do not outlive a killed daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"

extern char** environ;

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::is_live_mount;
using metafs::test::is_mount_point;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

using Clock = std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A running process (not a zombie waiting for its new parent to reap it).
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// Every child of `pid`, whichever of its threads spawned it.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  return out;
}

// `metafs -f SOURCE MOUNTPOINT --no-cache` as a child of the test, optionally started with
// SIGINT and SIGQUIT ignored (as a non-interactive shell starts a background job, and nohup).
// The destructor kills what is left and detaches a dead mount.
struct Start {
  bool inherit_ignored_sigint = false;  // and SIGQUIT, as a shell's background job
  bool inherit_ignored_sighup = false;  // as nohup
  std::string worker_fault;             // METAFS_WORKER_TEST_FAULT for the workers
  bool wait_for_mount = true;
};

Start ignoring_sigint() {
  Start start;
  start.inherit_ignored_sigint = true;
  return start;
}

Start ignoring_sighup() {
  Start start;
  start.inherit_ignored_sighup = true;
  return start;
}

Start without_waiting() {
  Start start;
  start.wait_for_mount = false;
  return start;
}

Start with_worker_fault(const std::string& fault) {
  Start start;
  start.worker_fault = fault;
  return start;
}

class Daemon {
 public:
  Daemon(const fs::path& source, const fs::path& mountpoint, Start start = Start())
      : mountpoint_(mountpoint), log_(mountpoint.parent_path() / "metafs.log") {
    fs::create_directories(mountpoint_);
    std::vector<std::string> args = {binary("metafs").string(), "-f", "--no-cache", source.string(),
                                     mountpoint_.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!start.worker_fault.empty())
      ::setenv("METAFS_WORKER_TEST_FAULT", start.worker_fault.c_str(), 1);
    // An ignored disposition survives exec: set it here for the spawn only.
    std::vector<int> ignored;
    if (start.inherit_ignored_sigint) ignored = {SIGINT, SIGQUIT};
    if (start.inherit_ignored_sighup) ignored.push_back(SIGHUP);
    std::vector<struct sigaction> saved(ignored.size());
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (std::size_t i = 0; i < ignored.size(); ++i) ::sigaction(ignored[i], &ignore, &saved[i]);
    int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    for (std::size_t i = 0; i < ignored.size(); ++i) ::sigaction(ignored[i], &saved[i], nullptr);
    ::unsetenv("METAFS_WORKER_TEST_FAULT");
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "cannot start metafs: " << std::strerror(rc);
      pid_ = -1;
      return;
    }
    if (!start.wait_for_mount) return;
    mounted_ = wait_until(
                   [&] {
                     return exited_status(std::chrono::milliseconds(0)).has_value() ||
                            is_live_mount(mountpoint_);
                   },
                   std::chrono::seconds(10)) &&
               is_live_mount(mountpoint_);
  }

  ~Daemon() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (is_mount_point(mountpoint_))
      run_command("fusermount3 -u -z " + shell_quote(mountpoint_.string()) + " 2>&1");
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  bool mounted() const { return mounted_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_file(log_); }

  // The wait status once the daemon has exited (reaped here), waiting up to `limit`.
  std::optional<int> exited_status(std::chrono::milliseconds limit) {
    if (status_ || pid_ <= 0) return status_;
    auto deadline = Clock::now() + limit;
    do {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (Clock::now() < deadline);
    return status_;
  }

 private:
  fs::path mountpoint_;
  fs::path log_;
  pid_t pid_ = -1;
  bool mounted_ = false;
  std::optional<int> status_;
};

// statfs always reaches the daemon (stat may be answered from the kernel's cache).
std::string mount_state(const fs::path& mountpoint) {
  struct statvfs vfs {};
  if (::statvfs(mountpoint.c_str(), &vfs) != 0) return std::strerror(errno);
  return is_mount_point(mountpoint) ? "mounted" : "not a mount point";
}

class Signals : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    mnt_ = tmp_.path() / "mnt";
    fs::create_directories(src_);
    write_file(src_ / "plain.txt", "plain bytes\n");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "image.fits");
  }

  // The mount answers, with the right bytes, a plain file and a view (a worker extracts it).
  void expect_serving() {
    EXPECT_EQ(read_file(mnt_ / "plain.txt"), "plain bytes\n");
    EXPECT_EQ(read_file(mnt_ / "image.fits" / "format"), "fits\n");
    EXPECT_EQ(read_file(mnt_ / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
  }

  void expect_clean_stop(Daemon& daemon, int signal) {
    ::kill(daemon.pid(), signal);
    auto status = daemon.exited_status(std::chrono::seconds(5));
    ASSERT_TRUE(status) << strsignal(signal) << ": still running after 5 s; mount "
                        << mount_state(mnt_) << "\n"
                        << daemon.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << strsignal(signal) << ": wait status " << *status << "\n"
        << daemon.log();
    EXPECT_FALSE(is_mount_point(mnt_)) << strsignal(signal) << ": mount " << mount_state(mnt_);
  }

  TempDir tmp_;
  fs::path src_, mnt_;
};

TEST_F(Signals, StopSignalsUnmountCleanlyAndExitZero) {
  for (int signal : {SIGTERM, SIGINT, SIGQUIT}) {
    Daemon daemon(src_, mnt_);
    ASSERT_TRUE(daemon.mounted()) << daemon.log();
    expect_serving();
    expect_clean_stop(daemon, signal);
    EXPECT_NE(daemon.log().find(std::string("SIG") + sigabbrev_np(signal) + ": stopping"),
              std::string::npos)
        << daemon.log();
  }
}

TEST_F(Signals, SigintAndSigquitStopEvenWhenInheritedIgnored) {
  for (int signal : {SIGINT, SIGQUIT}) {
    Daemon daemon(src_, mnt_, ignoring_sigint());
    ASSERT_TRUE(daemon.mounted()) << daemon.log();
    expect_serving();
    expect_clean_stop(daemon, signal);
  }
}

// SIGHUP is `systemctl reload` (and a closed terminal): logged, never an unmount, whether
// the daemon was started with it ignored (nohup) or not.
TEST_F(Signals, SighupNeverUnmounts) {
  for (Start start : {Start(), ignoring_sighup()}) {
    Daemon daemon(src_, mnt_, start);
    ASSERT_TRUE(daemon.mounted()) << daemon.log();
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ASSERT_FALSE(daemon.exited_status(std::chrono::milliseconds(0))) << daemon.log();
      EXPECT_EQ(mount_state(mnt_), "mounted");
      expect_serving();
    }
    EXPECT_NE(daemon.log().find("SIGHUP from pid " + std::to_string(::getpid()) +
                                ": nothing to re-open (no --log-file); still mounted"),
              std::string::npos)
        << daemon.log();
    expect_clean_stop(daemon, SIGTERM);
  }
}

TEST_F(Signals, OtherSignalsLeaveTheMountServing) {
  Daemon daemon(src_, mnt_);
  ASSERT_TRUE(daemon.mounted()) << daemon.log();
  for (int signal :
       {SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGXCPU, SIGXFSZ, SIGRTMIN}) {
    ASSERT_EQ(::kill(daemon.pid(), signal), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_FALSE(daemon.exited_status(std::chrono::milliseconds(0)))
        << strsignal(signal) << " ended the daemon\n"
        << daemon.log();
    EXPECT_EQ(mount_state(mnt_), "mounted") << strsignal(signal);
    expect_serving();
  }
  // SIGUSR1 logs the counters of stats.json on one line; the others are ignored, logged once.
  std::string log = daemon.log();
  EXPECT_NE(log.find("stats: {\"version\""), std::string::npos) << log;
  EXPECT_NE(log.find("SIGUSR2 from pid " + std::to_string(::getpid()) + " ignored"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("SIGALRM from pid"), std::string::npos) << log;
  expect_clean_stop(daemon, SIGTERM);
}

TEST_F(Signals, ABurstOfIgnoredSignalsIsLoggedOnce) {
  Daemon daemon(src_, mnt_);
  ASSERT_TRUE(daemon.mounted()) << daemon.log();
  for (int i = 0; i < 200; ++i) ::kill(daemon.pid(), i % 2 == 0 ? SIGUSR2 : SIGALRM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  expect_serving();
  std::string log = daemon.log();
  std::size_t lines = 0;
  for (auto at = log.find(" ignored"); at != std::string::npos; at = log.find(" ignored", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << log;
  expect_clean_stop(daemon, SIGTERM);
}

TEST_F(Signals, AStopSignalDuringStartUpNeverLeavesADeadMount) {
  // Before the daemon has set up its signals it dies of SIGTERM with nothing mounted; after,
  // it waits for the signal until it can unmount. Either way no mount is left behind.
  for (int delay_ms : {0, 2, 5, 10, 20, 40, 80, 160}) {
    Daemon daemon(src_, mnt_, without_waiting());
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(daemon.pid(), SIGTERM);
    auto status = daemon.exited_status(std::chrono::seconds(10));
    ASSERT_TRUE(status) << delay_ms << " ms: still running\n" << daemon.log();
    EXPECT_TRUE((WIFEXITED(*status) && WEXITSTATUS(*status) == 0) ||
                (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM))
        << delay_ms << " ms: wait status " << *status << "\n"
        << daemon.log();
    EXPECT_FALSE(is_mount_point(mnt_)) << delay_ms << " ms: mount " << mount_state(mnt_);
  }
}

TEST_F(Signals, WorkersDieWithAKilledDaemon) {
  // One worker hangs inside an extraction, as a slow file would keep it busy.
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "slow.fits");
  Daemon daemon(src_, mnt_, with_worker_fault("hang:slow"));
  ASSERT_TRUE(daemon.mounted()) << daemon.log();
  expect_serving();
  std::thread reader([&] {
    std::ifstream in(mnt_ / "slow.fits" / "format");  // fails once the daemon is gone
  });
  std::vector<pid_t> workers;
  bool busy = wait_until(
      [&] {
        workers = children_of(daemon.pid());
        return workers.size() >= 2;
      },
      std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the request reaches a worker
  workers = children_of(daemon.pid());
  EXPECT_TRUE(busy) << "workers: " << workers.size() << "\n" << daemon.log();
  ASSERT_FALSE(workers.empty());

  ::kill(daemon.pid(), SIGKILL);
  ASSERT_TRUE(daemon.exited_status(std::chrono::seconds(5)));
  auto start = Clock::now();
  bool gone = wait_until(
      [&] {
        for (pid_t worker : workers) {
          if (process_running(worker)) return false;
        }
        return true;
      },
      std::chrono::seconds(1));
  std::string left;
  for (pid_t worker : workers) {
    if (process_running(worker)) left += " " + std::to_string(worker);
  }
  EXPECT_TRUE(gone) << "still running 1 s after the daemon was killed:" << left;
  for (pid_t worker : workers) {
    if (process_running(worker)) ::kill(worker, SIGKILL);
  }
  run_command("fusermount3 -u -z " + shell_quote(mnt_.string()) + " 2>&1");
  reader.join();
  RecordProperty(
      "workers_gone_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));
}

TEST_F(Signals, WorkersAreGoneOnceACleanStopHasExited) {
  Daemon daemon(src_, mnt_);
  ASSERT_TRUE(daemon.mounted()) << daemon.log();
  expect_serving();
  std::vector<pid_t> workers = children_of(daemon.pid());
  ASSERT_FALSE(workers.empty());
  expect_clean_stop(daemon, SIGTERM);
  for (pid_t worker : workers) EXPECT_FALSE(process_running(worker)) << worker;
}

}  // namespace
