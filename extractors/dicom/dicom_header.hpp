#pragma once

#include <string>

#include "dicom/dicom_reader.hpp"

namespace metafs::extract::dicom {

// header.txt: what `dcmdump -M +U8 +sb PixelData FILE` prints (DCMTK's own printer: tags, VR,
// value, length, VM, keyword, indented sequences, long values shortened), followed by one line
// for the Pixel Data element whose value was not read. Converts the text values of
// `headers.file` to UTF-8 in place, so call it after everything else that reads the values.
std::string render_header(DicomHeaders& headers);

}  // namespace metafs::extract::dicom
