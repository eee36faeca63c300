// HDF5 floor: what metafs needs from the HDF5 library and no more. Open the file, visit
// every object once (links by name), and for each: its attributes (name, type, dataspace,
// value read in its native memory type, variable-length strings and sequences included; not
// references) and, for datasets, type, dataspace and creation properties (layout, filters).
#include <hdf5.h>

#include <cstring>
#include <string>
#include <vector>

#include "floor_common.hpp"

namespace {

std::size_t g_sink = 0;

herr_t read_attribute(hid_t object, const char* name, const H5A_info_t*, void*) {
  hid_t attribute = H5Aopen(object, name, H5P_DEFAULT);
  if (attribute < 0) return 0;
  hid_t type = H5Aget_type(attribute);
  hid_t space = H5Aget_space(attribute);
  hssize_t points = H5Sget_simple_extent_npoints(space);
  hid_t memory = H5Tget_native_type(type, H5T_DIR_ASCEND);
  if (memory >= 0 && points >= 0 && H5Tget_class(type) != H5T_REFERENCE) {
    std::vector<unsigned char> value(H5Tget_size(memory) * static_cast<size_t>(points) + 1);
    if (H5Aread(attribute, memory, value.data()) >= 0) {
      g_sink += value.size();
      // Variable-length strings and sequences, which metafs shows too: the library allocated
      // their bytes into the buffer's pointers.
      if (H5Tis_variable_str(type) > 0) {
        for (hssize_t i = 0; i < points; ++i) {
          const char* text = reinterpret_cast<char**>(value.data())[i];
          if (text != nullptr) g_sink += std::strlen(text);
        }
      }
      if (H5Tis_variable_str(type) > 0 || H5Tdetect_class(type, H5T_VLEN) > 0) {
        H5Dvlen_reclaim(memory, space, H5P_DEFAULT, value.data());
      }
    }
  }
  if (memory >= 0) H5Tclose(memory);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attribute);
  return 0;
}

herr_t visit(hid_t root, const char* name, const H5O_info_t* info, void*) {
  hid_t object = H5Oopen(root, name, H5P_DEFAULT);
  if (object < 0) return 0;
  hsize_t index = 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, read_attribute, nullptr);
  ssize_t comment = H5Oget_comment(object, nullptr, 0);  // shown as fields/.../%comment
  if (comment > 0) {
    std::string text(static_cast<std::size_t>(comment) + 1, '\0');
    g_sink += static_cast<std::size_t>(H5Oget_comment(object, text.data(), text.size()));
  }
  if (info->type == H5O_TYPE_DATASET) {
    hid_t type = H5Dget_type(object);
    hid_t space = H5Dget_space(object);
    hid_t plist = H5Dget_create_plist(object);
    g_sink += static_cast<std::size_t>(H5Pget_layout(plist)) +
              static_cast<std::size_t>(H5Pget_nfilters(plist));
    H5Pclose(plist);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Oclose(object);
  return 0;
}

bool read_file(const std::string& path) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return false;
  bool ok = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, visit, nullptr, H5O_INFO_BASIC) >= 0;
  H5Fclose(file);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  int status = metafs::floor::run("floor_hdf5", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
