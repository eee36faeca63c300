#pragma once

#include "registry.hpp"

namespace metafs::extract::worker {

// Initialises, before the seccomp filter forbids it, what the format libraries would otherwise
// set up lazily with system calls the sandbox refuses (mostly executable mappings from
// dlopen): HDF5 and netCDF-C library init and the lazily set-up parts of DCMTK. (The DCMTK
// data dictionary and glibc's iconv modules for every DICOM character set were loaded when
// `registry` made its extractors.) Extracts a tiny in-memory sample of each format through
// `registry`. Never throws.
void warm_up(const ExtractorRegistry& registry);

}  // namespace metafs::extract::worker
