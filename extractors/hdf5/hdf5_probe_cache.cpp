#include "hdf5_probe_cache.hpp"

#include <sys/stat.h>

#include <string>

namespace metafs::extract::hdf5 {
namespace {

struct Identity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};

  bool operator==(const Identity& o) const {
    return device == o.device && inode == o.inode && size == o.size &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
           ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

bool identify(const std::filesystem::path& path, Identity& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out = Identity{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  return true;
}

struct Slot {
  std::string path;
  Identity identity;
  Handle file;
};

// Never destroyed: at exit the library closes what is still open itself.
Slot& slot() {
  static Slot* kept = new Slot;
  return *kept;
}

}  // namespace

void keep_probed_file(const std::filesystem::path& path, Handle file) {
  Slot& kept = slot();
  kept.file.reset();
  kept.path.clear();
  Identity identity;
  if (!file || !identify(path, identity)) return;
  kept.path = path.string();
  kept.identity = identity;
  kept.file = std::move(file);
}

Handle take_probed_file(const std::filesystem::path& path) {
  Slot& kept = slot();
  Handle file = std::move(kept.file);
  bool same = kept.path == path.string();
  kept.path.clear();
  Identity identity;
  if (!file || !same || !identify(path, identity) || !(identity == kept.identity)) {
    return Handle();  // `file`, if any, closes here
  }
  return file;
}

}  // namespace metafs::extract::hdf5
