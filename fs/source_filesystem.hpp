#pragma once

#include <string>

namespace metafs::fs {

// What the kernel's filesystem type (statfs f_type) says about watching a source directory.
struct SourceFilesystem {
  std::string name;  // "ext4", "nfs", ... or the magic number in hex when unknown
  // False where a change can be made without passing through this kernel's VFS (another NFS
  // or SMB client, another node of a cluster filesystem, a FUSE daemon's own backing store):
  // inotify never hears of it, so names and attributes there get the short timeouts.
  bool inotify_sees_all_changes = true;
};

// The filesystem type with magic `f_type` (statfs). Unknown types count as local: inotify
// is exact on every disk filesystem, and the network and cluster ones are listed.
SourceFilesystem classify_filesystem(long f_type);

// The filesystem of the open descriptor `fd` (O_PATH will do); a failing fstatfs counts as
// a filesystem inotify cannot be trusted on.
SourceFilesystem filesystem_of_descriptor(int fd);

}  // namespace metafs::fs
