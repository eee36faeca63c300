#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fits/block_source.hpp"
#include "fits/fits_card.hpp"

namespace metafs::extract::fits {

// What kind of HDU a header describes.
enum class HduType {
  kPrimary,
  kRandomGroups,
  kImage,
  kAsciiTable,
  kBinaryTable,
  kCompressedImage,  // BINTABLE with ZIMAGE = T (tile compression)
  kCompressedTable,  // BINTABLE with ZTABLE = T
  kOther,            // an XTENSION this reader does not know (size still computed)
};

const char* hdu_type_name(HduType type);

// One header as read from the file, and where its data lies.
struct RawHdu {
  std::size_t index = 0;
  std::uint64_t header_offset = 0;  // in the (inflated) stream
  CardList cards;                   // 80 bytes each, in file order, END excluded
  std::vector<Card> parsed;         // cards[i] parsed
  bool end_found = false;
  HduType type = HduType::kPrimary;
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;  // without the padding to 2880
};

struct ReaderLimits {
  std::size_t max_hdus = 10000;
  std::size_t max_cards = 200000;  // over the whole file
};

// Walks a FITS stream one HDU at a time, reading header blocks and skipping data units.
class HduReader {
 public:
  HduReader(BlockSource& source, ReaderLimits limits) : source_(source), limits_(limits) {}

  // Reads the next HDU into `hdu`. Returns false when there is none (clean end of file,
  // trailing bytes that are not an extension, a limit, or a fatal problem in the previous
  // HDU). When a header is damaged the HDU is still returned with what was read, and
  // fatal() says why reading stops after it.
  bool next(RawHdu& hdu);

  // Why reading stopped early (empty at a clean end): one line naming the HDU and offset.
  const std::string& fatal() const { return fatal_; }
  // Non-fatal problems (bad cards, missing mandatory keywords), one line each.
  const std::vector<std::string>& problems() const { return problems_; }
  // Set when a limit stopped the walk, for a note in the tree.
  const std::string& limit_note() const { return limit_note_; }

 private:
  bool read_header(RawHdu& hdu);
  void locate_data(RawHdu& hdu);
  void problem(const RawHdu& hdu, std::string text);

  BlockSource& source_;
  ReaderLimits limits_;
  std::size_t next_index_ = 0;
  std::size_t total_cards_ = 0;
  bool stopped_ = false;
  std::string fatal_;
  std::string limit_note_;
  std::vector<std::string> problems_;
};

}  // namespace metafs::extract::fits
