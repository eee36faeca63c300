#include "source_signature.hpp"

#include <xxhash.h>

namespace metafs::cache {

SourceSignature SourceSignature::from_stat(const struct stat& st) {
  SourceSignature s;
  s.dev = static_cast<std::uint64_t>(st.st_dev);
  s.ino = static_cast<std::uint64_t>(st.st_ino);
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

std::size_t hash_value(const SourceSignature& s) {
  const std::uint64_t words[] = {s.dev, s.ino, s.size, static_cast<std::uint64_t>(s.mtime_ns),
                                 static_cast<std::uint64_t>(s.ctime_ns)};
  return static_cast<std::size_t>(XXH3_64bits(words, sizeof words));
}

}  // namespace metafs::cache
