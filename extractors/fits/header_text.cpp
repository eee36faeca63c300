#include "fits/header_text.hpp"

#include "fits/fits_card.hpp"
#include "render.hpp"

namespace metafs::extract::fits {

namespace {

template <typename Cards>
void append_cards(std::string& out, std::string_view separator, const Cards& cards,
                  bool end_found) {
  out += separator;
  out += '\n';
  for (std::string_view card : cards) {
    // Control bytes escaped as in metadata.txt, so a card stays one line.
    append_escaped_value(out, trim_right(card));
    out += '\n';
  }
  if (end_found) out += "END\n";
  out += '\n';
}

}  // namespace

void append_hdu_header(std::string& out, std::string_view separator, const CardList& cards,
                       bool end_found) {
  append_cards(out, separator, cards, end_found);
}

void append_hdu_header(std::string& out, std::string_view separator,
                       const std::vector<std::string>& cards, bool end_found) {
  append_cards(out, separator, cards, end_found);
}

}  // namespace metafs::extract::fits
