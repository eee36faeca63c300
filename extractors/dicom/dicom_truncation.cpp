#include "dicom/dicom_truncation.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcbytstr.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcstack.h>

#include <cstdio>
#include <vector>

#include "dicom/dicom_fd_stream.hpp"
#include "dicom/dicom_item.hpp"
#include "dicom/dicom_value.hpp"

namespace metafs::extract::dicom {
namespace {

// How many bytes of its value DCMTK read, and the value buffer, are protected members of
// DcmElement; a pointer to a member named through a derived class may reach them on any
// element. Never instantiated.
struct ElementAccess : DcmElement {
  static Uint32 transferred(const DcmElement& e) {
    return (e.*&ElementAccess::getTransferredBytes)();
  }
  static const Uint8* value(DcmElement& e) {
    return static_cast<const Uint8*>((e.*&ElementAccess::getValue)(gLocalByteOrder));
  }
  static OFCondition put(DcmElement& e, const Uint8* bytes, Uint32 length) {
    return (e.*&ElementAccess::putValue)(bytes, length);
  }
  static void set_length(DcmElement& e, Uint32 length) {
    (e.*&ElementAccess::setLengthField)(length);
  }
};

// Whether this element's value is the one the last short read left incomplete.
bool cut_off(DcmElement& element, const DescriptorFile& file) {
  if (file.last_missing == 0 || element.getLengthField() == 0 || !element.valueLoaded()) {
    return false;
  }
  Uint32 read = ElementAccess::transferred(element);
  return read < element.getLengthField() && element.getLengthField() - read == file.last_missing;
}

std::string trim(DcmElement& element) {
  Uint32 declared = element.getLengthField();
  Uint32 in_file = ElementAccess::transferred(element);
  auto* text = dynamic_cast<DcmByteString*>(&element);
  // A partial number is not a value of the file: keep whole ones. DCMTK pads an odd length
  // with a zero byte, which is not in the file either: binary values keep an even count.
  Uint32 kept = in_file;
  std::size_t width = element.getTag().getVR().getValueWidth();
  if (width > 1) kept -= kept % static_cast<Uint32>(width);
  if (text == nullptr) kept -= kept % 2;
  std::vector<Uint8> bytes;
  if (const Uint8* value = ElementAccess::value(element); value != nullptr) {
    bytes.assign(value, value + kept);
  }
  kept = static_cast<Uint32>(bytes.size());
  if (text != nullptr) {
    text->putString(reinterpret_cast<const char*>(bytes.data()), kept);
  } else {
    ElementAccess::put(element, bytes.data(), kept);
  }
  char reason[160];
  std::snprintf(reason, sizeof reason,
                "%s (%04X,%04X) is truncated: %u of %u bytes are in the file",
                DcmTag(element.getTag()).getTagName(), element.getGTag(), element.getETag(),
                static_cast<unsigned>(in_file), static_cast<unsigned>(declared));
  return reason;
}

// The elements of `item` and of the items of its sequences, at any depth (a sequence's
// nesting is bounded by what DCMTK could read, as for the views' own walks); adds to `passed`
// each element and item.
void unpad_item(DcmItem& item, std::size_t& passed) {
  for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
       object = item.nextInContainer(object)) {
    ++passed;
    if (!object->isLeaf()) {
      if (auto* sequence = dynamic_cast<DcmSequenceOfItems*>(object)) {
        for (DcmItem* child = next_item(*sequence, nullptr); child != nullptr;
             child = next_item(*sequence, child)) {
          ++passed;
          unpad_item(*child, passed);
        }
      }
      continue;
    }
    auto& element = static_cast<DcmElement&>(*object);
    if (!element.valueLoaded()) continue;
    Uint32 read = ElementAccess::transferred(element);
    // DCMTK read an odd number of bytes and then added a zero (dcmEnableAutomaticInputData-
    // Correction, which does more that is wanted): the length goes back to what was read, the
    // buffer keeps its extra byte. Text keeps DCMTK's pad byte: it is padding, which text
    // values drop anyway (asked last: the cast costs more than the test).
    if (read % 2 == 1 && element.getLengthField() == read + 1 &&
        dynamic_cast<DcmByteString*>(&element) == nullptr) {
      ElementAccess::set_length(element, read);
    }
  }
}

}  // namespace

std::string trim_truncated_value(DcmFileFormat& dataset, DescriptorFile& file) {
  std::string reason;
  std::uint64_t missing_after_read = file.last_missing;
  DcmStack stack;
  while (dataset.nextObject(stack, OFTrue).good()) {
    DcmObject* object = stack.top();
    if (object == nullptr || !object->isLeaf()) continue;
    auto& element = static_cast<DcmElement&>(*object);
    file.last_missing = missing_after_read;
    if (!element.valueLoaded() && element.getLengthField() <= kMaxTextBytes) {
      // Deferred: a cut-off value would only show when shown, so read it now. Only after a
      // failed read, so an intact file costs nothing more.
      file.last_missing = 0;
      element.loadAllDataIntoMemory();
    }
    if (cut_off(element, file)) {
      std::string why = trim(element);
      if (reason.empty()) reason = why;
      if (file.last_missing == missing_after_read) missing_after_read = 0;  // matched it
    }
  }
  return reason;
}

std::size_t unpad_odd_lengths(DcmFileFormat& file) {
  // Walked with nextInContainer, not nextObject: DcmStack allocates a node for every element
  // it passes (two of every hundred instructions of an extraction went to that walk).
  std::size_t passed = 0;
  if (DcmMetaInfo* meta = file.getMetaInfo()) unpad_item(*meta, passed);
  if (DcmDataset* dataset = file.getDataset()) unpad_item(*dataset, passed);
  return passed;
}

}  // namespace metafs::extract::dicom
