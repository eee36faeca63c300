#pragma once

#include <filesystem>
#include <string>

#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// Reads the object tree of an HDF5 file (metadata only) into `model`: links in name order,
// every object once, external links and soft links recorded but never followed.
// Precondition: the caller holds hdf5_library_mutex(). Throws ExtractError when the file
// cannot be opened as HDF5; problems inside the file become notes on the nodes concerned.
void read_hdf5_file(const std::filesystem::path& path, const Limits& limits, FileModel& model);

// The same for a file opened with open_hdf5_file (the caller closes it).
void read_open_hdf5_file(long long file, const Limits& limits, FileModel& model);

// Opens `path` read-only with file locking off; returns a negative id on failure and then
// sets *error (when given) to the library's reason.
// Precondition: the caller holds hdf5_library_mutex().
long long open_hdf5_file(const std::filesystem::path& path, std::string* error = nullptr);

// The library's last error as one line ("unable to open file: file signature not found").
std::string last_hdf5_error();

// Turns off what must be off in this process: error printing and filter plugin loading.
void configure_hdf5_library();

}  // namespace metafs::extract::hdf5
