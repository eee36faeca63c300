#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace metafs::test {

// Runs `metafs -f SOURCE MOUNTPOINT ARGS...` as a child process, waits until the mount is live,
// and always unmounts and reaps the daemon on destruction (also when the test failed).
// Fails the test (ADD_FAILURE) when the mount does not come up within 10 s.
class MountRunner {
 public:
  // `mountpoint` empty: a fresh directory in a private temporary directory.
  MountRunner(const std::filesystem::path& source, std::vector<std::string> extra_args = {},
              std::filesystem::path mountpoint = {});
  ~MountRunner();
  MountRunner(const MountRunner&) = delete;
  MountRunner& operator=(const MountRunner&) = delete;

  bool mounted() const { return mounted_; }
  const std::filesystem::path& mountpoint() const { return mountpoint_; }
  pid_t pid() const { return pid_; }
  // True while the daemon process is still running.
  bool alive() const;
  // Unmounts and waits for the daemon; returns its exit status (-1 if it died by a signal).
  int stop();
  // What the daemon printed on stderr so far.
  std::string log() const;

 private:
  TempDir dir_;
  std::filesystem::path mountpoint_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  bool mounted_ = false;
  int exit_status_ = 0;
};

// The daemon's /.metafs/stats.json, parsed.
nlohmann::json stats_of(const MountRunner& mount);

// True when `path` is a mount point (its device differs from its parent's), or a dead one.
bool is_mount_point(const std::filesystem::path& path);
// True when `path` is a working mount point.
bool is_live_mount(const std::filesystem::path& path);

// The path of a built executable (bin/<name>).
std::filesystem::path binary(const std::string& name);

}  // namespace metafs::test
