#include "private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "cache_log.hpp"
#include "source_file.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr mode_t kOpenToOthers = 0077;

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// An object of another user in the cache could be read or swapped by that user.
bool owned_by_us(const struct stat& st, const fs::path& path, const char* what) {
  if (st.st_uid == ::geteuid()) return true;
  cache_log().error(
      "cache {} {} belongs to uid {}, not to uid {} running metafs; not using it (running "
      "without a persistent cache)",
      what, path.string(), st.st_uid, ::geteuid());
  return false;
}

bool tighten(int fd, const struct stat& st, mode_t wanted, const fs::path& path, const char* what) {
  if ((st.st_mode & 07777) == wanted) return true;
  if (::fchmod(fd, wanted) != 0) {
    cache_log().error("cache {} {} has mode {} and cannot be changed to {}: {}", what,
                      path.string(), octal(st.st_mode), octal(wanted), errno_text(errno));
    return false;
  }
  // Tightening the owner's own bits (e.g. 0400 from a strict umask) is routine; opening up
  // to others is what an admin must hear about.
  if ((st.st_mode & kOpenToOthers) != 0) {
    cache_log().warn("cache {} {} was mode {}, readable or writable by others; changed it to {}",
                     what, path.string(), octal(st.st_mode), octal(wanted));
  }
  return true;
}

}  // namespace

bool prepare_private_dir(const fs::path& dir) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0 || errno != ENOENT) break;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // mkdir's mode passes through the umask: chmod makes it exact.
    if (::mkdir(it->c_str(), kDirMode) == 0) {
      ::chmod(it->c_str(), kDirMode);
    } else if (errno != EEXIST) {
      cache_log().error(
          "cache directory {} cannot be created ({}); running without a persistent cache",
          it->string(), errno_text(errno));
      return false;
    }
  }
  struct stat link;
  if (::lstat(dir.c_str(), &link) == 0 && S_ISLNK(link.st_mode) &&
      !owned_by_us(link, dir, "directory (a symlink)")) {
    return false;
  }
  extract::FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    cache_log().error(
        "cache directory {} cannot be opened ({}); running without a persistent cache",
        dir.string(), errno_text(errno));
    return false;
  }
  if (!owned_by_us(st, dir, "directory")) return false;
  // A shared directory such as /tmp given as --cache-dir: others may plant files in it, and
  // making it private would break everyone else.
  if ((st.st_mode & (S_ISVTX | S_IWOTH)) != 0) {
    cache_log().error(
        "cache directory {} is writable by others (mode {}): a shared directory, not a cache; "
        "running without a persistent cache",
        dir.string(), octal(st.st_mode));
    return false;
  }
  return tighten(fd.get(), st, kDirMode, dir, "directory");
}

bool prepare_private_file(const fs::path& file) {
  extract::FileDescriptor fd(
      ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, kFileMode));
  struct stat st;
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    cache_log().error("cache file {} cannot be opened ({}); running without a persistent cache",
                      file.string(), errno_text(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    cache_log().error("cache file {} is not a regular file; running without a persistent cache",
                      file.string());
    return false;
  }
  return owned_by_us(st, file, "file") && tighten(fd.get(), st, kFileMode, file, "file");
}

void tighten_private_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_uid != ::geteuid() || (st.st_mode & kOpenToOthers) == 0) continue;
    extract::FileDescriptor fd(
        ::open(entry.path().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() >= 0) tighten(fd.get(), st, kFileMode, entry.path(), "file");
  }
}

}  // namespace metafs::cache
