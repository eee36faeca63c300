#include "fits/tile_compression.hpp"

#include <fitsio.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "extraction.hpp"
#include "fits/fits_card.hpp"

namespace metafs::extract::fits {
namespace {

// CFITSIO keeps its error-message stack in global state.
std::mutex& cfitsio_mutex() {
  static std::mutex mutex;
  return mutex;
}

struct FitsCloser {
  void operator()(fitsfile* file) const {
    int status = 0;
    fits_close_file(file, &status);
  }
};

struct BufferFree {
  void operator()(void* buffer) const { std::free(buffer); }
};

std::string cfitsio_reason(const char* step, int status) {
  char text[FLEN_STATUS] = {};
  fits_get_errstatus(status, text);
  char message[FLEN_ERRMSG] = {};
  std::string detail;
  while (fits_read_errmsg(message)) {
    if (detail.empty()) detail = message;
  }
  return std::string("tile-compressed image: ") + step + ": " + text +
         (detail.empty() ? "" : " (" + detail + ")");
}

// An empty primary HDU followed by the table's header: all CFITSIO needs to read the
// compression keywords. The data unit is left out, CFITSIO does not look at it here.
std::string header_only_file(const CardList& table_cards) {
  std::string bytes;
  bytes.reserve((table_cards.size() + 2 * kBlockBytes / kCardBytes) * kCardBytes);
  auto add_card = [&bytes](std::string_view card) {
    card = card.substr(0, kCardBytes);
    bytes += card;
    bytes.append(kCardBytes - card.size(), ' ');
  };
  auto end_block = [&bytes, &add_card] {
    add_card("END");
    bytes.resize((bytes.size() + kBlockBytes - 1) / kBlockBytes * kBlockBytes, ' ');
  };
  add_card("SIMPLE  =                    T");
  add_card("BITPIX  =                    8");
  add_card("NAXIS   =                    0");
  add_card("EXTEND  =                    T");
  end_block();
  for (std::string_view card : table_cards) add_card(card);
  end_block();
  return bytes;
}

std::string_view keyword_of(std::string_view card) {
  return trim_right(card.substr(0, std::min<std::size_t>(8, card.size())));
}

// CFITSIO copies the table's cards in order and writes XTENSION (or SIMPLE) only on reaching
// ZIMAGE, so cards before ZIMAGE (BSCALE, or ZBITPIX's own BITPIX) can end up before it and
// funpack's output is not FITS. Then the mandatory cards go first in their standard order,
// the others after them in CFITSIO's order, as astropy shows the image header. A header that
// already starts right is left as funpack writes it.
void mandatory_cards_first(std::vector<std::string>& cards) {
  if (cards.empty()) return;
  std::string_view start = keyword_of(cards.front());
  if (start == "XTENSION" || start == "SIMPLE") return;
  std::vector<std::string> order = {"XTENSION", "SIMPLE", "BITPIX", "NAXIS"};
  for (int axis = 1; axis <= 999; ++axis) {
    std::string key = "NAXIS" + std::to_string(axis);
    bool present = std::any_of(cards.begin(), cards.end(),
                               [&](const std::string& card) { return keyword_of(card) == key; });
    if (!present) break;
    order.push_back(std::move(key));
  }
  order.emplace_back("PCOUNT");
  order.emplace_back("GCOUNT");
  std::vector<std::string> sorted;
  for (const std::string& key : order) {
    auto it = std::find_if(cards.begin(), cards.end(),
                           [&](const std::string& card) { return keyword_of(card) == key; });
    if (it == cards.end()) continue;
    sorted.push_back(std::move(*it));
    cards.erase(it);
  }
  if (!sorted.empty() && keyword_of(sorted.front()) == "SIMPLE") {
    // A primary HDU has no PCOUNT/GCOUNT to keep in the mandatory block.
    std::erase_if(sorted, [&](const std::string& card) {
      std::string_view key = keyword_of(card);
      bool extra = key == "PCOUNT" || key == "GCOUNT";
      if (extra) cards.push_back(card);
      return extra;
    });
  }
  sorted.insert(sorted.end(), std::make_move_iterator(cards.begin()),
                std::make_move_iterator(cards.end()));
  cards = std::move(sorted);
}

std::string name_of(std::string_view card) {
  Card parsed = parse_card(card);
  return parsed.keyword == "EXTNAME" ? parsed.value : std::string();
}

// The table's EXTNAME = 'COMPRESSED_IMAGE' is CFITSIO's default name for an unnamed image; a
// table that also carries the image's own EXTNAME names the image by that one (astropy).
// CFITSIO keeps the default one or drops both depending on where they stand, so the image
// header gets the table's own EXTNAME card back, after the card it follows in the table.
void image_name(const CardList& table_cards, std::vector<std::string>& cards) {
  constexpr std::string_view kDefault = "COMPRESSED_IMAGE";
  auto own = std::find_if(table_cards.begin(), table_cards.end(), [&](std::string_view card) {
    std::string name = name_of(card);
    return !name.empty() && name != kDefault;
  });
  bool has_default = std::any_of(table_cards.begin(), table_cards.end(),
                                 [&](std::string_view card) { return name_of(card) == kDefault; });
  if (own == table_cards.end() || !has_default) return;
  std::erase_if(cards, [&](const std::string& card) { return name_of(card) == kDefault; });
  std::string wanted = name_of(*own);
  if (std::any_of(cards.begin(), cards.end(),
                  [&](const std::string& card) { return name_of(card) == wanted; }))
    return;
  auto at = cards.end();
  for (auto before = own; before != table_cards.begin() && at == cards.end();) {
    --before;
    std::string_view text = trim_right(*before);
    at = std::find_if(cards.begin(), cards.end(),
                      [&](const std::string& card) { return trim_right(card) == text; });
  }
  cards.insert(at == cards.end() ? cards.end() : std::next(at), std::string(trim_right(*own)));
}

// CFITSIO copies the Z keywords without checking them; funpack fails when it reads the image
// header back (an invalid ZBITPIX, a missing ZNAXISn). The caller holds the CFITSIO lock.
std::string header_problem(const std::vector<std::string>& image_cards) {
  bool primary = !image_cards.empty() && keyword_of(image_cards.front()) == "SIMPLE";
  // An extension needs the empty primary HDU before it (the first block of an empty table file).
  std::string input = primary ? std::string() : header_only_file({}).substr(0, kBlockBytes);
  for (const std::string& card : image_cards) {
    std::string padded = card.substr(0, kCardBytes);
    padded.resize(kCardBytes, ' ');
    input += padded;
  }
  input += std::string("END").append(kCardBytes - 3, ' ');
  input.resize((input.size() + kBlockBytes - 1) / kBlockBytes * kBlockBytes, ' ');
  int status = 0;
  void* memory = input.data();
  std::size_t size = input.size();
  fitsfile* raw = nullptr;
  fits_open_memfile(&raw, "image", READONLY, &memory, &size, 0, nullptr, &status);
  std::unique_ptr<fitsfile, FitsCloser> file(raw);
  if (status == 0 && !primary) fits_movabs_hdu(file.get(), 2, nullptr, &status);
  return status == 0 ? std::string() : cfitsio_reason("the image header is invalid", status);
}

}  // namespace

ImageHeader decompressed_image_header(const CardList& table_cards, bool as_primary) {
  std::string input = header_only_file(table_cards);
  std::lock_guard lock(cfitsio_mutex());
  fits_clear_errmsg();
  int status = 0;
  void* input_memory = input.data();
  std::size_t input_size = input.size();
  fitsfile* raw = nullptr;
  fits_open_memfile(&raw, "compressed", READONLY, &input_memory, &input_size, 0, nullptr, &status);
  std::unique_ptr<fitsfile, FitsCloser> in(raw);
  if (status != 0) throw ExtractError(cfitsio_reason("reading the table header", status));
  fits_movabs_hdu(in.get(), 2, nullptr, &status);
  if (status != 0) throw ExtractError(cfitsio_reason("reading the table header", status));

  void* output_memory = nullptr;
  std::size_t output_size = 0;
  raw = nullptr;
  // Declared before `out` so the buffer outlives the CFITSIO handle that writes into it.
  std::unique_ptr<void, BufferFree> output_owner;
  fits_create_memfile(&raw, &output_memory, &output_size, kBlockBytes, std::realloc, &status);
  std::unique_ptr<fitsfile, FitsCloser> out(raw);
  if (status != 0) throw ExtractError(cfitsio_reason("creating the image header", status));
  if (!as_primary) {
    // A non-empty primary makes CFITSIO write the image as an IMAGE extension, as funpack does
    // for every compressed image but the first one after an empty primary array.
    long one = 1;
    fits_create_img(out.get(), BYTE_IMG, 1, &one, &status);
  }
  fits_img_decompress_header(in.get(), out.get(), &status);
  int count = 0;
  fits_get_hdrspace(out.get(), &count, nullptr, &status);
  ImageHeader header;
  char card[FLEN_CARD] = {};
  for (int i = 1; i <= count && status == 0; ++i) {
    fits_read_record(out.get(), i, card, &status);
    if (status == 0) header.cards.emplace_back(trim_right(card));
  }
  std::string reason = status != 0 ? cfitsio_reason("building the image header", status) : "";
  // The image's data unit is never written: closing the handle would size the memory file to
  // the whole decompressed image, as its header declares it, and fill it with zeros (a 3 KB
  // file declaring 30000 x 30000 doubles took 16.7 s and 7 GB; the corpus's small images a
  // third of FITS extraction). With NAXIS = 0 the unit is empty.
  int no_axes = 0;
  int ignored = 0;
  fits_update_key(out.get(), TINT, "NAXIS", &no_axes, nullptr, &ignored);
  out.reset();  // CFITSIO's messages stay: header_problem's reason shows decompression's
  output_owner.reset(output_memory);
  if (!reason.empty()) throw ExtractError(reason);
  mandatory_cards_first(header.cards);
  image_name(table_cards, header.cards);
  header.error = header_problem(header.cards);
  return header;
}

}  // namespace metafs::extract::fits
