#pragma once

#include <string>

class DcmDataset;

namespace metafs::extract::dicom {

// Appends to `out` what DCMTK's DcmDataset::print(out, PF_shortenLongTagValues) prints, byte
// for byte, without its per-element ostream and dictionary look-ups: the "# Dicom-Data-Set"
// lines, then every element (tag, VR, value shortened past 70 characters, length, VM, name),
// sequences and items indented. Text, UID and integer elements are printed here; every other
// kind (binary, floats, tags, pixel data, DICOMDIR records) by DCMTK's own print() of that
// element. Call it after DcmFileFormat::convertToUTF8(), as dcmdump +U8 prints.
void print_dataset(DcmDataset& dataset, std::string& out);

}  // namespace metafs::extract::dicom
