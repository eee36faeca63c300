#pragma once

#include <cstdint>
#include <string_view>

#include "format.hpp"

namespace metafs::extract {

// Recognises a scientific file by its magic bytes, using the name only as a hint. Reads at
// most a few KiB through `fd` (pread, offset untouched); never runs an extractor.
//   DICOM   "DICM" at 128, or a preamble-less dataset starting with group 0002/0008 (LE)
//   FITS    "SIMPLE  =" at 0, also inside gzip (the first block is inflated)
//   HDF5    "\x89HDF\r\n\x1a\n" at 0, 512, 1024, 2048, ... (user block); netCDF-4 files
//           are HDF5 files and are told apart at extraction (hdf5_file_is_netcdf4)
//   NetCDF  "CDF\x01", "CDF\x02", "CDF\x05" at 0
// Returns Format::kNone for anything else, including read errors.
Format detect_format(int fd, std::string_view file_name, std::uint64_t file_size);

// The same on an in-memory prefix of the file (tests; `size` is the whole file's size).
Format detect_format_prefix(std::string_view prefix, std::string_view file_name,
                            std::uint64_t file_size);

}  // namespace metafs::extract
