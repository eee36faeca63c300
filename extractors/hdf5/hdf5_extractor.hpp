#pragma once

#include <memory>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_hdf5_extractor();

}  // namespace metafs::extract

namespace metafs::extract {

// True when an HDF5-signature file is a netCDF-4 file and is shown as `netcdf`: its name ends
// in .nc, .nc4, .cdf or .netcdf, or its root group carries netCDF-4's own attributes.
bool hdf5_file_is_netcdf4(const std::filesystem::path& path);

}  // namespace metafs::extract
