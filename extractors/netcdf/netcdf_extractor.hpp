#pragma once

#include <memory>
#include <string>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_netcdf_extractor();

// The netCDF-C version this extractor reads with (nc_inq_libvers()).
std::string netcdf_library_version();

}  // namespace metafs::extract
