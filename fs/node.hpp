#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <cstdint>
#include <memory>
#include <string>

#include "data_version.hpp"
#include "data_view.hpp"

namespace metafs::fs {

// The control files in /.metafs.
enum class ControlFile : std::uint8_t { kVersion, kStats, kMetrics };

// What an inode number stands for.
struct Node {
  enum class Kind : std::uint8_t {
    kMirror,       // a path in SOURCE: directory, symlink, plain file or scientific file
    kVirtual,      // an entry of a scientific file's view (below its directory)
    kControlDir,   // /.metafs
    kControlFile,  // /.metafs/<file>
  };

  fuse_ino_t ino = 0;
  Kind kind = Kind::kMirror;
  std::string rel_path;  // kMirror: relative to SOURCE, "" for the root
  // kVirtual: the file version this entry belongs to; its view is looked up on use, so the
  // kernel holding inodes never pins views in memory.
  std::shared_ptr<const DataVersion> version;
  DataView::EntryId entry = 0;                  // kVirtual
  ControlFile control = ControlFile::kVersion;  // kControlFile
};

}  // namespace metafs::fs
