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
std::string header_only_file(const std::vector<std::string>& table_cards) {
  std::string bytes;
  auto add_card = [&bytes](std::string_view card) {
    std::string padded(card.substr(0, kCardBytes));
    padded.resize(kCardBytes, ' ');
    bytes += padded;
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
  for (const std::string& card : table_cards) add_card(card);
  end_block();
  return bytes;
}

std::string_view keyword_of(std::string_view card) {
  return trim_right(card.substr(0, std::min<std::size_t>(8, card.size())));
}

bool is_structural(std::string_view keyword) {
  if (keyword == "BITPIX" || keyword == "NAXIS" || keyword == "PCOUNT" || keyword == "GCOUNT" ||
      keyword == "EXTEND")
    return true;
  if (keyword.size() <= 5 || keyword.substr(0, 5) != "NAXIS") return false;
  return keyword.substr(5).find_first_not_of("0123456789") == std::string_view::npos;
}

// CFITSIO copies the table's cards in order and writes XTENSION (or SIMPLE) only on reaching
// ZIMAGE, so cards before ZIMAGE end up first and funpack's output is not FITS. They go after
// the mandatory cards instead, where astropy shows them.
void mandatory_cards_first(std::vector<std::string>& cards) {
  auto first = std::find_if(cards.begin(), cards.end(), [](const std::string& card) {
    std::string_view keyword = keyword_of(card);
    return keyword == "XTENSION" || keyword == "SIMPLE";
  });
  if (first == cards.begin() || first == cards.end()) return;
  auto after = std::find_if(std::next(first), cards.end(), [](const std::string& card) {
    return !is_structural(keyword_of(card));
  });
  std::rotate(cards.begin(), first, after);
}

bool is_default_name(std::string_view card) {
  Card parsed = parse_card(card);
  return parsed.keyword == "EXTNAME" && parsed.value == "COMPRESSED_IMAGE";
}

// CFITSIO names an unnamed compressed image COMPRESSED_IMAGE; when the table also carries the
// image's own EXTNAME, that one is the image's name (astropy), not the first one.
void drop_default_name(std::vector<std::string>& cards) {
  std::size_t names = std::count_if(cards.begin(), cards.end(), [](const std::string& card) {
    return keyword_of(card) == "EXTNAME";
  });
  if (names < 2) return;
  auto it = std::find_if(cards.begin(), cards.end(), is_default_name);
  if (it != cards.end()) cards.erase(it);
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

ImageHeader decompressed_image_header(const std::vector<std::string>& table_cards,
                                      bool as_primary) {
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
  out.reset();
  output_owner.reset(output_memory);
  if (!reason.empty()) throw ExtractError(reason);
  mandatory_cards_first(header.cards);
  drop_default_name(header.cards);
  header.error = header_problem(header.cards);
  return header;
}

}  // namespace metafs::extract::fits
