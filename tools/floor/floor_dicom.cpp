// DICOM floor: what metafs needs from DCMTK and no more. Load the file up to Pixel Data
// (not its value), convert the dataset to UTF-8, walk every element once (nested items too)
// and get its keyword and its value as text — the information of metadata.txt, dicom.json
// and header.txt, each produced once.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <dcmtk/dcmdata/dcstack.h>

#include <map>
#include <memory>
#include <string>

#include "floor_common.hpp"

namespace {

std::size_t g_sink = 0;  // keeps the work from being optimised away

// A reader that goes on from file to file keeps a converter for each character set it has
// met, so glibc's iconv module for it stays loaded (a metafs worker opens them all before its
// sandbox); without one, convertToUTF8 loaded and unloaded the module for every file (two
// fifths of the time of pydicom's character-set files: 71 -> 43 us per file).
std::map<std::string, std::unique_ptr<DcmSpecificCharacterSet>> g_converters;

void keep_converter(DcmDataset& dataset) {
  OFString charset;
  if (dataset.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).bad()) return;
  auto [it, added] = g_converters.try_emplace(charset.c_str());
  if (!added) return;
  it->second = std::make_unique<DcmSpecificCharacterSet>();
  (void)it->second->selectCharacterSet(charset);
}

bool read_file(const std::string& path) {
  DcmFileFormat file;
  if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect,
                            DCM_PixelData)
          .bad()) {
    return false;
  }
  DcmDataset* dataset = file.getDataset();
  keep_converter(*dataset);
  file.convertToUTF8();  // a failure leaves the values as they are, as metafs does
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
