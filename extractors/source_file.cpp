#include "source_file.hpp"

#include <fcntl.h>

#include <cerrno>
#include <system_error>

namespace metafs::extract {

SourceFile open_source_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  return SourceFile(FileDescriptor(fd), path);
}

}  // namespace metafs::extract
