#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <stop_token>

#include "extraction/background_thread.hpp"
#include "inode_table.hpp"

namespace metafs::fs {

// Keeps the inode table within a byte budget. The kernel decides which inodes it holds, and
// with memory to spare it holds every one it has seen: a walk over a million files would
// leave a million nodes here. Past the budget the trimmer asks the kernel to drop the entries
// created longest ago (fuse_lowlevel_notify_inval_entry) until the table is back under 80 % of
// it; the kernel then forgets those it does not use, and the table shrinks. A dropped entry
// is looked up again when next needed. Runs in its own thread, never in a request thread.
class InodeTrimmer {
 public:
  InodeTrimmer(InodeTable& table, std::uint64_t budget_bytes);
  ~InodeTrimmer();
  InodeTrimmer(const InodeTrimmer&) = delete;
  InodeTrimmer& operator=(const InodeTrimmer&) = delete;

  void start(fuse_session* session);
  void stop();

  std::uint64_t budget() const { return budget_; }
  // Entries the kernel was asked to drop so far.
  std::uint64_t trimmed() const { return trimmed_.load(); }

 private:
  void run(std::stop_token stop);

  InodeTable& table_;
  std::uint64_t budget_;
  fuse_session* session_ = nullptr;
  std::atomic<std::uint64_t> trimmed_{0};
  extraction::BackgroundThread thread_;
};

}  // namespace metafs::fs
