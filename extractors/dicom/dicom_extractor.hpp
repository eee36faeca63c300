#pragma once

#include <memory>
#include <string>

#include "extractor.hpp"

namespace metafs::extract {

std::unique_ptr<Extractor> make_dicom_extractor();

// The DCMTK version this extractor reads with (OFFIS_DCMTK_VERSION_STRING, as built: DCMTK has no
// run-time call).
std::string dicom_library_version();

}  // namespace metafs::extract
