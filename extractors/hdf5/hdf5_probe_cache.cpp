#include "hdf5_probe_cache.hpp"

#include <sys/stat.h>

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

bool identify(int fd, Identity& out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  out = Identity{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  return true;
}

// The kept file holds its descriptor open, so the same device and inode are the same file.
struct Slot {
  Identity identity;
  OpenFile open;
};

// Never destroyed: at exit the library closes what is still open itself.
Slot& slot() {
  static Slot* kept = new Slot;
  return *kept;
}

}  // namespace

void keep_probed_file(OpenFile probed) {
  Slot& kept = slot();
  kept.open.reset();
  Identity identity;
  if (!probed || !probed.descriptor || !identify(probed.descriptor.get(), identity)) return;
  kept.identity = identity;
  kept.open = std::move(probed);
}

void drop_probed_file() {
  slot().open.reset();
}

OpenFile take_probed_file(int fd) {
  Slot& kept = slot();
  OpenFile open = std::move(kept.open);
  Identity identity;
  if (!open || !identify(fd, identity) || !(identity == kept.identity)) {
    return OpenFile();  // `open`, if any, closes here
  }
  return open;
}

}  // namespace metafs::extract::hdf5
