#include "in_use_marker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "cache_log.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

constexpr int kAttempts = 8;

int lock(int fd, short type, bool wait) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // the whole file
  int rc;
  do {
    rc = ::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// The path still names the file we hold (a closing process may have removed it meanwhile).
bool still_linked(int fd, const fs::path& path) {
  struct stat held, named;
  return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

std::unique_ptr<InUseMarker> InUseMarker::acquire(const fs::path& dir) {
  fs::path path = dir / "in-use";
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    bool created = true;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      created = false;
      fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) continue;
    }
    if (fd < 0) {
      cache_log().error(
          "cache marker {} cannot be created ({}); running without a persistent cache",
          path.string(), std::error_code(errno, std::generic_category()).message());
      return nullptr;
    }
    ::fchmod(fd, 0600);
    // Exclusive at once: nobody else uses the store, and a marker we did not create was left
    // by an unclean stop. Otherwise a live process uses it (and checked it when it opened):
    // join with a shared lock, which waits while an opener holds it exclusively to check.
    bool exclusive = lock(fd, F_WRLCK, false) == 0;
    bool locked = exclusive || lock(fd, F_RDLCK, true) == 0;
    if (locked && still_linked(fd, path)) {
      return std::unique_ptr<InUseMarker>(new InUseMarker(path, fd, exclusive && !created));
    }
    ::close(fd);
  }
  cache_log().error("cache marker {} cannot be locked; running without a persistent cache",
                    path.string());
  return nullptr;
}

void InUseMarker::share() {
  lock(fd_, F_RDLCK, false);
}

InUseMarker::~InUseMarker() {
  // Only the last holder gets the exclusive lock; it removes the file while holding it, so a
  // process opening meanwhile finds the path gone (still_linked) and starts over.
  if (lock(fd_, F_WRLCK, false) == 0 && still_linked(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace metafs::cache
