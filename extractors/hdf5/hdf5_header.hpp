#pragma once

#include <string>
#include <string_view>

#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// The model in the layout of `h5dump -H FILE` (DDL); `file_name` is what follows HDF5.
std::string render_header(const FileModel& model, std::string_view file_name);

}  // namespace metafs::extract::hdf5
