#include "dicom/dicom_names.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctagkey.h>

#include <cstdio>

namespace metafs::extract::dicom {
namespace {

constexpr char kRetiredPrefix[] = "RETIRED_";

}  // namespace

std::string field_name(const DcmTagKey& tag) {
  if (tag.isPrivate()) return tag_with_comma(tag);
  std::string name;
  const DcmDataDictionary& dictionary = dcmDataDict.rdlock();
  const DcmDictEntry* entry = dictionary.findEntry(tag, nullptr);
  if (entry != nullptr && entry->getTagName() != nullptr &&
      (!entry->isRepeating() ||
       (entry->getGroup() == tag.getGroup() && entry->getElement() == tag.getElement()))) {
    name = entry->getTagName();
    // DCMTK marks retired elements in its names; the keyword of PS3.6 is the rest.
    if (name.rfind(kRetiredPrefix, 0) == 0) name.erase(0, sizeof kRetiredPrefix - 1);
  }
  dcmDataDict.rdunlock();
  return name.empty() ? tag_with_comma(tag) : name;
}

std::string tag_with_comma(const DcmTagKey& tag) {
  char text[16];
  std::snprintf(text, sizeof text, "%04X,%04X", tag.getGroup(), tag.getElement());
  return text;
}

std::string tag_json_key(const DcmTagKey& tag) {
  char text[16];
  std::snprintf(text, sizeof text, "%04X%04X", tag.getGroup(), tag.getElement());
  return text;
}

}  // namespace metafs::extract::dicom
