#pragma once

#include <string>
#include <vector>

#include "fits/fits_card.hpp"
#include "meta_tree.hpp"

namespace metafs::extract::fits {

// Reserved names inside fields/<hdu>/: lowercase, so they never clash with a standard FITS
// keyword (A-Z, 0-9, '-', '_'). A HIERARCH keyword spelled the same gets a "#2" suffix.
inline constexpr const char* kTypeName = "type";
inline constexpr const char* kColumnsName = "columns";
inline constexpr const char* kCompressedName = "compressed";
inline constexpr const char* kBlankKeywordName = "blank_keyword";

// Adds one file per keyword of `cards` under `dir`, in card order:
//   * values: strings unquoted and right-trimmed (long strings joined over CONTINUE cards),
//     logicals T/F (JSON booleans), numbers as written (JSON numbers);
//   * COMMENT, HISTORY and the text of blank-keyword cards: one list each, lines joined by
//     '\n' (JSON arrays); blank-keyword cards go to "blank_keyword";
//   * a keyword that appears again gets "#2", "#3", ... (the tree's own rule).
void add_keyword_fields(MetaTree& tree, NodeId dir, const std::vector<Card>& cards);

// Adds columns/<n>/{name,format,unit} for a table header (n from 1, as in TTYPEn), below
// the existing directory `columns`. TFIELDS is capped at 999 as in the standard.
void add_column_fields(MetaTree& tree, NodeId columns, const std::vector<Card>& cards);

// The value of a non-HIERARCH keyword, or "" when absent.
std::string keyword_value(const std::vector<Card>& cards, std::string_view keyword);

}  // namespace metafs::extract::fits
