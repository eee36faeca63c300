#include "hdf5_library.hpp"

#include <H5PLpublic.h>
#include <hdf5.h>

#include <string>

#include "hdf5_descriptor_driver.hpp"

namespace metafs::extract::hdf5 {
namespace {

struct ErrorText {
  std::string outer;
  std::string inner;
};

herr_t collect_error(unsigned n, const H5E_error2_t* error, void* data) noexcept {
  auto* text = static_cast<ErrorText*>(data);
  try {
    std::string desc = error->desc != nullptr ? error->desc : "";
    if (n == 0) text->inner = desc;
    text->outer = desc;
  } catch (...) {
    return -1;
  }
  return 0;
}

}  // namespace

void configure_hdf5_library() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  H5PLset_loading_state(0);
}

std::string last_hdf5_error() {
  ErrorText text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  if (text.outer.empty()) return "unknown HDF5 library error";
  if (text.inner.empty() || text.inner == text.outer) return text.outer;
  return text.outer + ": " + text.inner;
}

long long open_hdf5_file(int fd, std::string* error) {
  // Created once: a property list costs as much as a small file's whole listing. Guarded by
  // hdf5_library_mutex() like every other library call; never closed.
  static const hid_t fapl = [] {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    // Read-only and network filesystems: no locks. Strong close: closing the file closes all.
    H5Pset_file_locking(list, false, true);
    H5Pset_fclose_degree(list, H5F_CLOSE_STRONG);
    // A walk visits each object header once: a small metadata cache serves it as well as
    // the default one that grows to 32 MiB on a big file.
    H5AC_cache_config_t cache;
    cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(list, &cache) >= 0) {
      cache.set_initial_size = true;
      cache.initial_size = 1 << 20;
      cache.min_size = 1 << 20;
      cache.max_size = 4 << 20;
      H5Pset_mdc_config(list, &cache);
    }
    return list;
  }();
  // Never the default driver, which would open the file by name.
  if (fapl < 0 || use_descriptor_driver(fapl, fd) < 0) {
    if (error != nullptr) *error = last_hdf5_error();
    return H5I_INVALID_HID;
  }
  hid_t file = H5Fopen(kDescriptorFileName, H5F_ACC_RDONLY, fapl);
  if (file < 0 && error != nullptr) *error = last_hdf5_error();
  return file;
}

}  // namespace metafs::extract::hdf5
