#include "extraction/source_tree.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <vector>

namespace metafs::extraction {
namespace {

std::atomic<bool> openat2_missing{false};

int sys_openat2(int dirfd, const char* path, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

// Splits "a/b/c" into ("a/b", "c"); ("", "c") for a single name.
std::pair<std::string, std::string> split_last(const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// Walks `rel` one component at a time with O_NOFOLLOW, for kernels without openat2.
int walk_nofollow(int root_fd, const std::string& rel, int flags) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string part = rel.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return -EINVAL;
    parts.push_back(std::move(part));
    start = slash + 1;
  }
  int dir = ::dup(root_fd);
  if (dir < 0) return -errno;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(dir, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    ::close(dir);
    if (next < 0) return -err;
    dir = next;
  }
  int fd = ::openat(dir, parts.back().c_str(), flags | O_NOFOLLOW);
  int err = errno;
  ::close(dir);
  return fd < 0 ? -err : fd;
}

}  // namespace

std::string join_relative(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

RelativeParts split_relative(std::string_view rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

SourceTree::SourceTree(const std::filesystem::path& root) : root_(root) {
  root_fd_ = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot open " + root.string());
  }
}

SourceTree::~SourceTree() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

int SourceTree::open_beneath(const std::string& rel, int flags) const {
  flags |= O_CLOEXEC;
  if (rel.empty()) {
    int fd = ::openat(root_fd_, ".", flags);
    return fd < 0 ? -errno : fd;
  }
  if (!openat2_missing.load(std::memory_order_relaxed)) {
    int fd = sys_openat2(root_fd_, rel.c_str(), flags);
    if (fd >= 0) return fd;
    if (errno != ENOSYS) return errno == EXDEV ? -ELOOP : -errno;
    openat2_missing.store(true, std::memory_order_relaxed);
  }
  return walk_nofollow(root_fd_, rel, flags);
}

int SourceTree::lstat(const std::string& rel, struct stat* st) const {
  if (rel.empty()) return ::fstat(root_fd_, st) < 0 ? -errno : 0;
  auto [parent, name] = split_last(rel);
  int dir = parent.empty() ? root_fd_ : open_beneath(parent, O_PATH | O_DIRECTORY);
  if (dir < 0) return dir;
  int rc = ::fstatat(dir, name.c_str(), st, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  if (dir != root_fd_) ::close(dir);
  return rc < 0 ? -err : 0;
}

extract::FileDescriptor SourceTree::open_file(const std::string& rel) const {
  // O_NONBLOCK: a FIFO swapped in after lstat must not block the caller.
  int fd = open_beneath(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME);
  if (fd == -EPERM) fd = open_beneath(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  return extract::FileDescriptor(fd);
}

extract::FileDescriptor SourceTree::open_dir(const std::string& rel) const {
  return extract::FileDescriptor(open_beneath(rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
}

int SourceTree::readlink(const std::string& rel, std::string* target) const {
  auto [parent, name] = split_last(rel);
  int dir = parent.empty() ? root_fd_ : open_beneath(parent, O_PATH | O_DIRECTORY);
  if (dir < 0) return dir;
  std::string buffer(4096, '\0');
  ssize_t n = ::readlinkat(dir, name.c_str(), buffer.data(), buffer.size());
  int err = errno;
  if (dir != root_fd_) ::close(dir);
  if (n < 0) return -err;
  buffer.resize(static_cast<std::size_t>(n));
  *target = std::move(buffer);
  return 0;
}

int SourceTree::statvfs(struct statvfs* st) const {
  return ::fstatvfs(root_fd_, st) < 0 ? -errno : 0;
}

extract::FileDescriptor SourceTree::open_directory_path(const std::string& rel) const {
  return extract::FileDescriptor(open_beneath(rel, O_PATH | O_DIRECTORY | O_NOFOLLOW));
}

int SourceTree::xattr(const std::string& rel, const char* name, struct stat* st,
                      std::string* value) const {
  int fd = open_beneath(rel, O_PATH | O_NOFOLLOW);
  if (fd < 0) return fd;
  int rc = 0;
  if (::fstat(fd, st) < 0) {
    rc = -errno;
  } else if (S_ISLNK(st->st_mode)) {
    rc = -ENODATA;  // Linux keeps no ACL on a symlink
  } else {
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    // One call for the usual small value; a larger one (which can still grow between asking
    // for its size and reading it) is asked for again.
    value->resize(512);
    ssize_t n = ::getxattr(path.c_str(), name, value->data(), value->size());
    rc = n < 0 ? -errno : 0;
    for (int attempt = 0; attempt < 4 && rc == -ERANGE; ++attempt) {
      n = ::getxattr(path.c_str(), name, nullptr, 0);
      if (n < 0) {
        rc = -errno;
        break;
      }
      value->resize(static_cast<std::size_t>(n));
      n = ::getxattr(path.c_str(), name, value->data(), value->size());
      rc = n < 0 ? -errno : 0;
    }
    value->resize(rc == 0 ? static_cast<std::size_t>(n) : 0);
    // The descriptor is open, so its magic link exists unless /proc is not mounted.
    if (rc == -ENOENT) rc = -EIO;
  }
  ::close(fd);
  return rc;
}

}  // namespace metafs::extraction
