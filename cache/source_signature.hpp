#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace metafs::cache {

// The identity of one version of a source file. Any change of content (size, mtime) or of the
// inode itself (replaced, renamed over, chmod'ed: ctime) makes a different signature, so a
// cached entry is never served for a newer version of the file.
struct SourceSignature {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;

  static SourceSignature from_stat(const struct stat& st);

  friend bool operator==(const SourceSignature&, const SourceSignature&) = default;
};

std::size_t hash_value(const SourceSignature& signature);

}  // namespace metafs::cache

template <>
struct std::hash<metafs::cache::SourceSignature> {
  std::size_t operator()(const metafs::cache::SourceSignature& s) const {
    return metafs::cache::hash_value(s);
  }
};
