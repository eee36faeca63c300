#pragma once

#include <string>
#include <vector>

#include "fits/fits_card.hpp"

namespace metafs::extract::fits {

// The header of a tile-compressed image (a BINTABLE with ZIMAGE = T) as funpack writes the
// decompressed image: CFITSIO's own fits_img_decompress_header on a header-only in-memory
// copy, so no data is read. `as_primary` is funpack's choice for the first extension after an
// empty primary array (the image becomes the primary HDU). Returns the cards (trailing blanks
// trimmed, END excluded); throws ExtractError with CFITSIO's reason when it cannot build one.
// Two things differ from CFITSIO's raw output, as astropy reads the file: cards that come
// before ZIMAGE in the table follow the image's mandatory cards instead of preceding
// XTENSION, and EXTNAME = 'COMPRESSED_IMAGE' is dropped when the table has another EXTNAME.
struct ImageHeader {
  std::vector<std::string> cards;
  // Set when CFITSIO (and so funpack) refuses the rebuilt header; `cards` are still shown.
  std::string error;
};
ImageHeader decompressed_image_header(const CardList& table_cards, bool as_primary);

}  // namespace metafs::extract::fits
