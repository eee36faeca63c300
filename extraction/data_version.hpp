#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "extraction/file_version.hpp"
#include "format.hpp"

namespace metafs::extraction {

class DataView;

// One version of one scientific file: all a virtual inode keeps, so that the (possibly large)
// view it belongs to can be dropped from memory and found again in the cache.
struct DataVersion {
  std::string rel;  // relative to SOURCE
  struct stat st;   // lstat of the file at this version
  extract::Format format;
  std::string key;  // FileVersion::of(rel, st).key(), plus the attempt when not the first
  // Set when this version's view is not the file's verdict (a passing failure): from this
  // steady-clock time (ns) on, a new lookup gets a new attempt, with inodes of its own.
  mutable std::atomic<std::int64_t> retry_after_ns{0};
  unsigned attempt = 0;
  // Set once a view of the file's verdict (not a passing failure) was made or found for this
  // version (ExtractionService::remember): its data directory's names are then known without
  // the view, which may have left memory since.
  mutable std::atomic<bool> final_seen{false};

  FileVersion file() const { return FileVersion::of(rel, st); }

  // The view of a passing failure: kept here, for the inodes of this attempt only, never in
  // the view LRU or the cache, so a later attempt of the same version cannot find it.
  std::shared_ptr<const DataView> passing_view() const {
    std::lock_guard lock(passing_mutex_);
    return passing_view_;
  }
  void keep_passing_view(std::shared_ptr<const DataView> view) const {
    std::lock_guard lock(passing_mutex_);
    passing_view_ = std::move(view);
  }

 private:
  mutable std::mutex passing_mutex_;
  mutable std::shared_ptr<const DataView> passing_view_;
};

}  // namespace metafs::extraction
