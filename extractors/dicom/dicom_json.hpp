#pragma once

#include <string>

#include "dicom/dicom_reader.hpp"
#include "dicom/dicom_value.hpp"

namespace metafs::extract::dicom {

// The dataset (not the meta header) in the DICOM JSON Model of PS3.18 Annex F: keys "GGGGEEEE",
// "vr", "Value" (PN as {"Alphabetic", "Ideographic", "Phonetic"}, IS/DS as numbers when they
// are numbers, AT as "GGGGEEEE"), small binary values as "InlineBinary" (base64); bulk data
// (larger binary values, Pixel Data) is omitted. Takes the values add_fields decoded.
std::string render_dicom_json(DicomHeaders& headers, DecodedValues& decoded);

}  // namespace metafs::extract::dicom
