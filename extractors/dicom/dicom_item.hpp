#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <memory>

namespace metafs::extract::dicom {

class TextDecoder;

// The decoder for the text of `item`: a new one when the item has its own Specific Character
// Set (0008,0005) (a dataset, or a sequence item that overrides it), else `inherited`.
// `owned` keeps a new decoder alive.
const TextDecoder& item_decoder(DcmItem& item, const TextDecoder& inherited,
                                std::unique_ptr<TextDecoder>& owned);

// The item of `sequence` after `previous` (the first one for nullptr), or nullptr after the
// last: a walk costs a step per item, where getItem(i) seeks from the first item each time
// (a walk over a DICOMDIR's thousand records took half a million steps).
inline DcmItem* next_item(DcmSequenceOfItems& sequence, DcmItem* previous) {
  return static_cast<DcmItem*>(sequence.nextInContainer(previous));
}

}  // namespace metafs::extract::dicom
