#pragma once

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

}  // namespace metafs::extract::dicom
