#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "extractor.hpp"
#include "hdf5/hdf5_limits.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_hdf5_extractor();

// The HDF5 version this extractor reads with (H5get_libversion()).
std::string hdf5_library_version();
// The same with other listing limits (tests use small ones).
std::unique_ptr<Extractor> make_hdf5_extractor(const hdf5::Limits& limits);

// What the HDF5 extractor does with the file `fd` reads: a borrowed descriptor (never closed,
// its offset untouched), read through the HDF5 descriptor driver, so that neither this code
// nor the library opens any file by name. `name` is shown in the header only. Throws
// ExtractError as Extractor::extract.
void extract_hdf5(int fd, const std::string& name, const hdf5::Limits& limits, Extraction& out);

}  // namespace metafs::extract

namespace metafs::extract {

// True when an HDF5-signature file is a netCDF-4 file and is shown as `netcdf`: its name ends
// in .nc, .nc4, .cdf or .netcdf (any case), or its root group has the attribute _NCProperties
// or _nc3_strict, or one of the first 64 objects directly in the root group (in storage order)
// is a dataset with the attribute _Netcdf4Dimid or _Netcdf4Coordinates. Cheap (reads the
// file through the descriptor driver, checks a few attributes; an HDF5 file stays open, with a
// duplicate of `fd`, for the extraction of the same unchanged file that follows); never
// throws; takes hdf5_library_mutex(). `fd` is borrowed; `name` is used for its extension only.
bool hdf5_file_is_netcdf4(int fd, const std::filesystem::path& name);

}  // namespace metafs::extract
