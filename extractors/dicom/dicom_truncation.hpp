#pragma once

#include <cstddef>
#include <string>

class DcmFileFormat;

namespace metafs::extract::dicom {

struct DescriptorFile;

// After a read that ended early: finds the value the end of `file` cut off (DCMTK keeps it at
// its declared length, the missing bytes zeroed by DescriptorInputStream) and shortens it to
// the bytes the file holds, whole values only for numeric VRs. Values DCMTK deferred are
// loaded first when they are small enough to be shown. Returns the `error` text for it
// ("" when no value was cut off). Never throws.
std::string trim_truncated_value(DcmFileFormat& dataset, DescriptorFile& file);

// After a read: binary values of odd length (not allowed, but found in files), to which DCMTK
// added a pad byte, get back the length they have in the file, so that no view shows a byte
// the file does not hold (`01\02\03`, not `01\02\03\00`). Returns how many elements and
// sequence items it passed (meta header and dataset), which sizes the views' reservations.
std::size_t unpad_odd_lengths(DcmFileFormat& file);

}  // namespace metafs::extract::dicom
