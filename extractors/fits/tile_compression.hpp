#pragma once

#include <string>
#include <vector>

namespace metafs::extract::fits {

// The header of a tile-compressed image (a BINTABLE with ZIMAGE = T) as funpack writes the
// decompressed image: CFITSIO's own fits_img_decompress_header on a header-only in-memory
// copy, so no data is read. `as_primary` is funpack's choice for the first extension after an
// empty primary array (the image becomes the primary HDU). Returns the cards (trailing blanks
// trimmed, END excluded); throws ExtractError with CFITSIO's reason when it cannot.
std::vector<std::string> decompressed_image_header(const std::vector<std::string>& table_cards,
                                                   bool as_primary);

}  // namespace metafs::extract::fits
