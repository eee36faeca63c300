#pragma once

#include <memory>
#include <string>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_fits_extractor();

// The CFITSIO version this extractor reads with (fits_get_version()).
std::string fits_library_version();

}  // namespace metafs::extract
