#pragma once

#include <fuse_lowlevel.h>

#include <filesystem>
#include <string>
#include <vector>

namespace metafs::fs {

// One FUSE session from creation to teardown: unmounted (once mounted) and destroyed exactly
// once, by the destructor, on every way out of the session. Whatever may still notify the
// kernel (Filesystem::stop) must be stopped before it goes.
class FuseSession {
 public:
  // `args` as for a command line ("metafs", "-o", ...). ok() is false when libfuse refused
  // them.
  FuseSession(const std::vector<std::string>& args, const fuse_lowlevel_ops& ops, void* userdata);
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  bool ok() const { return session_ != nullptr; }
  // False when the kernel refused the mount.
  bool mount(const std::filesystem::path& mountpoint);
  fuse_session* get() const { return session_; }

 private:
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
};

}  // namespace metafs::fs
