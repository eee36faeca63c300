#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "extraction/data_version.hpp"
#include "extraction/data_view.hpp"

namespace metafs::fs {

// The control files in /.metafs.
enum class ControlFile : std::uint8_t { kVersion, kStats, kMetrics, kOpenMetrics };
inline constexpr ControlFile kControlFiles[] = {ControlFile::kVersion, ControlFile::kStats,
                                                ControlFile::kMetrics, ControlFile::kOpenMetrics};

// What an inode number stands for.
struct Node {
  enum class Kind : std::uint8_t {
    kMirror,       // a path in SOURCE: directory, symlink, plain file or scientific file
    kVirtual,      // an entry of a scientific file's view (below its directory)
    kControlDir,   // /.metafs
    kControlFile,  // /.metafs/<file>
    kQuery,        // /.metafs/query, a query's directory, a result in it, /.metafs/errors
  };
  // kQuery: which of them.
  enum class QueryRole : std::uint8_t { kRoot, kResults, kLink, kErrors };

  fuse_ino_t ino = 0;
  Kind kind = Kind::kMirror;
  std::string rel_path;  // kMirror: relative to SOURCE, "" for the root
  // kVirtual: the file version this entry belongs to; its view is looked up on use, so the
  // kernel holding inodes never pins views in memory.
  std::shared_ptr<const extraction::DataVersion> version;
  extraction::DataView::EntryId entry = 0;      // kVirtual
  ControlFile control = ControlFile::kVersion;  // kControlFile
  // kQuery: the role, the query's name (kResults, kLink; rel_path is then a result's path) or
  // the asker's identity (kErrors: what it shows depends on who asks).
  QueryRole query_role = QueryRole::kRoot;
  std::string query;

  // kMirror: the source inode (device, inode number) whose attributes the kernel was last
  // given for this node, and so checked permissions against. A node is found by its path;
  // what is opened or looked up below it must still be that inode, or the name has been
  // given to another file since (ESTALE): a reader holding the inode (an open file, a
  // working directory) must not reach the newcomer with the old file's permissions.
  void show(const struct stat& st) const {
    std::lock_guard lock(shown_mutex_);
    shown_dev_ = st.st_dev;
    shown_ino_ = st.st_ino;
  }
  bool shows(const struct stat& st) const {
    std::lock_guard lock(shown_mutex_);
    return shown_ino_ != 0 && shown_dev_ == st.st_dev && shown_ino_ == st.st_ino;
  }

 private:
  mutable std::mutex shown_mutex_;
  mutable dev_t shown_dev_ = 0;
  mutable ino_t shown_ino_ = 0;
};

}  // namespace metafs::fs
