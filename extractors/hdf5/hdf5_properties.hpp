#pragma once

#include <hdf5.h>

#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// A dataspace's class, dimensions and maximum dimensions.
Dataspace describe_space(hid_t space);

// From a dataset creation property list: layout, chunk shape, filter pipeline (as
// "deflate level=6", "filter id=32004 params=0 1", ...), external raw storage and whether a
// fill value is undefined, the default or user-defined. The fill value itself is read by the
// caller, which knows the dataset's type.
void read_storage_properties(hid_t dcpl, DatasetInfo& info);

}  // namespace metafs::extract::hdf5
