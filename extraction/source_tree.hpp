#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "source_file.hpp"

namespace metafs::extraction {

// Read-only access to the mirrored SOURCE directory by paths relative to it ("" is the root).
// Every access resolves beneath SOURCE without following any symlink (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it), so a symlink in the source
// is only ever shown, never followed, even when the tree changes under us.
// All functions return -errno on failure instead of throwing.
class SourceTree {
 public:
  // Throws std::system_error when `root` cannot be opened as a directory.
  explicit SourceTree(const std::filesystem::path& root);
  ~SourceTree();
  SourceTree(const SourceTree&) = delete;
  SourceTree& operator=(const SourceTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  int lstat(const std::string& rel, struct stat* st) const;
  // The opening functions return an owned descriptor; when it is not valid(), release() gives
  // -errno.
  // A descriptor for reading a regular file; O_NOATIME where permitted.
  extract::FileDescriptor open_file(const std::string& rel) const;
  // A descriptor for listing a directory.
  extract::FileDescriptor open_dir(const std::string& rel) const;
  // The target of a symlink, as stored.
  int readlink(const std::string& rel, std::string* target) const;
  int statvfs(struct statvfs* st) const;
  // An O_PATH descriptor of the directory `rel`, for calls that take only a path:
  // pass "/proc/self/fd/N", which names the directory opened, wherever it has moved since.
  extract::FileDescriptor open_directory_path(const std::string& rel) const;
  // The value of extended attribute `name` of `rel`, and in `st` the lstat of the same inode.
  // Resolves like every other access and never opens the file's contents (O_PATH); the value
  // is read through /proc/self/fd, the one way to read an xattr of an O_PATH descriptor on
  // the kernels we support. -ENODATA when the inode has no such attribute (always for a
  // symlink), -EIO when /proc is missing: callers deciding access must refuse on any error.
  int xattr(const std::string& rel, const char* name, struct stat* st, std::string* value) const;

 private:
  int open_beneath(const std::string& rel, int flags) const;

  std::filesystem::path root_;
  int root_fd_ = -1;
};

// `parent` joined with `name` ("" + "a" = "a").
std::string join_relative(const std::string& parent, const std::string& name);

// A relative path's directory and last name: "a/b/c" -> {"a/b", "c"}, "c" -> {"", "c"}.
struct RelativeParts {
  std::string_view dir;
  std::string_view name;
};
RelativeParts split_relative(std::string_view rel);

}  // namespace metafs::extraction
