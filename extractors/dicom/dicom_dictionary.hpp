#pragma once

namespace metafs::extract::dicom {

// Adds the private dictionary generated at build time from pydicom's (python3-pydicom: 435
// creators, DCMTK's private.dic lacks most) to DCMTK's data dictionary, so implicit-VR and UN
// private values decode with their VR. Once per process; later calls do nothing.
void add_private_dictionary();

}  // namespace metafs::extract::dicom
