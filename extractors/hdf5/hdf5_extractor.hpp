#pragma once

#include <memory>

#include "extractor.hpp"
#include "hdf5/hdf5_limits.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_hdf5_extractor();
// The same with other listing limits (tests use small ones).
std::unique_ptr<Extractor> make_hdf5_extractor(const hdf5::Limits& limits);

}  // namespace metafs::extract

namespace metafs::extract {

// True when an HDF5-signature file is a netCDF-4 file and is shown as `netcdf`: its name ends
// in .nc, .nc4, .cdf or .netcdf (any case), or its root group has the attribute _NCProperties
// or _nc3_strict, or one of the first 64 objects directly in the root group (in storage order)
// is a dataset with the attribute _Netcdf4Dimid or _Netcdf4Coordinates. Cheap (opens the file,
// checks a few attributes; an HDF5 file stays open for the extraction that follows); never
// throws; takes hdf5_library_mutex().
bool hdf5_file_is_netcdf4(const SourceFile& file);

}  // namespace metafs::extract
