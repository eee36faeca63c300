#pragma once

#include <string>

class DcmDataset;
class DcmMetaInfo;

namespace metafs::extract::dicom {

// Appends to `out` what DCMTK's DcmFileFormat::print(out, PF_shortenLongTagValues) prints for
// `meta` and `dataset`, byte for byte, without its per-element ostream and dictionary
// look-ups: the "# Dicom-File-Format" title, the "# Dicom-Meta-Information-Header" and
// "# Dicom-Data-Set" lines, then every element (tag, VR, value shortened past 70 characters,
// length, VM, name), sequences and items indented. Text, UID and integer elements and DICOMDIR
// records are printed here; every other kind (binary, floats, tags, pixel data) by DCMTK's own
// print() of that element. Call it after DcmFileFormat::convertToUTF8(), as dcmdump +U8 does.
void print_file(DcmMetaInfo& meta, DcmDataset& dataset, std::string& out);

}  // namespace metafs::extract::dicom
