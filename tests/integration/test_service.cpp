// Running as a service: readiness notification, clean stop, recovery from a dead mount, the
// systemd unit, and source changes showing through long kernel cache timeouts.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

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

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::is_live_mount;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

using Clock = std::chrono::steady_clock;

// Polls `condition` every 20 ms for up to `limit`; returns the time it took, or nullopt.
std::optional<std::chrono::milliseconds> wait_for(const std::function<bool()>& condition,
                                                  std::chrono::milliseconds limit) {
  auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (condition()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::string read_or_empty(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "";
  return read_file(path);
}

class LiveChanges : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "dir");
    write_file(src_ / "dir" / "plain.txt", "first\n");
    write_file(src_ / "dir" / "gone.txt", "to be deleted\n");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "dir" / "image.fits");
    // Long kernel caching: only invalidation can make changes visible within the test.
    mount_ = std::make_unique<MountRunner>(
        src_, std::vector<std::string>{"--entry-timeout", "600", "--attr-timeout", "600",
                                       "--watch-timeout", "600", "--no-cache"});
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
    // Let the kernel cache everything first.
    ASSERT_EQ(read_file(mnt_ / "dir" / "plain.txt"), "first\n");
    ASSERT_EQ(read_file(mnt_ / "dir" / "gone.txt"), "to be deleted\n");
    ASSERT_EQ(read_file(mnt_ / "dir" / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
    ASSERT_FALSE(fs::exists(mnt_ / "dir" / "new.txt"));
  }

  TempDir tmp_;
  fs::path src_, mnt_;
  std::unique_ptr<MountRunner> mount_;
};

constexpr std::chrono::milliseconds kVisibleWithin{2000};

TEST_F(LiveChanges, EditedFileShowsNewContent) {
  write_file(src_ / "dir" / "plain.txt", "second version, longer\n");
  auto took = wait_for(
      [&] { return read_or_empty(mnt_ / "dir" / "plain.txt") == "second version, longer\n"; },
      kVisibleWithin);
  ASSERT_TRUE(took) << "edit not visible; mount shows: " << read_or_empty(mnt_ / "dir/plain.txt");
  RecordProperty("ms", static_cast<int>(took->count()));
}

TEST_F(LiveChanges, AddedAndDeletedFilesShowUp) {
  write_file(src_ / "dir" / "new.txt", "new\n");
  fs::remove(src_ / "dir" / "gone.txt");
  EXPECT_TRUE(wait_for([&] { return fs::exists(mnt_ / "dir" / "new.txt"); }, kVisibleWithin))
      << "added file not visible";
  EXPECT_TRUE(wait_for([&] { return !fs::exists(mnt_ / "dir" / "gone.txt"); }, kVisibleWithin))
      << "deleted file still visible";
  EXPECT_EQ(read_file(mnt_ / "dir" / "new.txt"), "new\n");
}

TEST_F(LiveChanges, ReplacedDataFileShowsItsNewMetadata) {
  // Same name, another FITS file: the directory must describe the new one.
  fs::path replacement = tmp_.path() / "replacement.fits";
  fs::copy_file(corpus_dir() / "fits" / "testprog.std", replacement);
  std::string expected_naxis =
      run_command(shell_quote(binary("metafs-extract").string()) + " --as txt " +
                  shell_quote(replacement.string()) + " | grep -P '^0/NAXIS\\t' | cut -f2");
  ASSERT_FALSE(expected_naxis.empty());
  ASSERT_NE(expected_naxis, "0\n");
  fs::rename(replacement, src_ / "dir" / "image.fits");
  auto took = wait_for(
      [&] {
        return read_or_empty(mnt_ / "dir" / "image.fits" / "fields" / "0" / "NAXIS") ==
               expected_naxis;
      },
      kVisibleWithin);
  EXPECT_TRUE(took) << "still shows NAXIS "
                    << read_or_empty(mnt_ / "dir/image.fits/fields/0/NAXIS");
}

TEST_F(LiveChanges, FileTurningIntoDataFileBecomesADirectory) {
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "dir" / "plain.txt",
                fs::copy_options::overwrite_existing);
  EXPECT_TRUE(
      wait_for([&] { return fs::is_directory(mnt_ / "dir" / "plain.txt"); }, kVisibleWithin));
}

// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  // The next message, or "" after `timeout_ms`.
  std::string receive(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return "";
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

TEST(Service, ReadyOnlyOnceMountedThenStoppingOnSigterm) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::create_directories(tmp.path() / "mnt");
  NotifySocket notify(tmp.path() / "notify.sock");
  ::setenv("NOTIFY_SOCKET", (tmp.path() / "notify.sock").c_str(), 1);
  pid_t pid = 0;
  std::string metafs = binary("metafs").string();
  std::string src = (tmp.path() / "src").string(), mnt = (tmp.path() / "mnt").string();
  const char* argv[] = {metafs.c_str(), "-f", src.c_str(), mnt.c_str(), nullptr};
  pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::unsetenv("NOTIFY_SOCKET");
  std::string message = notify.receive(10000);
  EXPECT_NE(message.find("READY=1"), std::string::npos) << message;
  EXPECT_TRUE(is_live_mount(tmp.path() / "mnt")) << "READY=1 before the mount was live";

  auto start = Clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  bool exited = false;
  while (Clock::now() - start < std::chrono::seconds(5)) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    run_command("fusermount3 -u -z " + shell_quote(mnt));
  }
  ASSERT_TRUE(exited) << "metafs did not stop within 5 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_FALSE(is_live_mount(tmp.path() / "mnt"));
  EXPECT_FALSE(metafs::test::is_mount_point(tmp.path() / "mnt")) << "left a mount behind";
  EXPECT_NE(notify.receive(1000).find("STOPPING=1"), std::string::npos);
}

TEST(Service, RestartsOverTheDeadMountOfAKilledInstance) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  write_file(tmp.path() / "src" / "a.txt", "alive\n");
  fs::path mnt = tmp.path() / "mnt";
  {
    MountRunner first(tmp.path() / "src", {}, mnt);
    ASSERT_TRUE(first.mounted());
    ::kill(first.pid(), SIGKILL);
    ::waitpid(first.pid(), nullptr, 0);
    // Cached attributes may still answer stat; statfs always asks the (dead) daemon.
    struct statvfs vfs {};
    EXPECT_EQ(::statvfs(mnt.c_str(), &vfs), -1);
    EXPECT_TRUE(errno == ENOTCONN || errno == ECONNABORTED)
        << "expected a dead mount, got " << std::strerror(errno);
    // `first` is not unmounted on purpose: its destructor finds the mount already replaced.
    MountRunner second(tmp.path() / "src", {}, mnt);
    ASSERT_TRUE(second.mounted()) << second.log();
    EXPECT_EQ(read_file(mnt / "a.txt"), "alive\n");
  }
}

TEST(Service, UnitVerifies) {
  fs::path unit = fs::path(METAFS_BIN_DIR).parent_path() / "systemd" / "test" / "metafs@.service";
  ASSERT_TRUE(fs::exists(unit)) << unit;
  TempDir tmp;
  // systemd-analyze wants an instance name.
  fs::path instance = tmp.path() / "metafs@archive.service";
  fs::copy_file(unit, instance);
  int status = -1;
  std::string out = run_command(
      "systemd-analyze verify --man=no " + shell_quote(instance.string()) + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  // Not a word on Debian 12's systemd 252 (MemoryPressureWatch= is a drop-in for 254+ only).
  EXPECT_EQ(out, "");
  std::string text = read_file(unit);
  EXPECT_NE(text.find("Type=notify"), std::string::npos);
  EXPECT_NE(text.find("CacheDirectory=metafs/%i"), std::string::npos);
  EXPECT_NE(text.find("EnvironmentFile=/etc/metafs/%i.conf"), std::string::npos);
  // Nothing that would detach whatever is mounted at MOUNTPOINT.
  EXPECT_EQ(text.find("fusermount3"), std::string::npos);
  EXPECT_NE(text.find("RestartPreventExitStatus=2"), std::string::npos);
}

// `cmake --install` to another prefix than the one configured: the unit names the binaries
// where they were installed, and the configuration example lies where the unit reads.
TEST(Service, InstalledUnitNamesThePrefixInstalledTo) {
  TempDir tmp;
  fs::path build = fs::path(METAFS_BIN_DIR).parent_path();
  int status = -1;
  std::string out =
      run_command("DESTDIR=" + shell_quote(tmp.path().string()) + " cmake --install " +
                      shell_quote(build.string()) + " --prefix /opt/metafs 2>&1",
                  &status);
  ASSERT_EQ(status, 0) << out;
  std::string text = read_file(tmp.path() / "opt/metafs/lib/systemd/system/metafs@.service");
  EXPECT_NE(text.find("ExecStart=/opt/metafs/bin/metafs --foreground"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(tmp.path() / "opt/metafs/bin/metafs"));
  EXPECT_TRUE(fs::exists(tmp.path() / "etc/metafs/metafs.conf.example"));
}

}  // namespace
