#pragma once

#include <unistd.h>

#include <string>
#include <utility>

namespace metafs::extract {

// A move-only owner of one file descriptor: closed when the owner goes, never twice.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  // Takes ownership of `fd` (negative: holds nothing).
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The data file an extractor reads: a descriptor the daemon opened beneath SOURCE (read-only,
// regular file, opened without following symlinks) and a name for messages and name-based
// hints. Extractors read only through the descriptor, with pread or a duplicate of it (its
// file offset is shared and not theirs to rely on); they never open a path: in a worker they
// could not (no privilege, no file system access), and the name is not where the bytes came
// from.
class SourceFile {
 public:
  SourceFile(FileDescriptor fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

  int fd() const { return fd_.get(); }
  // The file's name as the user sees it (relative to SOURCE, or as given on a command line).
  const std::string& name() const { return name_; }
  // The last component of name().
  std::string base_name() const {
    auto slash = name_.rfind('/');
    return slash == std::string::npos ? name_ : name_.substr(slash + 1);
  }

 private:
  FileDescriptor fd_;
  std::string name_;
};

// Opens `path` read-only for an extractor run on a command line or in a test (trusted input:
// symlinks are followed). Throws std::system_error when it cannot.
SourceFile open_source_file(const std::string& path);

}  // namespace metafs::extract
