#pragma once

#include <memory>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_netcdf_extractor();

}  // namespace metafs::extract
