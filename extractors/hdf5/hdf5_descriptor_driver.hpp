#pragma once

#include <hdf5.h>

namespace metafs::extract::hdf5 {

// A read-only HDF5 virtual file driver over a descriptor the caller opened: workers may not
// open files by name, so the library must never do it either. Modelled on the library's
// sec2 driver (pread at the requested address, zeros past the end of the file) and on h5py's
// file-object driver. The descriptor is borrowed: the driver never closes it and never moves
// its file offset; it must stay open until the HDF5 file id is closed.
//
// Opening any name other than kDescriptorFileName through the driver fails, so a link, a
// virtual dataset or anything else in the file that names another file cannot make the
// library open that file (the library gives every such open the parent file's driver).
// Precondition: the caller holds hdf5_library_mutex().

// The name to give H5Fopen with a list set up by use_descriptor_driver. Absolute, so the
// library derives the directory for relative names from it without asking for the current
// directory.
inline constexpr const char* kDescriptorFileName = "/metafs-descriptor";

// Makes `fapl` (a file access property list) open files through `fd`: the next H5Fopen with
// it reads `fd`. Registers the driver on first use. Returns a negative value on failure.
herr_t use_descriptor_driver(hid_t fapl, int fd);

}  // namespace metafs::extract::hdf5
