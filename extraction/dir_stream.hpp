#pragma once

#include <dirent.h>

#include "source_file.hpp"

namespace metafs::extraction {

// A move-only owner of one open directory stream (fdopendir): closed once, with the
// descriptor it took over.
class DirStream {
 public:
  // Takes over `fd`; when it cannot be read as a directory, ok() is false, error() says why,
  // and the descriptor is closed here.
  explicit DirStream(extract::FileDescriptor fd) {
    dir_ = ::fdopendir(fd.get());
    if (dir_ == nullptr) {
      error_ = errno;
      return;  // `fd` closes it
    }
    fd.release();  // the stream owns it now
  }
  ~DirStream() {
    if (dir_ != nullptr) ::closedir(dir_);
  }
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;

  bool ok() const { return dir_ != nullptr; }
  int error() const { return error_; }
  DIR* get() const { return dir_; }

 private:
  DIR* dir_ = nullptr;
  int error_ = 0;
};

}  // namespace metafs::extraction
