#pragma once

#include <string>

namespace metafs::extract::hdf5 {

// Process-wide use of the HDF5 library. Precondition for every call: the caller holds
// hdf5_library_mutex().

// Opens the HDF5 file `fd` reads (a borrowed descriptor that must stay open until the file
// id is closed; its offset is left alone) read-only with file locking off, through the
// descriptor driver: the library opens no file itself. Returns a negative id on failure and
// then sets *error (when given) to the library's reason. Filter plugins stay unloaded and
// the metadata cache small (see configure_hdf5_library).
long long open_hdf5_file(int fd, std::string* error = nullptr);

// The library's last error as one line ("unable to open file: file signature not found").
std::string last_hdf5_error();

// Turns off what must be off in this process: error printing and filter plugin loading.
void configure_hdf5_library();

}  // namespace metafs::extract::hdf5
