#pragma once

#include <memory>

class DcmItem;

namespace metafs::extract::dicom {

class TextDecoder;

// The decoder for the text of `item`: a new one when the item has its own Specific Character
// Set (0008,0005) (a dataset, or a sequence item that overrides it), else `inherited`.
// `owned` keeps a new decoder alive.
const TextDecoder& item_decoder(DcmItem& item, const TextDecoder& inherited,
                                std::unique_ptr<TextDecoder>& owned);

}  // namespace metafs::extract::dicom
