#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "extraction/background_thread.hpp"
#include "extraction/source_tree.hpp"

namespace metafs::fs {

// Watches the source directories the kernel has looked up (inotify) and tells the kernel
// what changed (fuse_lowlevel_notify_inval_entry / _inode) from its own thread, never from a
// request thread, so long kernel cache timeouts and cached listings never show a stale view.
// The number of watches is bounded, and a directory on a filesystem where inotify cannot see
// every change (NFS, SMB, cluster filesystems, FUSE: classify_filesystem) is never watched; a
// directory without a watch gets the short timeouts instead (watched() says which).
class Invalidator {
 public:
  // What the invalidator needs from the inode table: the inode of a mirrored path (0 when
  // the kernel does not know it), and the names inside a scientific file's directory that
  // the kernel may have cached.
  struct Lookup {
    std::function<fuse_ino_t(const std::string& rel)> inode_of;
    std::function<std::vector<std::string>(const std::string& rel)> data_entries;
    // Every mirrored inode the kernel holds (after an overflow, all may be stale).
    std::function<std::vector<fuse_ino_t>()> mirror_inodes;
  };

  Invalidator(const extraction::SourceTree& source, Lookup lookup, std::size_t max_watches);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Starts the thread; notifications go to `session`.
  void start(fuse_session* session);
  void stop();

  // Watches directory `rel` (whose inode is `ino`, on device `dev` as lstat saw it). False
  // when no watch could be added (the limit, inotify unavailable, or a filesystem inotify
  // cannot see every change of): the caller then uses short cache timeouts for it.
  bool watch(const std::string& rel, fuse_ino_t ino, dev_t dev);
  void unwatch(const std::string& rel);
  bool watched(const std::string& rel) const;

  std::size_t watch_count() const;
  std::uint64_t notifications() const { return notifications_.load(); }
  // Lookups of directories left unwatched because of their filesystem's type.
  std::uint64_t unwatchable() const { return unwatchable_.load(); }

 private:
  void run();
  void handle(int wd, std::uint32_t mask, const std::string& name);
  void invalidate_entry(fuse_ino_t parent, const std::string& name);
  // Attributes and cached pages of `ino`: for a directory, its cached listing too.
  void invalidate_inode(fuse_ino_t ino);
  // Whether inotify sees every change on device `dev`, whose directory `fd` is open: asked of
  // statfs once per device.
  bool watchable(dev_t dev, int fd);
  // Known verdict for `dev`, if any.
  std::optional<bool> known_watchable(dev_t dev) const;
  // Events were lost: every mirrored inode's attributes and cached bytes are dropped, so the
  // kernel asks again (a revoked permission must not wait for --watch-timeout).
  void invalidate_all();

  const extraction::SourceTree& source_;
  Lookup lookup_;
  std::size_t max_watches_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the thread to stop
  fuse_session* session_ = nullptr;
  extraction::BackgroundThread thread_;
  std::atomic<std::uint64_t> notifications_{0};
  std::atomic<std::uint64_t> unwatchable_{0};

  struct Watch {
    std::string rel;
    fuse_ino_t ino;
  };
  mutable std::mutex mutex_;
  std::unordered_map<int, Watch> by_wd_;
  std::unordered_map<std::string, int> by_rel_;
  std::unordered_map<dev_t, bool> watchable_by_dev_;  // one per filesystem seen under SOURCE
};

}  // namespace metafs::fs
