#pragma once

#include <hdf5.h>

#include <cstddef>

#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// `type` in h5dump's notation (H5T_STD_I32LE, H5T_COMPOUND { ... }, H5T_STRING { ... }, ...).
// Types nested deeper than max_depth print as "..." instead of recursing.
TypeText describe_type(hid_t type, std::size_t max_depth);

}  // namespace metafs::extract::hdf5
