// DICOM floor: what metafs needs from DCMTK and no more. Load the file up to Pixel Data
// (not its value), convert the dataset to UTF-8, walk every element once (nested items too)
// and get its keyword and its value as text — the information of metadata.txt, dicom.json
// and header.txt, each produced once.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcstack.h>

#include "floor_common.hpp"

namespace {

std::size_t g_sink = 0;  // keeps the work from being optimised away

bool read_file(const std::string& path) {
  DcmFileFormat file;
  if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect,
                            DCM_PixelData)
          .bad()) {
    return false;
  }
  file.convertToUTF8();  // a failure leaves the values as they are, as metafs does
  DcmDataset* dataset = file.getDataset();
  DcmStack stack;
  OFString value;
  while (dataset->nextObject(stack, OFTrue).good()) {
    auto* object = stack.top();
    DcmTag tag = object->getTag();  // getTagName() looks the keyword up (not const)
    g_sink += std::strlen(tag.getTagName());
    if (object->isLeaf()) {
      auto* element = static_cast<DcmElement*>(object);
      if (element->getLengthField() <= 4096 && element->getOFStringArray(value).good()) {
        g_sink += value.size();
      }
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int status = metafs::floor::run("floor_dicom", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
