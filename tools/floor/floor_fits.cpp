// FITS floor: what metafs needs from CFITSIO and no more. Open the file (CFITSIO inflates
// .gz), read every card of every HDU once, and for a tile-compressed image also its image
// header as funpack writes it (fits_img_decompress_header into a memory file, whose data unit
// is emptied before it closes), which metafs shows beside the stored table's cards.
#include <fitsio.h>

#include <cstdlib>

#include "floor_common.hpp"

namespace {

std::size_t g_sink = 0;

std::size_t image_header(fitsfile* compressed) {
  void* memory = nullptr;
  std::size_t size = 0;
  fitsfile* image = nullptr;
  int status = 0;
  if (fits_create_memfile(&image, &memory, &size, 2880, std::realloc, &status) != 0) return 0;
  std::size_t sum = 0;
  fits_img_decompress_header(compressed, image, &status);
  int keys = 0;
  fits_get_hdrspace(image, &keys, nullptr, &status);
  char card[FLEN_CARD];
  for (int k = 1; k <= keys && status == 0; ++k) {
    fits_read_record(image, k, card, &status);
    sum += card[0];
  }
  int no_axes = 0;
  status = 0;
  fits_update_key(image, TINT, "NAXIS", &no_axes, nullptr, &status);
  status = 0;
  fits_close_file(image, &status);
  std::free(memory);
  return sum;
}

bool read_file(const std::string& path) {
  fitsfile* file = nullptr;
  int status = 0;
  if (fits_open_file(&file, path.c_str(), READONLY, &status) != 0) return false;
  char card[FLEN_CARD];
  for (int hdu = 1; status == 0; ++hdu) {
    int keys = 0;
    int more = 0;
    if (fits_get_hdrspace(file, &keys, &more, &status) != 0) break;
    for (int k = 1; k <= keys && status == 0; ++k) {
      fits_read_record(file, k, card, &status);
      g_sink += card[0];
    }
    if (status == 0 && fits_is_compressed_image(file, &status)) g_sink += image_header(file);
    int type = 0;
    if (fits_movrel_hdu(file, 1, &type, &status) != 0) break;
  }
  bool ok = status == 0 || status == END_OF_FILE;
  status = 0;
  fits_close_file(file, &status);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int status = metafs::floor::run("floor_fits", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
