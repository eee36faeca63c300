#pragma once

#include "hdf5_library.hpp"
#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// Reads the object tree of an HDF5 file (metadata only) into `model`: links in name order,
// every object once, external links and soft links recorded but never followed.
// `fd` is the file, read through the descriptor driver (see open_hdf5_file).
// Precondition: the caller holds hdf5_library_mutex(). Throws ExtractError when the file
// cannot be opened as HDF5; problems inside the file become notes on the nodes concerned.
void read_hdf5_file(int fd, const Limits& limits, FileModel& model);

// The same for a file opened with open_hdf5_file (the caller closes it).
void read_open_hdf5_file(long long file, const Limits& limits, FileModel& model);

}  // namespace metafs::extract::hdf5
