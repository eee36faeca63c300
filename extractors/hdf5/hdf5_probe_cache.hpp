#pragma once

#include <filesystem>

#include "hdf5_handle.hpp"

namespace metafs::extract::hdf5 {

// The registry checks every HDF5 file for netCDF-4 (opening it) just before extracting it
// (opening it again); opening dominates the cost of a small file. The check hands over its
// open file here, and the extraction takes it back if it is the same, unchanged file.
// One slot for the process. Precondition for both calls: hdf5_library_mutex() is held.

// Keeps `file` (an open file id for `path`), closing whatever was kept before.
void keep_probed_file(const std::filesystem::path& path, Handle file);

// The kept file when it is `path` with the same device, inode, size and times as when it
// was kept; otherwise an invalid handle (and the kept file is closed).
Handle take_probed_file(const std::filesystem::path& path);

}  // namespace metafs::extract::hdf5
