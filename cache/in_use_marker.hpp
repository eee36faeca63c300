#pragma once

#include <filesystem>
#include <memory>

namespace metafs::cache {

// dir/in-use: present while a process has the store open, removed by the last one to close
// it in order. Finding it with no process holding it means the last user stopped without
// closing (crash, SIGKILL, power loss): the store must be verified before it is trusted.
//
// Every holder keeps an open file description lock (F_OFD_SETLK) on it: shared while the store
// is in use, exclusive while one process opens, checks or sets aside the store file, so a
// second opener waits for the checks of the first instead of racing them. A process that
// dies loses its lock with its descriptors.
class InUseMarker {
 public:
  // Creates or joins the marker: exclusive when no other process holds it (call share() once
  // the store is open), else shared, after waiting while another process holds it
  // exclusively. Returns nullptr, with an error log line, when it cannot be created or locked.
  // Never throws except std::bad_alloc.
  static std::unique_ptr<InUseMarker> acquire(const std::filesystem::path& dir);
  // Removes the marker when no other process holds it (an orderly close).
  ~InUseMarker();
  InUseMarker(const InUseMarker&) = delete;
  InUseMarker& operator=(const InUseMarker&) = delete;

  // True when the marker was left behind by a process that did not close the store (only
  // ever for an exclusive holder).
  bool unclean_stop() const { return unclean_; }
  // Lets other processes open the store too (atomic: no moment without a lock).
  void share();

 private:
  InUseMarker(std::filesystem::path path, int fd, bool unclean)
      : path_(std::move(path)), fd_(fd), unclean_(unclean) {}
  std::filesystem::path path_;
  int fd_;
  bool unclean_;
};

}  // namespace metafs::cache
