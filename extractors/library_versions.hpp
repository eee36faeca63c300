#pragma once

#include <string>
#include <vector>

namespace metafs::extract {

// A library a tool runs with, for --version ("HDF5", "1.10.8").
struct LibraryVersion {
  std::string name;
  std::string version;
};

// The format libraries (DCMTK, CFITSIO, HDF5, netCDF-C) and zstd, as the loaded libraries
// report themselves; DCMTK has no such call, so its version is the one built against.
std::vector<LibraryVersion> format_library_versions();

}  // namespace metafs::extract
