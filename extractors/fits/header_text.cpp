#include "fits/header_text.hpp"

#include "fits/fits_card.hpp"
#include "render.hpp"

namespace metafs::extract::fits {

void append_hdu_header(std::string& out, std::string_view separator,
                       const std::vector<std::string>& cards, bool end_found) {
  out += separator;
  out += '\n';
  for (const std::string& card : cards) {
    // Control bytes escaped as in metadata.txt, so a card stays one line.
    append_escaped_value(out, trim_right(card));
    out += '\n';
  }
  if (end_found) out += "END\n";
  out += '\n';
}

}  // namespace metafs::extract::fits
