#include "dicom/dicom_item.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <string>

#include "dicom/dicom_text.hpp"

namespace metafs::extract::dicom {

const TextDecoder& item_decoder(DcmItem& item, const TextDecoder& inherited,
                                std::unique_ptr<TextDecoder>& owned) {
  DcmElement* element = nullptr;
  if (item.findAndGetElement(DCM_SpecificCharacterSet, element, OFFalse).bad() ||
      element == nullptr) {
    return inherited;
  }
  char* data = nullptr;
  Uint32 size = 0;
  std::string charset;
  if (element->getString(data, size).good() && data != nullptr) charset.assign(data, size);
  while (!charset.empty() && (charset.back() == ' ' || charset.back() == '\0')) {
    charset.pop_back();
  }
  while (!charset.empty() && charset.front() == ' ') charset.erase(0, 1);
  owned = std::make_unique<TextDecoder>(std::move(charset));
  return *owned;
}

}  // namespace metafs::extract::dicom
