#include "library_lock.hpp"

namespace metafs::extract {

std::mutex& hdf5_library_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace metafs::extract
