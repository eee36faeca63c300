#pragma once

#include <string>

class DcmTagKey;

namespace metafs::extract::dicom {

// The name of an element under fields/: its DICOM keyword ("PatientName") for a standard
// element, "GGGG,EEEE" (upper-case hex) for private, unknown, group-length and repeating-group
// elements (other than the first group of the range, e.g. 6002,0010). The name is kept by the
// calling thread and stays valid until its next call (names are looked up once per thread).
const std::string& field_name(const DcmTagKey& tag);

// "GGGG,EEEE", upper-case hex.
std::string tag_with_comma(const DcmTagKey& tag);

// "GGGGEEEE", upper-case hex: the attribute keys of the DICOM JSON Model.
std::string tag_json_key(const DcmTagKey& tag);

}  // namespace metafs::extract::dicom
