#pragma once

#include <mutex>

namespace metafs::extract {

// The serial HDF5 library is not thread-safe, and netCDF-C calls it for netCDF-4 files: every
// use of either library in this process holds this one lock.
std::mutex& hdf5_library_mutex();

}  // namespace metafs::extract
