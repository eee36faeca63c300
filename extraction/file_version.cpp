#include "extraction/file_version.hpp"

#include <cstdint>

namespace metafs::extraction {

std::string FileVersion::key() const {
  std::string key = rel;
  key.push_back('\0');
  for (auto v :
       {static_cast<std::int64_t>(signature.dev), static_cast<std::int64_t>(signature.ino),
        static_cast<std::int64_t>(signature.size), signature.mtime_ns, signature.ctime_ns}) {
    key.append(std::to_string(v));
    key.push_back(':');
  }
  return key;
}

}  // namespace metafs::extraction
