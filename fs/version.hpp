#pragma once

#include <string>
#include <string_view>

namespace metafs {

// project(VERSION) in CMakeLists.txt, through metafs_version's compile definitions.
inline constexpr const char* kVersion = METAFS_VERSION;

// What --version prints in all three tools: "`program` <version>", then one "<library>
// <version>" line for each library they run with (libfuse, DCMTK, CFITSIO, HDF5, netCDF-C,
// zstd, LMDB), as the loaded library reports itself. Its own library (metafs_version), so
// metafs-extract can use it without the FUSE adapter.
std::string version_text(std::string_view program);

}  // namespace metafs
