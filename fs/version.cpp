#include "version.hpp"

#include <fuse_lowlevel.h>

#include "library_versions.hpp"
#include "lmdb_env.hpp"

namespace metafs {

std::string version_text(std::string_view program) {
  std::string out = std::string(program) + " " + kVersion + "\n";
  std::vector<extract::LibraryVersion> libraries = {{"libfuse", fuse_pkgversion()}};
  for (auto& library : extract::format_library_versions()) libraries.push_back(library);
  libraries.push_back({"LMDB", cache::lmdb_library_version()});
  for (const auto& library : libraries) out += library.name + " " + library.version + "\n";
  out.pop_back();  // CLI11 ends the text with a newline itself
  return out;
}

}  // namespace metafs
