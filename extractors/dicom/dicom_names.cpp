#include "dicom/dicom_names.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctagkey.h>

#include <cstdint>
#include <unordered_map>

namespace metafs::extract::dicom {
namespace {

constexpr char kRetiredPrefix[] = "RETIRED_";

// "GGGG" then `separator` (if any) then "EEEE", upper-case hex.
std::string hex_tag(const DcmTagKey& tag, const char* separator) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(9);
  auto append = [&](std::uint16_t number) {
    for (int shift = 12; shift >= 0; shift -= 4) text.push_back(kHex[(number >> shift) & 0xF]);
  };
  append(tag.getGroup());
  text += separator;
  append(tag.getElement());
  return text;
}

std::string dictionary_name(const DcmTagKey& tag) {
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

}  // namespace

const std::string& field_name(const DcmTagKey& tag) {
  if (tag.isPrivate()) {
    thread_local std::string name;
    return name = tag_with_comma(tag);
  }
  // A dictionary lookup per element (under its lock) cost more than the rest of naming, and
  // the standard names never change (the private dictionary added later names odd groups,
  // which are not looked up): each thread remembers the names it looked up. Files hold a few
  // hundred distinct tags; made-up ones (unknown tags are names too) cannot grow it for ever.
  constexpr std::size_t kMaxRemembered = 8192;
  thread_local std::unordered_map<std::uint32_t, std::string> names;
  std::uint32_t key = std::uint32_t{tag.getGroup()} << 16 | tag.getElement();
  auto found = names.find(key);
  if (found != names.end()) return found->second;
  if (names.size() >= kMaxRemembered) names.clear();
  return names.emplace(key, dictionary_name(tag)).first->second;
}

std::string tag_with_comma(const DcmTagKey& tag) {
  return hex_tag(tag, ",");
}

std::string tag_json_key(const DcmTagKey& tag) {
  return hex_tag(tag, "");
}

}  // namespace metafs::extract::dicom
