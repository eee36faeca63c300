#include "hdf5_properties.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace metafs::extract::hdf5 {
namespace {

std::string describe_filter(H5Z_filter_t id, const std::vector<unsigned>& cd, const char* name) {
  auto param = [&](std::size_t i) { return i < cd.size() ? std::to_string(cd[i]) : "?"; };
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      return "deflate level=" + param(0);
    case H5Z_FILTER_SHUFFLE:
      return "shuffle";
    case H5Z_FILTER_FLETCHER32:
      return "fletcher32";
    case H5Z_FILTER_SZIP: {
      unsigned mask = cd.empty() ? 0 : cd[0];
      std::string coding = (mask & H5_SZIP_EC_OPTION_MASK) != 0   ? "ec"
                           : (mask & H5_SZIP_NN_OPTION_MASK) != 0 ? "nn"
                                                                  : "?";
      return "szip coding=" + coding + " pixels_per_block=" + param(1);
    }
    case H5Z_FILTER_NBIT:
      return "nbit";
    case H5Z_FILTER_SCALEOFFSET: {
      std::string kind = cd.empty()   ? "?"
                         : cd[0] == 0 ? "float_dscale"
                         : cd[0] == 1 ? "float_escale"
                                      : "int";
      return "scaleoffset scale_type=" + kind + " factor=" + param(1);
    }
    default: {
      std::string text = "filter id=" + std::to_string(id);
      if (name != nullptr && name[0] != '\0') text += " name=" + std::string(name);
      if (!cd.empty()) {
        text += " params=";
        for (std::size_t i = 0; i < cd.size(); ++i) {
          if (i != 0) text += ' ';
          text += std::to_string(cd[i]);
        }
      }
      return text;
    }
  }
}

}  // namespace

Dataspace describe_space(hid_t space) {
  Dataspace out;
  switch (H5Sget_simple_extent_type(space)) {
    case H5S_SCALAR:
      out.cls = Dataspace::Class::kScalar;
      return out;
    case H5S_NULL:
      out.cls = Dataspace::Class::kNull;
      return out;
    case H5S_SIMPLE:
      out.cls = Dataspace::Class::kSimple;
      break;
    default:
      return out;
  }
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > H5S_MAX_RANK) {
    out.cls = Dataspace::Class::kUnknown;
    return out;
  }
  std::array<hsize_t, H5S_MAX_RANK> dims{};
  std::array<hsize_t, H5S_MAX_RANK> max_dims{};
  if (H5Sget_simple_extent_dims(space, dims.data(), max_dims.data()) < 0) {
    out.cls = Dataspace::Class::kUnknown;
    return out;
  }
  for (int i = 0; i < rank; ++i) {
    auto k = static_cast<std::size_t>(i);
    out.dims.push_back(dims[k]);
    out.max_dims.push_back(max_dims[k] == H5S_UNLIMITED ? Dataspace::kUnlimited : max_dims[k]);
  }
  return out;
}

void read_storage_properties(hid_t dcpl, DatasetInfo& info) {
  switch (H5Pget_layout(dcpl)) {
    case H5D_COMPACT:
      info.layout = "compact";
      break;
    case H5D_CONTIGUOUS:
      info.layout = "contiguous";
      break;
    case H5D_CHUNKED: {
      info.layout = "chunked";
      std::array<hsize_t, H5S_MAX_RANK> dims{};
      int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims.data());
      for (int i = 0; i < rank && i < H5S_MAX_RANK; ++i) {
        info.chunks.push_back(dims[static_cast<std::size_t>(i)]);
      }
      break;
    }
    case H5D_VIRTUAL:
      info.layout = "virtual";
      break;
    default:
      info.layout = "unknown";
      break;
  }
  int filters = H5Pget_nfilters(dcpl);
  for (int i = 0; i < filters && i < 64; ++i) {
    unsigned flags = 0;
    std::size_t count = 32;
    std::vector<unsigned> cd(count);
    std::array<char, 256> name{};
    unsigned config = 0;
    H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &count, cd.data(),
                                     name.size(), name.data(), &config);
    if (id < 0) continue;
    cd.resize(std::min<std::size_t>(count, 32));
    info.filters.push_back(describe_filter(id, cd, name.data()));
  }
  H5D_fill_value_t state = H5D_FILL_VALUE_ERROR;
  if (H5Pfill_value_defined(dcpl, &state) >= 0) {
    switch (state) {
      case H5D_FILL_VALUE_UNDEFINED:
        info.fill_state = "undefined";
        break;
      case H5D_FILL_VALUE_DEFAULT:
        info.fill_state = "default";
        break;
      case H5D_FILL_VALUE_USER_DEFINED:
        info.fill_state = "user-defined";
        break;
      default:
        break;
    }
  }
  int external = H5Pget_external_count(dcpl);
  for (int i = 0; i < external && i < 1024; ++i) {
    std::array<char, 1024> name{};
    off_t offset = 0;
    hsize_t size = 0;
    if (H5Pget_external(dcpl, static_cast<unsigned>(i), name.size(), name.data(), &offset, &size) <
        0) {
      continue;
    }
    std::string text = std::string(name.data()) + " offset=" + std::to_string(offset) + " size=";
    text += size == H5F_UNLIMITED ? "unlimited" : std::to_string(size);
    info.external_files.push_back(std::move(text));
  }
}

}  // namespace metafs::extract::hdf5
