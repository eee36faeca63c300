#pragma once

#include "hdf5_handle.hpp"

namespace metafs::extract::hdf5 {

// The registry checks every HDF5 file for netCDF-4 (opening it) just before extracting it
// (opening it again); opening dominates the cost of a small file. The check hands over its
// open file here, and the extraction takes it back if it is the same, unchanged file.
// One slot for the process. Precondition for every call: hdf5_library_mutex() is held.

// Keeps `probed`, which must own the descriptor its file reads, closing whatever was kept
// before.
void keep_probed_file(OpenFile probed);

// Closes the kept file, if any.
void drop_probed_file();

// The kept file when `fd` reads the same inode, with the same size and times as when it was
// kept; otherwise an empty OpenFile (and the kept file is closed). The file returned reads
// its own descriptor, not `fd`.
OpenFile take_probed_file(int fd);

}  // namespace metafs::extract::hdf5
