#pragma once

#include <memory>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_dicom_extractor();

}  // namespace metafs::extract
