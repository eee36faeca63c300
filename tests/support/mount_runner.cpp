#include "mount_runner.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "corpus.hpp"

extern char** environ;

namespace metafs::test {

std::filesystem::path binary(const std::string& name) {
  return std::filesystem::path(METAFS_BIN_DIR) / name;
}

bool is_live_mount(const std::filesystem::path& path) {
  struct stat self {
  }, parent{};
  struct statvfs vfs {};
  // statfs always reaches the daemon; stat may be answered from cached attributes.
  if (::statvfs(path.c_str(), &vfs) != 0) return false;
  if (::stat(path.c_str(), &self) != 0) return false;
  if (::stat(path.parent_path().c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

bool is_mount_point(const std::filesystem::path& path) {
  struct stat self {
  }, parent{};
  if (::stat(path.c_str(), &self) != 0) return errno == ENOTCONN || errno == ECONNABORTED;
  if (::stat(path.parent_path().c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

MountRunner::MountRunner(const std::filesystem::path& source, std::vector<std::string> extra_args,
                         std::filesystem::path mountpoint)
    : mountpoint_(mountpoint.empty() ? dir_.path() / "mnt" : std::move(mountpoint)),
      log_path_(dir_.path() / "metafs.log") {
  std::error_code ec;
  std::filesystem::create_directory(mountpoint_, ec);
  std::vector<std::string> args = {binary("metafs").string(), "-f", source.string(),
                                   mountpoint_.string()};
  for (auto& a : extra_args) args.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    pid_ = -1;
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (is_live_mount(mountpoint_)) {
      mounted_ = true;
      return;
    }
    if (!alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "metafs did not mount " << source << "; its log:\n" << log();
}

bool MountRunner::alive() const {
  if (pid_ <= 0) return false;
  int status;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

int MountRunner::stop() {
  if (pid_ <= 0) return exit_status_;
  if (is_mount_point(mountpoint_)) {
    std::string cmd = "fusermount3 -u '" + mountpoint_.string() + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      cmd = "fusermount3 -u -z '" + mountpoint_.string() + "' 2>/dev/null";
      (void)std::system(cmd.c_str());
    }
  }
  // The daemon exits by itself once unmounted; make sure of it.
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  mounted_ = false;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return exit_status_;
}

MountRunner::~MountRunner() {
  stop();
}

std::string MountRunner::log() const {
  std::ifstream in(log_path_);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json stats_of(const MountRunner& mount) {
  return nlohmann::json::parse(read_file(mount.mountpoint() / ".metafs" / "stats.json"));
}

}  // namespace metafs::test
