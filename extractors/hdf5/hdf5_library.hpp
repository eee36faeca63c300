#pragma once

#include <filesystem>
#include <string>

namespace metafs::extract::hdf5 {

// Process-wide use of the HDF5 library. Precondition for every call: the caller holds
// hdf5_library_mutex().

// Opens `path` read-only with file locking off; returns a negative id on failure and then
// sets *error (when given) to the library's reason. Filter plugins stay unloaded and the
// metadata cache small (see configure_hdf5_library).
long long open_hdf5_file(const std::filesystem::path& path, std::string* error = nullptr);

// The library's last error as one line ("unable to open file: file signature not found").
std::string last_hdf5_error();

// Turns off what must be off in this process: error printing and filter plugin loading.
void configure_hdf5_library();

}  // namespace metafs::extract::hdf5
