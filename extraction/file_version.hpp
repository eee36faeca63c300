#pragma once

#include <sys/stat.h>

#include <string>

#include "source_signature.hpp"

namespace metafs::extraction {

// One version of one source file: its path beneath SOURCE and the cache's SourceSignature of
// it (device, inode, size, mtime, ctime). The one identity of "this version of this file": the
// cache keys on the signature, the service names detections, flights, views and crash counts
// by key(), and a version is the file's current one while the signature is unchanged.
struct FileVersion {
  std::string rel;
  cache::SourceSignature signature;

  static FileVersion of(const std::string& rel, const struct stat& st) {
    return FileVersion{rel, cache::SourceSignature::from_stat(st)};
  }
  // A string naming this version: the path, a NUL, the signature's numbers.
  std::string key() const;

  friend bool operator==(const FileVersion&, const FileVersion&) = default;
};

// True when `now` is still the version `st`: the same signature.
inline bool same_version(const struct stat& st, const struct stat& now) {
  return cache::SourceSignature::from_stat(st) == cache::SourceSignature::from_stat(now);
}

}  // namespace metafs::extraction
