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
  // False when the mount failed; *why is then what fusermount3 (for a user) or libfuse said,
  // on one line ("option allow_other only allowed if 'user_allow_other' is set in
  // /etc/fuse.conf"), or "" when they said nothing. Both write it to stderr, which is caught
  // meanwhile; what a successful mount wrote is passed on.
  bool mount(const std::filesystem::path& mountpoint, std::string* why);
  fuse_session* get() const { return session_; }

 private:
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
};

}  // namespace metafs::fs
