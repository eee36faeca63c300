#include "fits/fits_extractor.hpp"

#include <fitsio.h>

#include <cmath>
#include <string>
#include <vector>

#include "fits/block_source.hpp"
#include "fits/hdu_fields.hpp"
#include "fits/hdu_reader.hpp"
#include "fits/header_text.hpp"
#include "fits/tile_compression.hpp"

namespace metafs::extract {
namespace {

using fits::Card;
using fits::HduType;
using fits::RawHdu;

// Work spent inflating a gzip file is bounded too (a small file can inflate to terabytes).
constexpr std::uint64_t kMaxInflatedBytes = std::uint64_t{16} << 30;

std::vector<Card> parse_cards(const std::vector<std::string>& cards) {
  std::vector<Card> parsed;
  parsed.reserve(cards.size());
  for (const std::string& card : cards) parsed.push_back(fits::parse_card(card));
  return parsed;
}

std::string separator(const RawHdu& hdu, const std::string& extname, std::string_view what) {
  std::string line = "# HDU " + std::to_string(hdu.index) + " " + std::string(what);
  if (!extname.empty()) line += " " + extname;
  line += " (fields/" + std::to_string(hdu.index) + ")";
  return line;
}

// A keyword's value as fields/ shows it (a long string joined over its CONTINUE cards), or
// `fallback` when `dir` has no such value.
std::string shown_value(const MetaTree& tree, NodeId dir, std::string_view keyword,
                        std::string fallback) {
  NodeId value = tree.find(dir, keyword);
  if (value == MetaTree::kNotFound || tree.node(value).is_dir()) return fallback;
  return tree.node(value).text;
}

bool is_table(HduType type) {
  return type == HduType::kAsciiTable || type == HduType::kBinaryTable ||
         type == HduType::kCompressedTable;
}

class FitsExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kFits; }
  std::uint32_t schema_version() const override { return 2; }

  void extract(const SourceFile& file, Extraction& out) const override {
    auto source = fits::open_block_source(file.fd(), kMaxInflatedBytes);
    fits::HduReader reader(*source, fits::ReaderLimits{});
    MetaTree& tree = out.tree;
    std::vector<std::pair<std::string, std::string>> names;  // EXTNAME -> HDU directory
    std::vector<std::string> problems;
    bool primary_empty = false;
    RawHdu hdu;
    while (reader.next(hdu)) {
      std::string index = std::to_string(hdu.index);
      NodeId dir = tree.add_dir(MetaTree::kRoot, index);
      tree.add_value(dir, fits::kTypeName, fits::hdu_type_name(hdu.type));
      if (hdu.index == 0) primary_empty = fits::keyword_value(hdu.parsed, "NAXIS") == "0";
      std::string extname = fits::keyword_value(hdu.parsed, "EXTNAME");

      if (hdu.type == HduType::kCompressedImage) {
        // What funpack would write, with the stored table header kept below compressed/.
        NodeId stored = tree.add_dir(dir, fits::kCompressedName);
        std::vector<std::string> image;
        try {
          fits::ImageHeader rebuilt =
              fits::decompressed_image_header(hdu.cards, hdu.index == 1 && primary_empty);
          image = std::move(rebuilt.cards);
          if (!rebuilt.error.empty()) problems.push_back("HDU " + index + ": " + rebuilt.error);
        } catch (const ExtractError& e) {
          problems.push_back("HDU " + index + ": " + e.what());
        }
        std::vector<Card> image_cards = parse_cards(image);
        fits::add_keyword_fields(tree, dir, image_cards);
        fits::add_keyword_fields(tree, stored, hdu.parsed);
        std::string image_name = fits::keyword_value(image_cards, "EXTNAME");
        if (!image_name.empty()) extname = shown_value(tree, dir, "EXTNAME", image_name);
        if (!image.empty()) {
          fits::append_hdu_header(out.header,
                                  separator(hdu, extname, "compressed image, as funpack writes it"),
                                  image, true);
        }
        fits::append_hdu_header(out.header,
                                "# HDU " + index +
                                    " as stored: binary table of compressed tiles (fields/" +
                                    index + "/" + fits::kCompressedName + ")",
                                hdu.cards, hdu.end_found);
      } else {
        NodeId columns = is_table(hdu.type) ? tree.add_dir(dir, fits::kColumnsName) : 0;
        fits::add_keyword_fields(tree, dir, hdu.parsed);
        if (!extname.empty()) extname = shown_value(tree, dir, "EXTNAME", extname);
        if (is_table(hdu.type)) fits::add_column_fields(tree, columns, hdu.parsed);
        fits::append_hdu_header(out.header, separator(hdu, extname, fits::hdu_type_name(hdu.type)),
                                hdu.cards, hdu.end_found);
      }
      if (!extname.empty()) names.emplace_back(extname, index);
    }

    add_name_links(tree, names);
    if (!reader.limit_note().empty()) tree.add_value(MetaTree::kRoot, "note", reader.limit_note());

    for (const std::string& p : reader.problems()) problems.push_back(p);
    std::string error = reader.fatal();
    if (error.empty() && !problems.empty()) error = problems.front();
    std::size_t others = problems.size() - (reader.fatal().empty() && !problems.empty() ? 1 : 0);
    if (!error.empty() && others > 0)
      error += " (and " + std::to_string(others) + " more problem" + (others > 1 ? "s" : "") + ")";
    if (!error.empty()) throw ExtractError(error);
  }

 private:
  // fields/<EXTNAME> -> <hdu> for every EXTNAME used by exactly one HDU and not taken by an
  // HDU number.
  static void add_name_links(MetaTree& tree,
                             const std::vector<std::pair<std::string, std::string>>& names) {
    for (const auto& [name, target] : names) {
      std::size_t uses = 0;
      for (const auto& other : names) uses += other.first == name ? 1 : 0;
      if (uses != 1) continue;
      if (tree.find(MetaTree::kRoot, escape_name(name)) != MetaTree::kNotFound) continue;
      tree.add_link(MetaTree::kRoot, name, target);
    }
  }
};

}  // namespace

std::unique_ptr<Extractor> make_fits_extractor() {
  return std::make_unique<FitsExtractor>();
}

std::string fits_library_version() {
  float number = 0;
  fits_get_version(&number);  // major + minor / 100 + micro / 10000
  long v = std::lround(number * 10000);
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

}  // namespace metafs::extract
