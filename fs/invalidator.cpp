#include "invalidator.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "source_file.hpp"
#include "source_filesystem.hpp"

namespace metafs::fs {
namespace {

// No IN_DONT_FOLLOW: the path watched is /proc/self/fd/N, whose (magic) link must be followed
// to the directory opened beneath SOURCE.
constexpr std::uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |
                                  IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                  IN_ONLYDIR | IN_EXCL_UNLINK;

}  // namespace

Invalidator::Invalidator(const extraction::SourceTree& source, Lookup lookup,
                         std::size_t max_watches)
    : source_(source), lookup_(std::move(lookup)), max_watches_(max_watches) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    log::fs()->warn("inotify unavailable ({}): changes in the source show after --attr-timeout",
                    std::strerror(errno));
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Invalidator::~Invalidator() {
  stop();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Invalidator::start(fuse_session* session) {
  session_ = session;
  if (inotify_fd_ >= 0 && stop_fd_ >= 0) thread_.start([this](std::stop_token) { run(); });
}

void Invalidator::stop() {
  if (!thread_.running()) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);  // wakes its poll()
  thread_.stop();
}

std::optional<bool> Invalidator::known_watchable(dev_t dev) const {
  std::lock_guard lock(mutex_);
  auto it = watchable_by_dev_.find(dev);
  if (it == watchable_by_dev_.end()) return std::nullopt;
  return it->second;
}

bool Invalidator::watchable(dev_t dev, int fd) {
  if (std::optional<bool> known = known_watchable(dev)) return *known;
  SourceFilesystem type = filesystem_of_descriptor(fd);
  if (!type.inotify_sees_all_changes) {
    log::fs()->info("source directories on {} (device {}:{}) are not watched: short timeouts",
                    type.name, major(dev), minor(dev));
  }
  std::lock_guard lock(mutex_);
  watchable_by_dev_.emplace(dev, type.inotify_sees_all_changes);
  return type.inotify_sees_all_changes;
}

bool Invalidator::watch(const std::string& rel, fuse_ino_t ino, dev_t dev) {
  if (inotify_fd_ < 0) return false;
  // A directory on a filesystem already known to be unwatchable costs no open.
  if (known_watchable(dev) == false) {
    ++unwatchable_;
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_rel_.find(rel); it != by_rel_.end()) {
      by_wd_[it->second].ino = ino;
      return true;
    }
    if (by_rel_.size() >= max_watches_) return false;
  }
  // Watched through a descriptor opened beneath SOURCE: a name swapped for a symlink since
  // the lookup can never make us watch a directory outside it.
  extract::FileDescriptor dir = source_.open_directory_path(rel);
  if (!dir.valid()) return false;
  // The filesystem of what was opened, which may not be what lstat saw.
  struct stat opened {};
  if (::fstat(dir.get(), &opened) != 0) return false;
  if (!watchable(opened.st_dev, dir.get())) {
    ++unwatchable_;
    return false;
  }
  std::lock_guard lock(mutex_);
  if (auto it = by_rel_.find(rel); it != by_rel_.end()) {  // watched meanwhile
    by_wd_[it->second].ino = ino;
    return true;
  }
  if (by_rel_.size() >= max_watches_) return false;
  std::string path = "/proc/self/fd/" + std::to_string(dir.get());
  int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), kEvents);
  if (wd < 0) {
    if (errno == ENOSPC) {
      log::fs()->warn("inotify watches exhausted at {}: further directories use short timeouts",
                      by_rel_.size());
      max_watches_ = by_rel_.size();
    }
    return false;
  }
  // Two paths can name one directory (a bind mount inside SOURCE): the newest wins.
  if (auto old = by_wd_.find(wd); old != by_wd_.end()) by_rel_.erase(old->second.rel);
  by_wd_[wd] = Watch{rel, ino};
  by_rel_[rel] = wd;
  return true;
}

void Invalidator::unwatch(const std::string& rel) {
  std::lock_guard lock(mutex_);
  auto it = by_rel_.find(rel);
  if (it == by_rel_.end()) return;
  ::inotify_rm_watch(inotify_fd_, it->second);
  by_wd_.erase(it->second);
  by_rel_.erase(it);
}

bool Invalidator::watched(const std::string& rel) const {
  std::lock_guard lock(mutex_);
  return by_rel_.count(rel) != 0;
}

std::size_t Invalidator::watch_count() const {
  std::lock_guard lock(mutex_);
  return by_rel_.size();
}

void Invalidator::run() {
  alignas(inotify_event) std::array<char, 64 * 1024> buffer;
  std::array<pollfd, 2> fds{pollfd{inotify_fd_, POLLIN, 0}, pollfd{stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::fs()->error("invalidator: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n = ::read(inotify_fd_, buffer.data(), buffer.size());
    if (n <= 0) continue;
    for (ssize_t at = 0; at < n;) {
      auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
      std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if (event->mask & IN_Q_OVERFLOW) {
        invalidate_all();
      } else {
        handle(event->wd, event->mask, name);
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

void Invalidator::invalidate_all() {
  auto inodes = lookup_.mirror_inodes();
  log::fs()->warn(
      "inotify queue overflow: the attributes of all {} inodes the kernel holds "
      "are dropped",
      inodes.size());
  for (fuse_ino_t ino : inodes) invalidate_inode(ino);
}

void Invalidator::invalidate_inode(fuse_ino_t ino) {
  // Offset 0: the pages go too, and a directory's cached listing lives in its pages.
  int rc = fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0);
  ++notifications_;
  if (rc != 0 && rc != -ENOENT) {
    log::fs()->debug("inval_inode {}: {}", ino, std::strerror(-rc));
  }
}

void Invalidator::invalidate_entry(fuse_ino_t parent, const std::string& name) {
  int rc = fuse_lowlevel_notify_inval_entry(session_, parent, name.c_str(), name.size());
  ++notifications_;
  if (rc != 0 && rc != -ENOENT) {
    log::fs()->debug("inval_entry {}/{}: {}", parent, name, std::strerror(-rc));
  }
}

// The rule for every kernel notification (here and in InodeTrimmer): never notify while
// holding a lock a request thread needs. The kernel may answer a notification by sending a
// request (a forget, a lookup) and wait for it, and libfuse's request threads may be waiting on
// that same lock: a deadlock. So the watch is copied out under mutex_ and the notifications
// are sent after it is released; the lookups (inode table) take and drop their own locks.
void Invalidator::handle(int wd, std::uint32_t mask, const std::string& name) {
  Watch watch;
  {
    std::lock_guard lock(mutex_);
    auto it = by_wd_.find(wd);
    if (it == by_wd_.end()) return;
    watch = it->second;
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
      by_rel_.erase(watch.rel);
      by_wd_.erase(it);
    }
  }
  if (name.empty()) {
    // The directory itself: its attributes (or existence) changed. Its listing goes too: once
    // deleted or moved it has no watch, and a listing the kernel kept would never be dropped.
    invalidate_inode(watch.ino);
    return;
  }
  std::string rel = extraction::join_relative(watch.rel, name);
  // Names: a created, deleted or renamed entry, and a file that may have turned into (or
  // stopped being) a scientific file, must be looked up again.
  invalidate_entry(watch.ino, name);
  // The directory's cached listing: inval_entry alone drops it only when the kernel knew the
  // name, never for a name just created.
  if (mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) invalidate_inode(watch.ino);
  fuse_ino_t ino = lookup_.inode_of(rel);
  if (ino == 0) return;
  // Attributes and cached bytes of the entry itself (a data file's directory: its listing).
  invalidate_inode(ino);
  // A scientific file: the names inside its directory lead to the old version's view.
  if (mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_MOVED_TO)) {
    for (const std::string& entry : lookup_.data_entries(rel)) invalidate_entry(ino, entry);
  }
}

}  // namespace metafs::fs
