#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fits/fits_card.hpp"

namespace metafs::extract::fits {

// header.txt: for each HDU a separator line "# HDU <n> <type> [<EXTNAME>] (fields/<n>)",
// then its 80-column cards in file order with trailing blanks trimmed, then "END" (left out
// when the file has none) and an empty line.
void append_hdu_header(std::string& out, std::string_view separator, const CardList& cards,
                       bool end_found);
void append_hdu_header(std::string& out, std::string_view separator,
                       const std::vector<std::string>& cards, bool end_found);

}  // namespace metafs::extract::fits
