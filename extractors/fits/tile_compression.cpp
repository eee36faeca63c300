#include "fits/tile_compression.hpp"

#include <fitsio.h>

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

}  // namespace

std::vector<std::string> decompressed_image_header(const std::vector<std::string>& table_cards,
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
  std::vector<std::string> cards;
  char card[FLEN_CARD] = {};
  for (int i = 1; i <= count && status == 0; ++i) {
    fits_read_record(out.get(), i, card, &status);
    if (status == 0) cards.emplace_back(trim_right(card));
  }
  std::string reason = status != 0 ? cfitsio_reason("building the image header", status) : "";
  out.reset();
  output_owner.reset(output_memory);
  if (!reason.empty()) throw ExtractError(reason);
  return cards;
}

}  // namespace metafs::extract::fits
