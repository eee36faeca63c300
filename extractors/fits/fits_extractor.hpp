#pragma once

#include <memory>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_fits_extractor();

}  // namespace metafs::extract
