#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace metafs::extract {

// The scientific formats metafs understands. kNone means "not scientific": the file is
// passed through unchanged.
enum class Format : std::uint8_t { kNone = 0, kDicom = 1, kFits = 2, kHdf5 = 3, kNetcdf = 4 };

// The one-word name used in the `format` file: "dicom", "fits", "hdf5", "netcdf" ("none").
std::string_view format_name(Format format);

std::optional<Format> parse_format(std::string_view name);

// True when a file name ends in .nc, .nc4, .cdf or .netcdf (any case): an HDF5-signature file
// so named is shown as netcdf (README, Detection).
bool has_netcdf_name(std::string_view name);

}  // namespace metafs::extract
